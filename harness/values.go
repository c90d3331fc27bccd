package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/nemesis"
)

// The parts of a test are values: a Workload, a Nemesis and checkers
// (checkers.Checker). The bundled ones are one line each
// (workloads.KV(), nemesis.New(nemesis.Config{...}), checkers.New); the
// CLI and the suites turn names into them with workloads.New,
// nemesis.ParseSpec and checkers.NewAll.

// Workload is what the clients do in a run, and which checkers judge it.
//
// A workload that depends on what is known only as the run starts (the
// model, whether the system has cas, the number of workers and nodes, the
// seed) may also have a method
//
//	ForRun(Env) (Workload, error)
//
// which Run calls first: it runs the workload returned, so one value can
// describe the workload of many runs (the bundled workloads do this). A
// workload may also have a method Meta() map[string]any, whose keys go
// into test.json (the bundled ones record sticky, key_ops, key_unknown).
type Workload interface {
	// Name names the workload in test.json and the default run name.
	Name() string
	// Checkers judge the history, unless Test.Checkers says otherwise.
	Checkers() []checkers.Checker
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

// CheckerFitter is a Workload that says which of the bundled checkers
// (checkers.Names) can judge its histories, as the bundled workloads do.
// Run refuses, before it starts anything, a bundled checker outside that
// list, whether Test.Checkers or harnesstest's Expect named it: a
// linearizable checker would judge a set's adds and reads as register
// ops, and find anomalies that are not there. Checkers of the user's own
// (names not in checkers.Names) are not judged by this.
type CheckerFitter interface {
	FitCheckers() []string
}

// checkFit returns an error naming the first of cs that is a bundled
// checker wl's histories do not fit (nil if wl does not say).
func checkFit(wl Workload, cs []checkers.Checker) error {
	f, ok := wl.(CheckerFitter)
	if !ok {
		return nil
	}
	fit := f.FitCheckers()
	for _, c := range cs {
		if n := c.Name(); slices.Contains(checkers.Names, n) && !slices.Contains(fit, n) {
			return fmt.Errorf("harness: checker %q cannot judge workload %s's histories (it would judge its ops as something they are not): the checkers that fit %s are %s; drop %q from Expect or Test.Checkers, or use a workload it fits",
				n, wl.Name(), wl.Name(), strings.Join(fit, ", "), n)
		}
	}
	return nil
}

// Env is what a run knows only as it starts, for a workload's or a
// nemesis's ForRun.
type Env struct {
	// Model is Test.Model, or else the model the System promises ("" if
	// neither says).
	Model string
	// CAS says whether the System supports cas (Promise.CAS).
	CAS bool
	// Workers is Test.Concurrency, Nodes the cluster size.
	Workers, Nodes int
	Seed           int64
}

// Nemesis injects faults during the main phase and undoes them all when
// asked to heal, recording each as a nemesis event (process -1, f
// start-<fault> / stop-<fault>) so that reports can show it. Like a
// Workload, it may have a method ForRun(Env) (Nemesis, error) that Run
// calls first. The bundled *nemesis.Nemesis is seeded so too: Run runs
// its ForSeed(Test.Seed).
type Nemesis interface {
	// Name names the nemesis in test.json and the default run name.
	Name() string
	// Run injects faults until ctx ends; an error stops the run.
	Run(ctx context.Context, t nemesis.Target, rec nemesis.Recorder) error
	// Heal undoes every fault still active.
	Heal(ctx context.Context, t nemesis.Target, rec nemesis.Recorder) error
	// Active describes the faults on now, for progress lines ("" none).
	Active() string
}

// workloadForRun is w as it runs in env.
func workloadForRun(w Workload, env Env) (Workload, error) {
	if f, ok := w.(interface{ ForRun(Env) (Workload, error) }); ok {
		return f.ForRun(env)
	}
	return w, nil
}

// nemesisForRun is n as it runs in env: nil injects nothing.
func nemesisForRun(n Nemesis, env Env) (Nemesis, error) {
	switch n := n.(type) {
	case nil:
		return nemesis.New(nemesis.Config{}), nil
	case *nemesis.Nemesis:
		return n.ForSeed(env.Seed)
	case interface{ ForRun(Env) (Nemesis, error) }:
		return n.ForRun(env)
	}
	return n, nil
}

// fitNemesis fits the bundled nemesis to what t's system and backend can
// do, before anything starts: a fault they can never apply would
// otherwise end the run when the schedule first draws it, seconds in.
// The clock fault needs a ClockSkewer. The packet fault with no modes
// named draws only the modes the backend can apply (PacketModer); modes
// named that it cannot apply are refused. Drawing from the supported
// modes keeps the schedule of every seed that drew only those: they lead
// PacketModes (delay, loss on the local backend; loss alone on a kernel
// without netem), and a draw among the first 2 or 1 of 4 takes the same
// random number and gives the same mode when that mode was drawn before
// (math/rand's Intn masks the low bits for a power of two).
func fitNemesis(t *Test) error {
	cfg, ok := bundledNemesis(t.Nemesis)
	if !ok || cfg.Validate() != nil { // nemesisForRun says what is wrong
		return nil
	}
	if slices.Contains(cfg.Faults, "clock") {
		if _, ok := t.System.(ClockSkewer); !ok {
			return fmt.Errorf("nemesis: the clock fault needs a system whose nodes take a clock offset, and %s does not implement harness.ClockSkewer: drop clock from the faults (\"all\" includes it) or implement SetClockOffset", t.System.Name())
		}
	}
	pm, ok := t.Backend.(PacketModer)
	if !ok || !slices.Contains(cfg.Faults, "packet") {
		return nil
	}
	can := pm.PacketModes()
	if can == nil {
		return nil
	}
	if len(cfg.Packets) == 0 {
		if len(can) == 0 {
			return fmt.Errorf("nemesis: the %s backend can apply no packet fault here: drop packet from the faults", t.Backend.Name())
		}
		cfg.Packets = slices.Clone(can)
		t.Nemesis = nemesis.New(cfg)
		return nil
	}
	var cannot []string
	for _, m := range cfg.Packets {
		if !slices.Contains(can, m) {
			cannot = append(cannot, m)
		}
	}
	if len(cannot) > 0 {
		return fmt.Errorf("nemesis: the %s backend cannot apply packet faults %s here (it can apply %s): name only those, or none to draw from all it can apply",
			t.Backend.Name(), strings.Join(cannot, ", "), strings.Join(can, ", "))
	}
	return nil
}

// bundledNemesis is the configuration of the bundled nemesis, which the
// harness reads for test.json, Shorten and PickSeed (ok false: nil or a
// nemesis of the user's own).
func bundledNemesis(n Nemesis) (nemesis.Config, bool) {
	if b, ok := n.(*nemesis.Nemesis); ok && b != nil {
		return b.Config(), true
	}
	return nemesis.Config{}, false
}

// nemesisNames is what test.json says of the nemesis: the bundled one's
// faults, or another's name.
func nemesisNames(n Nemesis) []string {
	if cfg, ok := bundledNemesis(n); ok {
		return slices.Clone(cfg.Faults)
	}
	if n == nil {
		return nil
	}
	return []string{n.Name()}
}

// nemesisName names the nemesis in the default run name.
func nemesisName(n Nemesis) string {
	if n == nil {
		return "none"
	}
	return n.Name()
}

// needsLazyFS says whether the nemesis needs the nodes' data on lazyfs.
func needsLazyFS(n Nemesis) bool {
	cfg, _ := bundledNemesis(n)
	return slices.ContainsFunc(cfg.Faults, func(f string) bool { return slices.Contains(nemesis.NeedsLazyFS, f) })
}

func checkerNames(cs []checkers.Checker) []string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name()
	}
	return names
}
