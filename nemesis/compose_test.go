package nemesis

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestConditions(t *testing.T) {
	active := map[string]Step{
		"kill":      {Fault: "kill", Nodes: []string{"n1"}},
		"clock":     {Fault: "clock", Nodes: []string{"n2"}},
		"packet":    {Fault: "packet", Nodes: []string{"n1"}},
		"partition": {Fault: "partition", Nodes: []string{"n3", "n1", "n2"}},
	}
	got := conditions([]string{"n1", "n2", "n3", "n4"}, active)
	assert.Equal(t, "killed+packet+partitioned", got["n1"].String())
	assert.Equal(t, "skewed+partitioned", got["n2"].String())
	assert.Equal(t, "partitioned", got["n3"].String())
	assert.Equal(t, "up", got["n4"].String())
}

// Which fault may start on a node in which condition: the composition
// table, spelled out.
func TestEligible(t *testing.T) {
	all := []cond{0, killed, paused, skewed, packetFaulted, partitioned, powered}
	want := map[string]map[cond]bool{ // fault -> condition -> may start
		"kill":      {0: true, killed: false, paused: false, skewed: false, packetFaulted: true, partitioned: true, powered: false},
		"pause":     {0: true, killed: false, paused: false, skewed: false, packetFaulted: true, partitioned: true, powered: false},
		"power":     {0: true, killed: false, paused: false, skewed: false, packetFaulted: true, partitioned: true, powered: false},
		"clock":     {0: true, killed: false, paused: false, skewed: false, packetFaulted: false, partitioned: true, powered: false},
		"packet":    {0: true, killed: true, paused: true, skewed: false, packetFaulted: false, partitioned: true, powered: true},
		"partition": {0: true, killed: true, paused: true, skewed: true, packetFaulted: true, partitioned: true, powered: true},
	}
	for f, byCond := range want {
		for _, c := range all {
			got := len(eligible(f, []string{"x"}, map[string]cond{"x": c})) == 1
			assert.Equal(t, byCond[c], got, "%s on a node that is %s", f, c)
		}
	}
	for _, f := range Faults {
		assert.Contains(t, kinds, f, "every fault has a row in the composition table")
		assert.Contains(t, want, f, "every fault is spelled out in this test")
	}
}

func TestResolve(t *testing.T) {
	conds := map[string]cond{"n1": killed, "n2": 0, "n3": paused, "n4": 0, "n5": skewed}
	for _, tc := range []struct {
		name         string
		fault        string
		drawn, spare []string
		want         []string
		clash        string
	}{
		{"all free", "pause", []string{"n2", "n4"}, []string{"n1", "n3", "n5"}, []string{"n2", "n4"}, clashNone},
		{"one taken, moved to the first spare that fits", "pause", []string{"n1", "n4"}, []string{"n3", "n5", "n2"}, []string{"n2", "n4"}, clashMoved},
		{"too few left: wait", "kill", []string{"n1", "n2", "n4"}, []string{"n3", "n5"}, nil, clashWaited},
		{"all of them: wait", "kill", []string{"n1", "n2", "n3", "n4", "n5"}, nil, nil, clashWaited},
		{"packet may go to a killed node", "packet", []string{"n1"}, []string{"n2"}, []string{"n1"}, clashNone},
		{"packet keeps off a skewed node", "packet", []string{"n5"}, []string{"n1", "n2"}, []string{"n1"}, clashMoved},
		{"clock keeps off a killed node", "clock", []string{"n1"}, []string{"n3", "n5", "n4"}, []string{"n4"}, clashMoved},
		{"spare already drawn is not taken twice", "pause", []string{"n1", "n2"}, []string{"n2", "n4"}, []string{"n4", "n2"}, clashMoved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, clash := resolve(tc.fault, tc.drawn, tc.spare, conds)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.clash, clash)
		})
	}
}

func TestHealOrder(t *testing.T) {
	assert.Equal(t, []string{"pause", "kill", "power", "partition", "packet", "clock"}, healOrder(Faults))
	assert.Equal(t, []string{"kill", "clock"}, healOrder([]string{"clock", "kill"}))
}

// Settle puts the schedule's state back to the cluster's after a step
// that did not take (full) effect.
func TestScheduleSettle(t *testing.T) {
	s := NewSchedule(Config{Faults: []string{"kill"}, Seed: 1}, ids(3))
	var st Step
	for st = s.Next(); !st.Start; st = s.Next() {
	}
	s.Settle(st, nil) // the kill failed everywhere
	assert.Empty(t, s.Active())
	for st = s.Next(); !st.Start || len(st.Nodes) < 2; st = s.Next() {
		if !st.Start && st.Fault != "" {
			s.Settle(st, nil)
		}
	}
	s.Settle(st, st.Nodes[:1]) // it took effect on its first node only
	assert.Equal(t, st.Nodes[:1], s.Active()[0].Nodes)
	stop := s.Next()
	for stop.Start || stop.Fault == "" {
		t.Fatalf("with kill active and nothing else to start, the next step stops it, got %+v", stop)
	}
	assert.Equal(t, st.Nodes[:1], stop.Nodes, "the stop undoes only what took effect")
	s.Settle(stop, stop.Nodes) // the restart failed: still killed
	assert.Equal(t, st.Nodes[:1], s.Active()[0].Nodes)
}
