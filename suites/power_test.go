package suites

import (
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reftest"
	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// The power fault needs every node's data directory on lazyfs, a FUSE
// filesystem: these cases skip where FUSE cannot be mounted.
func needFUSE(t *testing.T) {
	t.Helper()
	if err := lazyfs.Available(); err != nil {
		t.Skipf("the power fault needs FUSE: %v", err)
	}
}

// powerAllFirst accepts a schedule whose first step cuts the power of
// every node: nothing is left anywhere to copy lost writes back from.
func powerAllFirst(i int, st nemesis.Step) bool {
	return i > 0 || (st.Start && st.Fault == "power" && st.Mode == "all")
}

// lazy-fsync acknowledges writes that are in the page cache only: a power
// loss of the whole cluster takes them back everywhere.
func TestLazyFsyncCaughtByPowerLoss(t *testing.T) {
	needFUSE(t)
	run(t, reftest.Case{
		Mode: "eventual", Test: harness.Test{
			Workload: workloads.Set(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"power"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Faults: []string{"lazy-fsync"},
		Expect: harness.Expect{"set": checkers.Invalid},
	}, powerAllFirst)
}

// The point of the power fault: kill -9 of every node cannot see
// lazy-fsync, since the page cache survives a process kill.
func TestLazyFsyncInvisibleToKill(t *testing.T) {
	run(t, reftest.Case{
		Mode: "eventual", Test: harness.Test{
			Workload: workloads.Set(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"kill"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Faults: []string{"lazy-fsync"},
		Expect: harness.Expect{"set": checkers.Valid},
	}, killAllFirst)
}

// Without a fault, no mode loses an acknowledged write when the whole
// cluster loses power: each fsyncs (journal, Raft log, and the
// directories it creates) before it acknowledges.
func TestNoLossUnderPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the modes' power-loss runs are in the full suite")
	}
	needFUSE(t)
	for _, mode := range []string{"strong", "causal", "eventual"} {
		t.Run(mode, func(t *testing.T) {
			run(t, reftest.Case{
				Mode: mode, Test: harness.Test{
					Workload: workloads.Set(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"power"}, Interval: interval}), TimeLimit: timeLimit,
				},
				Expect: harness.Expect{"set": checkers.Valid},
			}, powerAllFirst)
		})
	}
}
