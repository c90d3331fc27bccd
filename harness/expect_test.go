package harness_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
)

func TestPrepareT(t *testing.T) {
	base := harness.Test{Model: "causal+", System: noSystem{}, Workload: "kv", TimeLimit: 30 * time.Second, NemesisInterval: 6 * time.Second}
	got := harness.PrepareT(base, harness.Expect{"linearizable": checkers.Invalid, "causal": checkers.Valid}, false)
	assert.Equal(t, int64(1), got.Seed, "seed 0 becomes 1: suites are reproducible")
	assert.Equal(t, []string{"causal+", "causal", "linearizable"}, got.Checkers, "the workload's checker, then the expected ones")
	assert.Equal(t, 30*time.Second, got.TimeLimit)

	short := harness.PrepareT(base, harness.Expect{"causal+": checkers.Valid}, true)
	assert.Equal(t, []string{"causal+"}, short.Checkers)
	assert.Equal(t, 10*time.Second, short.TimeLimit)
	assert.Equal(t, 2*time.Second, short.NemesisInterval)
	assert.Equal(t, 2*time.Second, short.QuietPeriod)

	tiny := harness.Shorten(harness.Test{TimeLimit: 3 * time.Second, NemesisInterval: 500 * time.Millisecond})
	assert.Equal(t, 3*time.Second, tiny.TimeLimit, "never longer than asked")
	assert.Equal(t, 500*time.Millisecond, tiny.NemesisInterval)
	dflt := harness.Shorten(harness.Test{})
	assert.Equal(t, 10*time.Second, dflt.TimeLimit, "the 30s default, scaled")
}

func TestPickSeed(t *testing.T) {
	test := harness.Test{Nemesis: []string{"packet", "partition"}, NemesisInterval: time.Second, TimeLimit: 20 * time.Second}
	ok := harness.SupportedBy("local", true)
	seed, err := harness.PickSeed(test, 1, ok)
	require.NoError(t, err)
	// Replay the schedule: every step within the time limit is one the
	// local backend can apply, and some seed before it was not.
	check := func(seed int64) (good bool, packets int) {
		s := nemesis.NewSchedule(nemesis.Config{Faults: test.Nemesis, Interval: test.NemesisInterval, Seed: seed}, []string{"n1", "n2", "n3"})
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

	docker := harness.SupportedBy("docker", false)
	assert.True(t, docker(0, nemesis.Step{Start: true, Fault: "packet", Mode: "loss"}))
	assert.False(t, docker(0, nemesis.Step{Start: true, Fault: "packet", Mode: "delay"}))
	assert.True(t, harness.SupportedBy("docker", true)(0, nemesis.Step{Start: true, Fault: "packet", Mode: "reorder"}))
}

// noSystem is a System that is never started: PrepareT only asks it what
// it promises.
type noSystem struct{ harness.System }

func (noSystem) Name() string { return "none" }
