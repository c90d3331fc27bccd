package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// fakeTarget records what the nemesis asks for and keeps the resulting
// state. It is a fake on purpose: these tests check the scheduling and
// bookkeeping logic of the nemesis, not that faults take effect (the
// docker backend's tests prove that on real containers).
type fakeTarget struct {
	mu      sync.Mutex
	nodes   []string
	killed  map[string]bool
	paused  map[string]bool
	clocks  map[string]time.Duration
	packets map[string]PacketFault
	grudge  Grudge
	calls   []string
	leader  string
	failOn  string         // a call name that fails
	failErr error          // what it fails with (default: a plain error)
	failN   map[string]int // "call id" -> how many more times it fails
}

func newFake(n int) *fakeTarget {
	return &fakeTarget{nodes: ids(n), killed: map[string]bool{}, paused: map[string]bool{},
		clocks: map[string]time.Duration{}, packets: map[string]PacketFault{}, failN: map[string]int{}}
}

func (f *fakeTarget) call(name, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+" "+id)
	if f.failN[name+" "+id] > 0 {
		f.failN[name+" "+id]--
		return fmt.Errorf("%s %s: the daemon did not answer in time", name, id)
	}
	if f.failOn == name {
		if f.failErr != nil {
			return fmt.Errorf("%s %s: %w", name, id, f.failErr)
		}
		return fmt.Errorf("%s %s: no NET_ADMIN here", name, id)
	}
	return nil
}

func (f *fakeTarget) NodeIDs() []string { return slices.Clone(f.nodes) }
func (f *fakeTarget) Kill(_ context.Context, id string) error {
	if err := f.call("kill", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[id] || f.paused[id] {
		return fmt.Errorf("kill %s: killed=%v paused=%v", id, f.killed[id], f.paused[id])
	}
	f.killed[id] = true
	return nil
}
func (f *fakeTarget) Restart(_ context.Context, id string) error {
	if err := f.call("restart", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed[id] = false
	f.clocks[id] = 0 // a restarted process loses its offset
	return nil
}

// LoseUnsynced needs a node that is down, as a power loss finds it.
func (f *fakeTarget) LoseUnsynced(_ context.Context, id string) error {
	if err := f.call("lose", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.killed[id] {
		return fmt.Errorf("lose %s: the node is running", id)
	}
	return nil
}
func (f *fakeTarget) Pause(_ context.Context, id string) error {
	if err := f.call("pause", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[id] {
		return fmt.Errorf("pause %s: it is killed", id)
	}
	f.paused[id] = true
	return nil
}
func (f *fakeTarget) Resume(_ context.Context, id string) error {
	if err := f.call("resume", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused[id] = false
	return nil
}
func (f *fakeTarget) Partition(_ context.Context, g Grudge) error {
	if err := f.call("partition", fmt.Sprint(len(g))); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grudge = g
	return nil
}
func (f *fakeTarget) Packet(_ context.Context, id string, p PacketFault) error {
	if err := f.call("packet", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.packets[id] = p
	return nil
}
func (f *fakeTarget) SetClockOffset(_ context.Context, id string, o time.Duration) error {
	if err := f.call("clock", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed[id] || f.paused[id] {
		return fmt.Errorf("clock %s: node is down", id)
	}
	f.clocks[id] = o
	return nil
}
func (f *fakeTarget) Leader(context.Context) (string, error) {
	if f.leader == "" {
		return "", errors.New("no leader in this mode")
	}
	return f.leader, nil
}

func (f *fakeTarget) requireHealed(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.nodes {
		assert.False(t, f.killed[id], "%s still killed", id)
		assert.False(t, f.paused[id], "%s still paused", id)
		assert.Zero(t, f.clocks[id], "%s clock still skewed", id)
		assert.Zero(t, f.packets[id], "%s packet fault still on", id)
	}
	assert.Empty(t, f.grudge, "partition still on")
}

func newRecorder(t *testing.T) (*history.Recorder, string) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	t.Cleanup(func() { rec.Close() })
	return rec, path
}

func readEvents(t *testing.T, rec *history.Recorder, path string) []history.Event {
	require.NoError(t, rec.Close())
	res, err := history.ReadFile(path)
	require.NoError(t, err)
	return res.Events
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"none", nil, ""},
		{"none,kill", nil, `"none,kill": none means no faults and cannot be combined with others: give none, or the faults alone (kill)`},
		{"all", []string{"partition", "kill", "pause", "clock", "packet"}, ""},
		{"all,power", Faults, ""},
		{"partition, kill,partition", []string{"partition", "kill"}, ""},
		{"partition,kill,pause,clock", []string{"partition", "kill", "pause", "clock"}, ""},
		{"partition,flood", nil, `unknown nemesis "flood": valid names are partition, kill, pause, clock, packet, power, all, none`},
	} {
		got, err := ParseSpec(tc.spec)
		if tc.err != "" {
			require.EqualError(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, tc.spec)
	}
}

func TestValidateRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Faults: []string{"partition", "meteor"}}, `unknown nemesis "meteor"`},
		{Config{Faults: []string{"partition"}, Partitions: []string{"star"}}, "valid names are one, halves"},
		{Config{Faults: []string{"packet"}, Packets: []string{"corrupt"}}, "valid names are delay, loss"},
		{Config{Faults: []string{"kill"}, Interval: -time.Second}, "negative"},
	} {
		require.ErrorContains(t, tc.cfg.Validate(), tc.want)
		_, err := New(tc.cfg).ForSeed(1)
		require.ErrorContains(t, err, tc.want, "ForSeed refuses what Validate rejects")
		err = New(tc.cfg).Run(context.Background(), newFake(3), nil)
		require.ErrorContains(t, err, tc.want, "Run refuses what Validate rejects")
	}
}

func TestForSeedSeedsAFreshNemesis(t *testing.T) {
	n := New(Config{Faults: []string{"kill"}, Interval: time.Second})
	got, err := n.ForSeed(42)
	require.NoError(t, err)
	assert.NotSame(t, n, got)
	assert.Equal(t, int64(42), got.Config().Seed, "the run's seed when the config has none")
	fixed, err := New(Config{Faults: []string{"kill"}, Seed: 7}).ForSeed(42)
	require.NoError(t, err)
	assert.Equal(t, int64(7), fixed.Config().Seed, "the config's own seed wins")
	assert.Equal(t, "kill", fixed.Name())
	assert.Equal(t, "partition+pause", New(Config{Faults: []string{"partition", "pause"}}).Name())
	assert.Equal(t, "none", New(Config{}).Name())
}

func TestScheduleIsReproducibleFromSeed(t *testing.T) {
	cfg := Config{Faults: Faults, Interval: time.Second, Seed: 42}
	draw := func(cfg Config) []Step {
		s := NewSchedule(cfg, ids(5))
		var out []Step
		for range 300 {
			out = append(out, s.Next())
		}
		return out
	}
	a, b := draw(cfg), draw(cfg)
	assert.Equal(t, a, b, "the same seed must give the same steps")
	cfg.Seed = 43
	assert.NotEqual(t, a, draw(cfg), "another seed must give other steps")
	// The node order given does not matter.
	s1, s2 := NewSchedule(cfg, []string{"n3", "n1", "n2"}), NewSchedule(cfg, []string{"n1", "n2", "n3"})
	for range 50 {
		require.Equal(t, s1.Next(), s2.Next())
	}
}

// The schedule's invariants, checked over many steps: it starts only
// inactive faults and stops only active ones, no fault starts on a node
// in a condition that blocks it (kinds), the sizes match the modes, the
// gaps stay within [interval/2, 3*interval/2), and clashes are resolved
// both ways (other nodes, waiting) and counted.
func TestScheduleInvariants(t *testing.T) {
	for _, n := range []int{1, 3, 5, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			interval := 100 * time.Millisecond
			s := NewSchedule(Config{Faults: Faults, Interval: interval, Seed: int64(n)}, ids(n))
			active := map[string]Step{}
			started := map[string]int{}
			modes := map[string]bool{}
			waits := 0
			for range 3000 {
				st := s.Next()
				require.GreaterOrEqual(t, st.Wait, interval/2)
				require.Less(t, st.Wait, 3*interval/2)
				if st.Fault == "" {
					if st.Blocked != "" {
						waits++
						require.NotContains(t, active, st.Blocked, "only an inactive fault waits")
					}
					continue
				}
				if !st.Start {
					require.Contains(t, active, st.Fault, "stop of an inactive fault")
					require.Equal(t, active[st.Fault].Nodes, st.Nodes, "a stop undoes what its start did")
					delete(active, st.Fault)
					continue
				}
				require.NotContains(t, active, st.Fault, "start of an active fault")
				started[st.Fault]++
				modes[st.Fault+"/"+st.Mode] = true
				conds := conditions(ids(n), active)
				if st.Fault != "partition" {
					for _, id := range st.Nodes {
						require.Zero(t, conds[id]&kinds[st.Fault].blockedBy, "%s on %s, which is %s", st.Fault, id, conds[id])
					}
				}
				switch st.Fault {
				case "kill", "pause":
					require.Len(t, st.Nodes, count(st.Mode, n), "%s %s takes exactly its count", st.Fault, st.Mode)
				case "clock":
					require.Len(t, st.Nodes, 1)
					abs := max(st.Offset, -st.Offset)
					require.GreaterOrEqual(t, abs, 10*time.Millisecond)
					require.LessOrEqual(t, abs, 6*time.Minute)
					if st.Mode == "strobe" {
						require.Positive(t, st.Period)
					}
				case "partition":
					require.ElementsMatch(t, ids(n), st.Nodes)
					require.True(t, topologyFits(st.Mode, n), "%s on %d nodes", st.Mode, n)
				case "packet":
					require.Len(t, st.Nodes, 1)
					require.NotZero(t, st.Packet)
				}
				active[st.Fault] = st
			}
			for _, f := range Faults {
				if f == "partition" && n < 2 {
					continue
				}
				assert.Positive(t, started[f], "%s never started", f)
			}
			assert.Equal(t, waits, s.Stats().Waited, "every wait is counted")
			assert.Positive(t, s.Stats().Waited, "a fault waited")
			if n >= 3 {
				assert.Positive(t, s.Stats().Moved, "a fault chose other nodes")
			}
			if n >= 5 {
				for _, m := range []string{"partition/majorities-ring", "partition/isolate-leader", "kill/majority", "pause/all", "clock/strobe", "packet/loss"} {
					assert.True(t, modes[m], "%s never drawn", m)
				}
			}
		})
	}
}

func TestRunRecordsFaultsAndHealUndoesThem(t *testing.T) {
	f := newFake(5)
	f.leader = "n4"
	n := New(Config{Faults: Faults, Interval: 2 * time.Millisecond, Seed: 7})
	rec, path := newRecorder(t)
	// The run lasts until every fault has been seen active (at a 2 ms
	// interval that takes well under a second), bounded for a loaded
	// machine.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sawActive atomic.Bool
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		seen := map[string]bool{}
		for ctx.Err() == nil {
			if a := n.Active(); a != "" {
				sawActive.Store(true)
				for _, d := range strings.Fields(a) {
					name, _, _ := strings.Cut(d, "=")
					seen[name] = true
				}
			}
			all := true
			for _, f := range Faults {
				all = all && seen[f]
			}
			if all {
				time.Sleep(20 * time.Millisecond)
				cancel()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	require.NoError(t, n.Run(ctx, f, rec))
	<-watched
	require.NoError(t, n.Heal(context.Background(), f, rec))
	assert.Empty(t, n.Active(), "nothing is active after heal")
	assert.True(t, sawActive.Load(), "Active described running faults")
	f.requireHealed(t)

	events := readEvents(t, rec, path)
	require.NotEmpty(t, events)
	open := map[string]bool{}
	names := map[string]bool{}
	for _, e := range events {
		require.True(t, e.IsNemesis())
		require.Equal(t, history.Info, e.Type)
		require.Empty(t, e.Error)
		var v map[string]any
		require.NoError(t, json.Unmarshal(e.Value, &v), "value is a JSON object")
		name, isStart := strings.CutPrefix(e.F, "start-")
		if isStart {
			require.False(t, open[name], "%s started twice", name)
			open[name] = true
			names[name] = true
			switch name {
			case "partition":
				assert.Contains(t, v, "grudge")
				assert.Contains(t, v, "topology")
			case "clock":
				assert.Contains(t, v, "offset_ms")
			case "packet":
				assert.Contains(t, v, "netem")
			}
			if name != "partition" {
				assert.NotEmpty(t, v["nodes"], "%s says which nodes", name)
			}
			continue
		}
		name, isStop := strings.CutPrefix(e.F, "stop-")
		require.True(t, isStop, "f is start-<fault> or stop-<fault>: %s", e.F)
		require.True(t, open[name], "%s stopped but not started", name)
		open[name] = false
	}
	for name, on := range open {
		assert.False(t, on, "%s still open after heal", name)
	}
	for _, fault := range Faults {
		assert.True(t, names[fault], "%s never ran in 30s at a 2ms interval", fault)
	}
	// Every fault interval is closed by heal.
	for _, fi := range history.Faults(events) {
		assert.NotEqual(t, "null", string(fi.StopValue), "%s has no stop event", fi.Name)
	}
}

// A fault the target can never apply (errors.ErrUnsupported) ends Run at
// once: going on would pretend to inject it.
func TestRunFailsLoudlyWhenAFaultIsUnsupported(t *testing.T) {
	f := newFake(3)
	f.failOn = "packet"
	f.failErr = fmt.Errorf("no netem in this kernel: %w", errors.ErrUnsupported)
	n := New(Config{Faults: []string{"packet"}, Interval: time.Millisecond, Seed: 1})
	rec, path := newRecorder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := n.Run(ctx, f, rec)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), "start packet")
	require.NoError(t, ctx.Err(), "Run returned at once, not at the end of the run")

	f.failOn = ""
	require.NoError(t, n.Heal(context.Background(), f, rec))
	events := readEvents(t, rec, path)
	require.Len(t, events, 1, "nothing to undo: the packet fault never took effect")
	assert.Equal(t, "start-packet", events[0].F)
	assert.Equal(t, history.Fail, events[0].Type)
	assert.Contains(t, events[0].Error, "no netem")
}

// A fault change that fails for another reason is recorded as a fail
// event with the reason, and the run goes on.
func TestRunRecordsAFailedFaultAndGoesOn(t *testing.T) {
	f := newFake(3)
	f.failOn = "pause"
	n := New(Config{Faults: []string{"pause", "partition"}, Interval: time.Millisecond, Seed: 1})
	rec, path := newRecorder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.NoError(t, n.Run(ctx, f, rec))
	require.NoError(t, n.Heal(context.Background(), f, rec))
	f.requireHealed(t)
	events := readEvents(t, rec, path)
	fails, partitions := 0, 0
	for _, e := range events {
		switch e.F {
		case "start-pause":
			require.Equal(t, history.Fail, e.Type, "a pause that paused nothing is a fail event")
			assert.Contains(t, e.Error, "no NET_ADMIN here")
			fails++
		case "stop-pause":
			t.Fatalf("a pause that never took effect is never stopped: %+v", e)
		case "start-partition":
			partitions++
		}
	}
	assert.Greater(t, fails, 1, "the nemesis kept trying")
	assert.Positive(t, partitions, "the other faults went on")
	st := n.Stats()
	assert.Equal(t, fails, st.Failed)
	assert.Equal(t, partitions, st.Started)
}

// A kill that fails on its second node stays in effect on the first: the
// event is info with the error and the node it did kill, and the stop
// restarts only that one.
func TestPartlyAppliedFaultIsUndoneWhereItTookEffect(t *testing.T) {
	f := newFake(3)
	f.failN["kill n2"] = 1
	n := New(Config{Faults: []string{"kill"}})
	rec, path := newRecorder(t)
	st := Step{Start: true, Fault: "kill", Mode: "majority", Nodes: []string{"n1", "n2"}}
	require.Error(t, n.start(context.Background(), f, rec, st))
	assert.Equal(t, "kill=n1", n.Active(), "the progress line shows what took effect")
	require.NoError(t, n.Heal(context.Background(), f, rec))
	f.requireHealed(t)
	events := readEvents(t, rec, path)
	require.Len(t, events, 2)
	assert.Equal(t, history.Info, events[0].Type)
	assert.Contains(t, events[0].Error, "kill n2")
	assert.JSONEq(t, `{"mode":"majority","nodes":["n1"]}`, string(events[0].Value))
	assert.Equal(t, "stop-kill", events[1].F)
	assert.JSONEq(t, `{"mode":"majority","nodes":["n1"]}`, string(events[1].Value))
	assert.NotContains(t, f.calls, "restart n2")
}

// Heal undoes overlapping faults in the table's order, and retries an
// undo that fails.
func TestHealOrderAndRetry(t *testing.T) {
	f := newFake(5)
	n := New(Config{Faults: Faults})
	rec, path := newRecorder(t)
	ctx := context.Background()
	for _, st := range []Step{
		{Start: true, Fault: "clock", Mode: "bump", Nodes: []string{"n5"}, Offset: time.Second},
		{Start: true, Fault: "partition", Mode: "one", Nodes: ids(5)},
		{Start: true, Fault: "kill", Mode: "one", Nodes: []string{"n1"}},
		{Start: true, Fault: "packet", Mode: "loss", Nodes: []string{"n1"}, Packet: PacketFault{Loss: 10}},
		{Start: true, Fault: "pause", Mode: "minority", Nodes: []string{"n2", "n3"}},
	} {
		require.NoError(t, n.start(ctx, f, rec, st))
	}
	f.failN["restart n1"] = 2
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
	require.NoError(t, n.Heal(ctx, f, rec), "the third restart works")
	f.requireHealed(t)
	want := []string{"resume n2", "resume n3", "restart n1", "restart n1", "restart n1", "partition 0", "packet n1", "clock n5"}
	assert.Equal(t, want, f.calls)
	events := readEvents(t, rec, path)
	var stops []string
	for _, e := range events[5:] {
		stops = append(stops, e.F+"/"+string(e.Type))
	}
	assert.Equal(t, []string{"stop-pause/info", "stop-kill/fail", "stop-kill/fail", "stop-kill/info", "stop-partition/info", "stop-packet/info", "stop-clock/info"}, stops)
	for _, fi := range history.Faults(events) {
		assert.NotEqual(t, "null", string(fi.StopValue), "%s has no stop event", fi.Name)
	}
}

func TestIsolateLeader(t *testing.T) {
	for _, tc := range []struct {
		name, leader string
		wantVictim   string // "" = the seed's fallback
	}{
		{"leader known", "n2", "n2"},
		{"no leader", "", ""},
		{"stranger", "n9", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(5)
			f.leader = tc.leader
			n := New(Config{Faults: []string{"partition"}, Partitions: []string{"isolate-leader"}, Interval: time.Millisecond, Seed: 3})
			rec, path := newRecorder(t)
			st := NewSchedule(n.cfg, f.nodes).Next()
			require.NoError(t, n.start(context.Background(), f, rec, st))
			events := readEvents(t, rec, path)
			require.Len(t, events, 1)
			var v struct {
				Nodes    []string `json:"nodes"`
				Leader   string   `json:"leader"`
				Fallback string   `json:"fallback"`
				Grudge   Grudge   `json:"grudge"`
			}
			require.NoError(t, json.Unmarshal(events[0].Value, &v))
			victim := tc.wantVictim
			if victim == "" {
				victim = st.Nodes[0]
				assert.NotEmpty(t, v.Fallback, "the fallback is recorded")
			} else {
				assert.Equal(t, tc.leader, v.Leader)
			}
			assert.Equal(t, []string{victim}, v.Nodes)
			assert.Equal(t, Isolate(f.nodes, victim), v.Grudge)
			assert.Equal(t, Isolate(f.nodes, victim), f.grudge)
		})
	}
}

func TestClockStrobeFlipsAndHealResets(t *testing.T) {
	f := newFake(3)
	n := New(Config{Faults: []string{"clock"}})
	rec, _ := newRecorder(t)
	st := Step{Start: true, Fault: "clock", Mode: "strobe", Nodes: []string{"n2"}, Offset: 5 * time.Second, Period: 5 * time.Millisecond}
	require.NoError(t, n.start(context.Background(), f, rec, st))
	time.Sleep(60 * time.Millisecond)
	f.mu.Lock()
	flips := 0
	for _, c := range f.calls {
		if c == "clock n2" {
			flips++
		}
	}
	f.mu.Unlock()
	assert.Greater(t, flips, 3, "the strobe flips the clock back and forth")
	assert.Contains(t, n.Active(), "strobe")
	require.NoError(t, n.Heal(context.Background(), f, rec))
	f.requireHealed(t)
}

func TestNoFaultsWaitsForTheEnd(t *testing.T) {
	n := New(Config{})
	rec, path := newRecorder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	f := newFake(3)
	require.NoError(t, n.Run(ctx, f, rec))
	require.NoError(t, n.Heal(context.Background(), f, rec))
	assert.Empty(t, readEvents(t, rec, path))
	assert.Empty(t, f.calls)
}

func TestPacketModes(t *testing.T) {
	got, err := ParsePacketModes("loss, loss")
	require.NoError(t, err)
	assert.Equal(t, []string{"loss"}, got)
	got, err = ParsePacketModes("")
	require.NoError(t, err)
	assert.Equal(t, PacketModes, got)
	_, err = ParsePacketModes("loss,jam")
	require.ErrorContains(t, err, `unknown packet fault "jam"`)

	s := NewSchedule(Config{Faults: []string{"packet"}, Packets: []string{"loss"}, Seed: 9}, ids(3))
	for range 200 {
		st := s.Next()
		if st.Start {
			require.Equal(t, "loss", st.Mode)
			require.Positive(t, st.Packet.Loss)
			require.Zero(t, st.Packet.Delay)
		}
	}
}

// A strobe's failed flips are counted and retried; they do not end the
// run, and the stop still resets the clock.
func TestClockStrobeKeepsGoingAfterFailures(t *testing.T) {
	f := newFake(3)
	n := New(Config{Faults: []string{"clock"}})
	rec, _ := newRecorder(t)
	st := Step{Start: true, Fault: "clock", Mode: "strobe", Nodes: []string{"n1"}, Offset: time.Second, Period: 2 * time.Millisecond}
	require.NoError(t, n.start(context.Background(), f, rec, st))
	f.mu.Lock()
	f.failOn = "clock"
	f.mu.Unlock()
	require.Eventually(t, func() bool { return n.Stats().StrobeFailures >= 5 }, 5*time.Second, time.Millisecond)
	f.mu.Lock()
	f.failOn = ""
	f.mu.Unlock()
	require.NoError(t, n.Heal(context.Background(), f, rec))
	f.requireHealed(t)
}

// A clock Heal cannot reset (its node crashed by itself) stays a fail
// event, not a heal error; any other undo that keeps failing is one.
func TestHealLeavesAnUnreachableClockAsAFailEvent(t *testing.T) {
	f := newFake(3)
	n := New(Config{Faults: Faults})
	rec, path := newRecorder(t)
	ctx := context.Background()
	require.NoError(t, n.start(ctx, f, rec, Step{Start: true, Fault: "clock", Mode: "bump", Nodes: []string{"n1"}, Offset: time.Second}))
	require.NoError(t, n.start(ctx, f, rec, Step{Start: true, Fault: "pause", Mode: "one", Nodes: []string{"n2"}}))
	f.failN["clock n1"] = healAttempts
	f.failN["resume n2"] = healAttempts
	err := n.Heal(ctx, f, rec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stop pause")
	assert.NotContains(t, err.Error(), "stop clock")
	events := readEvents(t, rec, path)
	var clockFails int
	for _, e := range events {
		if e.F == "stop-clock" {
			assert.Equal(t, history.Fail, e.Type)
			clockFails++
		}
	}
	assert.Equal(t, healAttempts, clockFails, "each attempt is recorded")
}

// A power loss kills every node it draws before any loses its
// un-fsynced writes (one power cut), and its stop restarts them; the
// first cut of a run takes the whole cluster.
func TestPowerKillsAllThenLoses(t *testing.T) {
	f := newFake(5)
	n := New(Config{Faults: []string{"power"}, Interval: 2 * time.Millisecond, Seed: 3})
	rec, path := newRecorder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.NoError(t, n.Run(ctx, f, rec))
	require.NoError(t, n.Heal(context.Background(), f, rec))
	f.requireHealed(t)
	modes := map[string]bool{}
	first := true
	for _, e := range readEvents(t, rec, path) {
		if e.F != "start-power" {
			continue
		}
		var v struct {
			Mode  string   `json:"mode"`
			Nodes []string `json:"nodes"`
		}
		require.NoError(t, json.Unmarshal(e.Value, &v))
		require.Empty(t, e.Error)
		if first {
			assert.Equal(t, "all", v.Mode, "the first power cut takes the whole cluster")
			first = false
		}
		modes[v.Mode] = true
		want := map[string]int{"one": 1, "minority": 2, "all": 5}[v.Mode]
		assert.Len(t, v.Nodes, want, "power %s on 5 nodes", v.Mode)
	}
	assert.Len(t, modes, 3, "one, minority and all are all drawn: %v", modes)
	// In the calls, a run of kills comes before the run of loses, each
	// node lost exactly once per kill.
	f.mu.Lock()
	defer f.mu.Unlock()
	var kills, loses []string
	for _, c := range f.calls {
		verb, id, _ := strings.Cut(c, " ")
		switch verb {
		case "kill":
			require.Empty(t, loses, "kill %s after a lose in the same power cut", id)
			kills = append(kills, id)
		case "lose":
			loses = append(loses, id)
		case "restart":
			if len(kills) > 0 {
				assert.ElementsMatch(t, kills, loses, "every node killed by the power cut lost its un-fsynced writes")
				kills, loses = nil, nil
			}
		}
	}
}
