package pbkv_test

import (
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/examples/pbkv"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/local"
	"github.com/faultline/faultline/harness/systemtest"
)

func system(t *testing.T, staleReads bool) *pbkv.System {
	return &pbkv.System{Bin: systemtest.BuildStatic(t, "./node"), StaleReads: staleReads}
}

// pbkv does what faultline needs of a system under test.
func TestConformance(t *testing.T) {
	systemtest.Run(t, systemtest.Config{System: system(t, false)})
}

// The test a system author writes: clients on every node, the primary
// killed and paused, a check of the model pbkv promises (linearizable).
func test(sys harness.System) harness.Test {
	return harness.Test{
		System: sys, Backend: local.New(local.Options{}),
		Workload: "register", Nemesis: []string{"kill", "pause"}, NemesisInterval: 2 * time.Second,
		Concurrency: 6, TimeLimit: 8 * time.Second, QuietPeriod: time.Second, OpTimeout: 2 * time.Second,
	}
}

// Without the bug, pbkv is linearizable: all reads and writes go through
// the primary.
func TestLinearizable(t *testing.T) {
	harnesstest.Run(t, test(system(t, false)), harness.Expect{"linearizable": checkers.Valid})
}

// With --stale-reads, backups answer reads from their lagging copy: the
// linearizable checker must find a read that saw an overwritten value.
func TestStaleReadsCaught(t *testing.T) {
	res := harnesstest.Run(t, test(system(t, true)), harness.Expect{"linearizable": checkers.Invalid})
	for _, r := range res.Summary.Results {
		if r.Checker == "linearizable" {
			if len(r.Anomalies) == 0 || r.Anomalies[0].Name != "nonlinearizable" {
				t.Fatalf("want a nonlinearizable anomaly, got %+v", r.Anomalies)
			}
			t.Logf("caught: %s", harnesstest.AnomalyCounts(r))
		}
	}
}
