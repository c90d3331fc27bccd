package suites

import (
	"slices"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reftest"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// Each mode keeps its model's promises under every nemesis, and breaks the
// stronger models' in the way its design predicts.

// nemeses is the full matrix's nemesis column; -short runs shortNemeses.
var (
	nemeses      = [][]string{{"partition"}, {"kill"}, {"pause"}, {"clock"}, {"packet"}, {"partition", "kill", "pause", "clock", "packet"}}
	shortNemeses = [][]string{{"partition", "kill", "pause", "clock", "packet"}}
)

func nemesisMatrix() [][]string {
	if testing.Short() {
		return shortNemeses
	}
	return nemeses
}

func nemesisName(n []string) string {
	if len(n) == 5 {
		return "all"
	}
	return n[0]
}

// Strong mode is linearizable under every nemesis (and so causal+ too).
func TestStrongLinearizable(t *testing.T) {
	for _, nem := range nemesisMatrix() {
		t.Run(nemesisName(nem), func(t *testing.T) {
			var b harness.Backend
			if slices.Contains(nem, "kill") {
				b = strongKillBackend(t)
			}
			run(t, reftest.Case{
				Mode: "strong", Test: harness.Test{
					Backend: b, Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: nem, Interval: interval}), TimeLimit: timeLimit,
				},
				Expect: harness.Expect{"linearizable": checkers.Valid, "causal+": checkers.Valid},
			}, nil)
		})
	}
}

// Causal mode is causal+ under every nemesis, with clients that switch
// nodes carrying their causal tokens.
func TestCausalIsCausalPlus(t *testing.T) {
	for _, nem := range nemesisMatrix() {
		t.Run(nemesisName(nem), func(t *testing.T) {
			run(t, reftest.Case{
				Mode: "causal", Test: harness.Test{
					Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: nem, Interval: interval}), TimeLimit: timeLimit,
				},
				Expect: harness.Expect{"causal+": checkers.Valid},
			}, nil)
		})
	}
}

// Causal mode is not linearizable under a partition: an isolated node
// serves reads locally, missing writes acknowledged on the other side.
func TestCausalNotLinearizableUnderPartition(t *testing.T) {
	run(t, reftest.Case{
		Mode: "causal", Test: harness.Test{
			Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Expect: harness.Expect{"linearizable": checkers.Invalid, "causal+": checkers.Valid},
	}, partitionFirst)
}

// Eventual mode converges once the faults heal, under every nemesis.
func TestEventualConverges(t *testing.T) {
	for _, nem := range nemesisMatrix() {
		t.Run(nemesisName(nem), func(t *testing.T) {
			run(t, reftest.Case{
				Mode: "eventual", Test: harness.Test{
					Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: nem, Interval: interval}), TimeLimit: timeLimit,
				},
				Expect: harness.Expect{"eventual": checkers.Valid},
			}, nil)
		})
	}
}

// Eventual mode is not causal under a partition when clients switch
// nodes: a client that moves to the other side misses its own writes.
func TestEventualNotCausalUnderPartition(t *testing.T) {
	run(t, reftest.Case{
		Mode: "eventual", Test: harness.Test{
			Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Expect: harness.Expect{"causal": checkers.Invalid, "eventual": checkers.Valid},
	}, partitionFirst)
}
