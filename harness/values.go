package harness

import (
	"context"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/nemesis"
)

// The parts of a test a user may supply as values of their own, in place
// of the bundled ones a Test names by string (Test.CustomWorkload,
// Test.CustomNemesis, Test.CustomCheckers). The bundled parts are values
// of these types too: *workloads.Workload and *nemesis.Nemesis.

// Workload is what the clients do in a run.
type Workload interface {
	// Generator is the main phase's generator, unbounded (Run bounds it
	// by TimeLimit and Rate).
	Generator() generator.Generator
	// FinalReads is the generator of the reads after the heal: every key
	// the main phase touched, on every node (ops with Node and Final).
	FinalReads() generator.Generator
	// HomeNode is the node index worker starts on.
	HomeNode(worker int) int
	// Keys are the keys touched so far (they size the final reads' time
	// limit).
	Keys() []string
}

// Nemesis injects faults during the main phase and undoes them all when
// asked to heal, recording each as a nemesis event (process -1, f
// start-<fault> / stop-<fault>) so that reports can show it.
type Nemesis interface {
	// Run injects faults until ctx ends; an error stops the run.
	Run(ctx context.Context, t nemesis.Target, rec nemesis.Recorder) error
	// Heal undoes every fault still active.
	Heal(ctx context.Context, t nemesis.Target, rec nemesis.Recorder) error
	// Active describes the faults on now, for progress lines ("" none).
	Active() string
}
