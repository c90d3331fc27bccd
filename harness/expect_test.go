package harness_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

func TestPrepareT(t *testing.T) {
	nem := nemesis.New(nemesis.Config{Faults: []string{"kill"}, Interval: 6 * time.Second, Seed: 9})
	base := harness.Test{Model: "causal+", System: noSystem{}, Workload: workloads.KV(), Nemesis: nem, TimeLimit: 30 * time.Second}
	got := harness.PrepareT(base, harness.Expect{"linearizable": checkers.Invalid, "causal": checkers.Valid}, false)
	assert.Equal(t, int64(1), got.Seed, "seed 0 becomes 1: suites are reproducible")
	assert.Equal(t, []string{"causal+", "causal", "linearizable"}, names(got.Checkers), "the workload's checker, then the expected ones")
	assert.Equal(t, 30*time.Second, got.TimeLimit)
	assert.Same(t, nem, got.Nemesis)

	short := harness.PrepareT(base, harness.Expect{"causal+": checkers.Valid}, true)
	assert.Equal(t, []string{"causal+"}, names(short.Checkers))
	assert.Equal(t, 10*time.Second, short.TimeLimit)
	shortNem := short.Nemesis.(*nemesis.Nemesis).Config()
	assert.Equal(t, 2*time.Second, shortNem.Interval)
	assert.Equal(t, []string{"kill"}, shortNem.Faults, "the nemesis keeps its faults")
	assert.Equal(t, int64(9), shortNem.Seed, "and its seed")
	assert.Equal(t, 6*time.Second, nem.Config().Interval, "the test's own nemesis value is left alone")
	assert.Equal(t, 2*time.Second, short.QuietPeriod)

	own := harness.PrepareT(harness.Test{System: noSystem{}, Workload: workloads.Set(), Checkers: []checkers.Checker{agree{}}},
		harness.Expect{"final-reads-agree": checkers.Valid, "set": checkers.Valid}, false)
	assert.Equal(t, []string{"final-reads-agree", "set"}, names(own.Checkers), "Test.Checkers in place of the workload's, then the expected ones")

	tiny := harness.Shorten(harness.Test{TimeLimit: 3 * time.Second, Nemesis: nemesis.New(nemesis.Config{Interval: 500 * time.Millisecond})})
	assert.Equal(t, 3*time.Second, tiny.TimeLimit, "never longer than asked")
	assert.Equal(t, 500*time.Millisecond, tiny.Nemesis.(*nemesis.Nemesis).Config().Interval)
	dflt := harness.Shorten(harness.Test{Nemesis: nemesis.New(nemesis.Config{})})
	assert.Equal(t, 10*time.Second, dflt.TimeLimit, "the 30s default, scaled")
	assert.Equal(t, 10*time.Second/3, dflt.Nemesis.(*nemesis.Nemesis).Config().Interval, "the 10s default, scaled")
}

func names(cs []checkers.Checker) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name())
	}
	return out
}

func TestPickSeed(t *testing.T) {
	cfg := nemesis.Config{Faults: []string{"packet", "partition"}, Interval: time.Second}
	test := harness.Test{Nemesis: nemesis.New(cfg), TimeLimit: 20 * time.Second}
	ok := harness.SupportedBy("local", true)
	seed, err := harness.PickSeed(test, 1, ok)
	require.NoError(t, err)
	// Replay the schedule: every step within the time limit is one the
	// local backend can apply, and some seed before it was not.
	check := func(seed int64) (good bool, packets int) {
		cfg.Seed = seed
		s := nemesis.NewSchedule(cfg, []string{"n1", "n2", "n3"})
		var at time.Duration
		for {
			st := s.Next()
			if at += st.Wait; at >= test.TimeLimit {
				return true, packets
			}
			if st.Start && st.Fault == "packet" {
				packets++
				if st.Mode != "delay" && st.Mode != "loss" {
					return false, packets
				}
			}
		}
	}
	good, packets := check(seed)
	assert.True(t, good)
	assert.Positive(t, packets, "the packet fault is still drawn, in a mode the backend applies")
	for s := int64(1); s < seed; s++ {
		g, _ := check(s)
		assert.False(t, g, "seed %d was good too", s)
	}

	first := 0
	_, err = harness.PickSeed(test, 1, func(i int, st nemesis.Step) bool { first++; return false })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no seed")
	assert.Equal(t, 10000, first, "each seed's first step was offered")

	any, err := harness.PickSeed(harness.Test{TimeLimit: 20 * time.Second}, 5, func(int, nemesis.Step) bool { return false })
	require.NoError(t, err)
	assert.Equal(t, int64(5), any, "no nemesis: the first seed")
	_, err = harness.PickSeed(harness.Test{Nemesis: nemesis.New(nemesis.Config{Faults: []string{"kill"}, Seed: 3}), TimeLimit: 20 * time.Second}, 5,
		func(int, nemesis.Step) bool { return false })
	require.ErrorContains(t, err, "own seed 3")

	docker := harness.SupportedBy("docker", false)
	assert.True(t, docker(0, nemesis.Step{Start: true, Fault: "packet", Mode: "loss"}))
	assert.False(t, docker(0, nemesis.Step{Start: true, Fault: "packet", Mode: "delay"}))
	assert.True(t, harness.SupportedBy("docker", true)(0, nemesis.Step{Start: true, Fault: "packet", Mode: "reorder"}))
}

// noSystem is a System that is never started: PrepareT only asks it what
// it promises.
type noSystem struct{ harness.System }

func (noSystem) Name() string { return "none" }

// Drawing packet faults from the modes a backend applies (what Run does
// when no modes are named) keeps the schedule of every seed that was fine
// before: one that drew only those modes draws the same steps.
func TestSupportedPacketModesKeepFineSchedules(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	for _, can := range [][]string{{"delay", "loss"}, {"loss"}} {
		kept, cut := 0, 0
		for seed := int64(1); seed <= 500; seed++ {
			cfg := nemesis.Config{Faults: []string{"packet", "partition", "kill"}, Seed: seed}
			before := nemesis.NewSchedule(cfg, nodes)
			cfg.Packets = can
			after := nemesis.NewSchedule(cfg, nodes)
			fine := true
			for i := 0; i < 12 && fine; i++ { // a run of a few intervals
				b, a := before.Next(), after.Next()
				if b.Start && b.Fault == "packet" && !slices.Contains(can, b.Mode) {
					fine = false // the run failed here before: nothing to keep
					break
				}
				require.Equal(t, b, a, "modes %v, seed %d, step %d", can, seed, i)
			}
			if fine {
				kept++
			} else {
				cut++
			}
		}
		assert.Positive(t, kept, "modes %v", can)
		assert.Positive(t, cut, "modes %v: some seeds drew other modes", can)
	}
}
