package pbkv_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/examples/pbkv"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/systemtest"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

func system(t *testing.T, staleReads bool) *pbkv.System {
	return &pbkv.System{Bin: systemtest.BuildStatic(t, "./node"), StaleReads: staleReads}
}

// pbkv does what faultline needs of a system under test.
func TestConformance(t *testing.T) {
	// No Backend: the local backend (node processes: fast, runs anywhere),
	// or the one FAULTLINE_BACKEND names (docker), as in harnesstest.Run.
	systemtest.Run(t, systemtest.Config{System: system(t, false)})
}

// The test a system author writes: clients on every node, nodes (the
// primary too) partitioned, killed and paused, a check of the model pbkv
// promises (linearizable).
func test(t *testing.T, sys harness.System) harness.Test {
	return harness.Test{
		System:   sys, // Backend nil: local, or $FAULTLINE_BACKEND
		Workload: workloads.Register(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition", "kill", "pause"}, Interval: 2 * time.Second}),
		Concurrency: 6, TimeLimit: 8 * time.Second, QuietPeriod: time.Second, OpTimeout: 2 * time.Second,
	}
}

// Without the bug, pbkv is linearizable: all reads and writes go through
// the primary.
func TestLinearizable(t *testing.T) {
	harnesstest.Run(t, test(t, system(t, false)), harness.Expect{"linearizable": checkers.Valid})
}

// With --stale-reads, backups answer reads from their lagging copy: the
// linearizable checker must find a read that saw an overwritten value.
func TestStaleReadsCaught(t *testing.T) {
	res := harnesstest.Run(t, test(t, system(t, true)), harness.Expect{"linearizable": checkers.Invalid})
	for _, r := range res.Summary.Results {
		if r.Checker == "linearizable" {
			if len(r.Anomalies) == 0 || r.Anomalies[0].Name != "nonlinearizable" {
				t.Fatalf("want a nonlinearizable anomaly, got %+v", r.Anomalies)
			}
			t.Logf("caught: %s", harnesstest.AnomalyCounts(r))
		}
	}
}
