package suites

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reftest"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// Every deliberate fault of the store must be caught by the checker that
// should catch it, reliably (README.md has the measured N/20).

// partitionFirst accepts a schedule whose first step starts a partition.
func partitionFirst(i int, st nemesis.Step) bool {
	return i > 0 || (st.Start && st.Fault == "partition")
}

func TestStaleReadsCaughtByLinearizable(t *testing.T) {
	run(t, reftest.Case{
		Mode: "strong", Test: harness.Test{
			Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Faults: []string{"stale-reads"},
		Expect: harness.Expect{"linearizable": checkers.Invalid},
	}, partitionFirst)
}

// killAllFirst accepts a schedule whose first step kills every node: the
// writes acknowledged in the last moments before it, and the copies the
// peers received, were all still in memory, so they are lost everywhere.
// (A single node's kill loses only what no peer had received yet.)
func killAllFirst(i int, st nemesis.Step) bool {
	return i > 0 || (st.Start && st.Fault == "kill" && st.Mode == "all")
}

func TestAckBeforeFsyncCaughtBySet(t *testing.T) {
	run(t, reftest.Case{
		Mode: "causal", Test: harness.Test{
			Workload: workloads.Set(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"kill"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Faults: []string{"ack-before-fsync"},
		Expect: harness.Expect{"set": checkers.Invalid},
	}, killAllFirst)
}

func TestSkipDepsCaughtByCausal(t *testing.T) {
	run(t, reftest.Case{
		Mode: "causal", Test: harness.Test{Workload: workloads.KV(), TimeLimit: timeLimit},
		Faults: []string{"skip-deps"},
		Expect: harness.Expect{"causal": checkers.Invalid},
	}, nil)
}

// skewedAndIsolated accepts a schedule that first sets one node's clock
// back by a second or more, then cuts that node off (the isolated side of
// the partition is nodes[0] in these topologies), both for at least 3 s
// of the main phase (tl): the node stamps its writes with its own, late
// clock, and hears no later timestamps that would move its hybrid clock
// forward. (Waits are drawn in [interval/2, 3·interval/2): with the first
// within tl/3 and interval tl/2.5, the second step always falls within
// tl, so the condition sees it.)
func skewedAndIsolated(tl time.Duration) func(int, nemesis.Step) bool {
	var victim string
	var at time.Duration
	return func(i int, st nemesis.Step) bool {
		at += st.Wait
		switch i {
		case 0:
			at = st.Wait
			if !st.Start || st.Fault != "clock" || st.Mode != "bump" || st.Offset > -time.Second || at > tl/3 {
				return false
			}
			victim = st.Nodes[0]
			return true
		case 1:
			isolates := map[string]bool{"one": true, "halves": true, "minority-third": true, "one-way": true, "isolate-leader": true}
			return st.Start && st.Fault == "partition" && isolates[st.Mode] && st.Nodes[0] == victim && at <= tl-3*time.Second
		case 2:
			return st.Wait >= 3*time.Second
		}
		return true
	}
}

// Eventual mode's last-writer-wins on wall clocks loses acknowledged
// updates when a node's clock is behind: its writes lose to writes that
// other nodes acknowledged earlier in real time. The history still
// converges (eventual valid); the loss shows in the final state.
func TestEventualLWWLosesUpdatesUnderClockSkew(t *testing.T) {
	test := harness.Test{
		Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"clock", "partition"}, Interval: timeLimit * 2 / 5}), TimeLimit: timeLimit,
	}
	tl := test.TimeLimit
	if testing.Short() {
		tl = harness.Shorten(test).TimeLimit
	}
	res := run(t, reftest.Case{Mode: "eventual", Test: test, Expect: harness.Expect{"eventual": checkers.Valid}}, skewedAndIsolated(tl))
	lost := lostUpdatesIn(t, res.Dir)
	require.NotEmpty(t, lost, "no acknowledged update was lost (run directory %s)", res.Dir)
	t.Logf("%d acknowledged updates lost, e.g. %s", len(lost), lost[0])
}

// The control: the same partition without the skew loses nothing, so the
// loss above is the clock's doing.
func TestEventualLWWKeepsUpdatesWithoutSkew(t *testing.T) {
	res := run(t, reftest.Case{
		Mode: "eventual", Test: harness.Test{
			Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition"}, Interval: interval}), TimeLimit: timeLimit,
		},
		Expect: harness.Expect{"eventual": checkers.Valid},
	}, partitionFirst)
	lost := lostUpdatesIn(t, res.Dir)
	require.Empty(t, lost, "acknowledged updates lost without clock skew (run directory %s)", res.Dir)
}
