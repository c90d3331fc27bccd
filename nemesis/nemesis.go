// Package nemesis injects faults into a running cluster on a schedule drawn
// from the run's seed, and records each fault and each heal as an event of
// the history (process -1, type info, f start-<fault> / stop-<fault>, value
// what it did).
//
// The schedule (Schedule, the composition table, the grudge constructors)
// is pure; the nemesis acts only through a Target, which the harness
// adapts from its cluster backend and system under test. Faults compose:
// each draws its targets among the nodes it can act on, or waits. A fault
// change that still cannot be applied is recorded as a failed nemesis
// event with its reason and the run goes on; only a fault the target can
// never apply (errors.ErrUnsupported) ends Run with an error, since going
// on would pretend to inject it.
package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
)

// ParseSpec parses --nemesis: a comma-separated list of Faults, "all" or
// "none" ("" = none).
func ParseSpec(spec string) ([]string, error) {
	var out []string
	add := func(f string) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "", "none":
			continue
		case "all":
			for _, f := range Faults {
				if !slices.Contains(NeedsLazyFS, f) {
					add(f)
				}
			}
			continue
		}
		if !slices.Contains(Faults, name) {
			return nil, fmt.Errorf("unknown nemesis %q: valid names are %s, all, none", name, strings.Join(Faults, ", "))
		}
		add(name)
	}
	if len(out) > 0 && slices.ContainsFunc(strings.Split(spec, ","), func(n string) bool { return strings.TrimSpace(n) == "none" }) {
		// none means no faults: with others it contradicts itself.
		return nil, fmt.Errorf("%q: none means no faults and cannot be combined with others: give none, or the faults alone (%s)", spec, strings.Join(out, ","))
	}
	return out, nil
}

// StepTimeout bounds one fault change (starting or stopping one fault on
// all its nodes).
const StepTimeout = time.Minute

// Heal retries a fault whose undo fails healAttempts times, healBackoff
// apart: a node busy restarting or a lossy moment must not leave a fault
// behind.
const (
	healAttempts = 3
	healBackoff  = time.Second
)

// Nemesis injects faults on a schedule drawn from its seed.
type Nemesis struct {
	cfg Config

	mu     sync.Mutex
	active map[string]*applied // by fault
	sched  *Schedule
	stats  Stats
}

// Stats counts what a nemesis did; the harness writes it to test.json.
type Stats struct {
	// Started and Stopped count fault changes that took effect (a start
	// in effect on at least one node, a stop that undid everything).
	Started int `json:"started"`
	Stopped int `json:"stopped"`
	// Moved counts starts whose drawn nodes were partly held by other
	// faults, resolved by choosing other nodes; Waited counts starts that
	// found too few nodes they could act on, resolved by waiting for a
	// later step.
	Moved  int `json:"clashes_moved"`
	Waited int `json:"clashes_waited"`
	// Failed counts fault changes the target could not apply (recorded as
	// fail events, or info with an error when partly applied).
	Failed int `json:"failed"`
	// StrobeFailures counts clock strobe flips that failed (retried at
	// the next flip).
	StrobeFailures int `json:"strobe_failures"`
}

// applied is a fault that is (or may be, if applying it was interrupted) in
// effect, with what is needed to undo it.
type applied struct {
	step   Step
	nodes  []string // the nodes it may be in effect on
	desc   string
	cancel context.CancelFunc // clock strobe
	done   chan struct{}      // closed when the strobe goroutine ends
}

// New returns a nemesis for cfg: the bundled nemesis as a value, for
// harness.Test.Nemesis. A bad name in cfg is reported by Validate, and by
// ForSeed and Run, which refuse to start with it.
func New(cfg Config) *Nemesis {
	return &Nemesis{cfg: cfg, active: map[string]*applied{}}
}

// Validate rejects unknown fault, topology and packet mode names with the
// list of valid ones, and a negative interval.
func (cfg Config) Validate() error {
	for _, f := range cfg.Faults {
		if !slices.Contains(Faults, f) {
			return fmt.Errorf("unknown nemesis %q: valid names are %s, all, none", f, strings.Join(Faults, ", "))
		}
	}
	for _, t := range cfg.Partitions {
		if !slices.Contains(Topologies, t) {
			return fmt.Errorf("unknown partition topology %q: valid names are %s", t, strings.Join(Topologies, ", "))
		}
	}
	for _, m := range cfg.Packets {
		if !slices.Contains(PacketModes, m) {
			return fmt.Errorf("unknown packet fault %q: valid names are %s", m, strings.Join(PacketModes, ", "))
		}
	}
	if cfg.Interval < 0 {
		return fmt.Errorf("nemesis interval %v is negative: give a positive duration such as 10s", cfg.Interval)
	}
	return nil
}

// Name names the nemesis by its faults: "partition+kill", or "none".
func (n *Nemesis) Name() string {
	if len(n.cfg.Faults) == 0 {
		return "none"
	}
	return strings.Join(n.cfg.Faults, "+")
}

// Config returns the nemesis's configuration.
func (n *Nemesis) Config() Config { return n.cfg }

// ForSeed returns a fresh nemesis for one run (no fault on, no stats) with
// n's configuration, seeded by seed unless the configuration has a seed
// of its own (Config.Seed not 0). harness.Run calls it with the test's
// seed, so one Nemesis value can describe the faults of many runs.
func (n *Nemesis) ForSeed(seed int64) (*Nemesis, error) {
	cfg := n.cfg
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Seed == 0 {
		cfg.Seed = seed
	}
	return New(cfg), nil
}

// Run injects and heals faults with random gaps until ctx is done,
// recording each as an event. A fault change that fails is recorded with
// its reason and the run goes on. Run returns nil when ctx ends normally
// (a fault change under way when it ends is completed first), and an
// error only when a fault can never be applied here (the target says
// errors.ErrUnsupported: no netem, a system without a clock API) or an
// event cannot be recorded; the faults applied so far stay for Heal.
func (n *Nemesis) Run(ctx context.Context, t Target, rec Recorder) error {
	if err := n.cfg.Validate(); err != nil {
		return fmt.Errorf("nemesis: %w", err)
	}
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	s := NewSchedule(n.cfg, t.NodeIDs())
	n.mu.Lock()
	n.sched = s
	n.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		n.mu.Lock()
		st := s.Next()
		n.mu.Unlock()
		timer.Reset(st.Wait)
		select {
		case <-ctx.Done():
			// The drawn step never happens: the schedule's state stays
			// the cluster's.
			n.mu.Lock()
			s.Settle(st, n.onNodes(st.Fault))
			n.mu.Unlock()
			return nil
		case <-timer.C:
		}
		if st.Fault == "" {
			continue
		}
		// A step runs to completion even if the run ends meanwhile, so
		// that no fault is left half-applied (a node killed but not
		// known to be): Heal then undoes exactly what is on.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StepTimeout)
		var err error
		if st.Start {
			err = n.start(sctx, t, rec, st)
		} else {
			err = n.stop(sctx, t, rec, st.Fault)
		}
		cancel()
		n.mu.Lock()
		s.Settle(st, n.onNodes(st.Fault))
		n.mu.Unlock()
		if err != nil && (errors.Is(err, errors.ErrUnsupported) || errors.Is(err, errRecord)) {
			return err
		}
	}
}

// onNodes returns the nodes fault f may be in effect on (n.mu held).
func (n *Nemesis) onNodes(f string) []string {
	a := n.active[f]
	if a == nil {
		return nil
	}
	return slices.Clone(a.nodes)
}

// Heal undoes every fault still active, in the order of the composition
// table (kinds): resumes paused nodes, restarts killed ones, heals the
// partition, clears packet faults and resets clocks, recording a stop-
// event for each. An undo that fails is retried a few times; Heal goes on
// past errors and returns those that remain, except a clock it could not
// reset: that stays a fail event only. A node that crashed by itself
// cannot take its reset (and its offset died with its process), and a
// skew left on a live node changes no final read, so neither is a
// failure of the harness; a partition, packet fault, pause or kill left
// behind would change what the final reads see.
func (n *Nemesis) Heal(ctx context.Context, t Target, rec Recorder) error {
	var errs []error
	for _, f := range healOrder(Faults) {
		n.mu.Lock()
		_, on := n.active[f]
		n.mu.Unlock()
		if on {
			var err error
			for attempt := 1; ; attempt++ {
				if err = n.stop(ctx, t, rec, f); err == nil || attempt == healAttempts || errors.Is(err, errRecord) {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(healBackoff):
				}
				if ctx.Err() != nil {
					break
				}
			}
			if err != nil && (f != "clock" || errors.Is(err, errRecord)) {
				errs = append(errs, err)
			}
		} else if f == "partition" && slices.Contains(n.cfg.Faults, "partition") {
			// Belt and braces: no partition survives the heal phase.
			if err := t.Partition(ctx, nil); err != nil {
				errs = append(errs, fmt.Errorf("nemesis: heal partition: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Active describes the faults active now, for the progress line ("" = none).
func (n *Nemesis) Active() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var parts []string
	for _, a := range n.active {
		parts = append(parts, a.desc)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Stats returns what the nemesis did so far.
func (n *Nemesis) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.stats
	if n.sched != nil {
		ss := n.sched.Stats()
		st.Moved, st.Waited = ss.Moved, ss.Waited
	}
	return st
}

func (n *Nemesis) setActive(f string, a *applied) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a == nil {
		delete(n.active, f)
		return
	}
	n.active[f] = a
}

// errRecord marks a failure to record an event: the history would lie, so
// the run cannot go on.
var errRecord = errors.New("nemesis: cannot record an event")

// record writes a nemesis event of type typ; err, when set, is the reason
// the fault change failed.
func record(rec Recorder, typ history.Type, f string, value map[string]any, err error) error {
	e := history.Event{
		Process: history.NemesisProcess,
		Type:    typ,
		F:       f,
		Value:   history.MustValue(value),
	}
	if err != nil {
		e.Error = err.Error()
	}
	if _, rerr := rec.Record(e); rerr != nil {
		return fmt.Errorf("%w: %s: %w", errRecord, f, rerr)
	}
	return nil
}

// outcome records a fault change and counts it. A change in effect on
// some node is an info event (with the error when it failed elsewhere); a
// change in effect on no node is a fail event.
func (n *Nemesis) outcome(rec Recorder, f string, value map[string]any, inEffect bool, err error) error {
	typ := history.Info
	if err != nil && !inEffect {
		typ = history.Fail
	}
	n.mu.Lock()
	switch {
	case err != nil:
		n.stats.Failed++
	case strings.HasPrefix(f, "start-"):
		n.stats.Started++
	default:
		n.stats.Stopped++
	}
	n.mu.Unlock()
	if rerr := record(rec, typ, f, value, err); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func (n *Nemesis) start(ctx context.Context, t Target, rec Recorder, st Step) error {
	a := &applied{step: st}
	value := map[string]any{"mode": st.Mode}
	// on adds id to the nodes the fault may be in effect on.
	on := func(id string) {
		n.mu.Lock()
		a.nodes = append(a.nodes, id)
		n.mu.Unlock()
	}
	var err error
	switch st.Fault {
	case "partition":
		var g Grudge
		g, err = n.grudge(ctx, t, st, value)
		if err == nil {
			a.desc = "partition=" + st.Mode
			// Active before: a half-applied partition is healed too.
			a.nodes = slices.Clone(st.Nodes)
			n.setActive(st.Fault, a)
			value["grudge"] = g
			err = t.Partition(ctx, g)
		}
	case "kill", "pause":
		do := t.Kill
		if st.Fault == "pause" {
			do = t.Pause
		}
		a.desc = st.Fault + "=" + strings.Join(st.Nodes, ",")
		n.setActive(st.Fault, a)
		for _, id := range st.Nodes {
			if err = do(ctx, id); err != nil {
				err = fmt.Errorf("%s %s: %w", st.Fault, id, err)
				break
			}
			on(id)
		}
		value["nodes"] = append([]string{}, n.onNodes(st.Fault)...)
		n.mu.Lock()
		a.desc = st.Fault + "=" + strings.Join(a.nodes, ",")
		n.mu.Unlock()
	case "clock":
		id := st.Nodes[0]
		value["nodes"] = st.Nodes
		value["offset_ms"] = st.Offset.Milliseconds()
		a.desc = fmt.Sprintf("clock=%s(%+v)", id, st.Offset)
		if st.Mode == "strobe" {
			value["period_ms"] = st.Period.Milliseconds()
			a.desc = fmt.Sprintf("clock=%s(strobe %+v/%v)", id, st.Offset, st.Period)
		}
		n.setActive(st.Fault, a)
		// A request that failed may still have set the offset: the
		// node stays in the books, and the stop resets it.
		on(id)
		if err = t.SetClockOffset(ctx, id, st.Offset); err == nil && st.Mode == "strobe" {
			sctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			n.mu.Lock()
			a.cancel, a.done = cancel, done
			n.mu.Unlock()
			go n.strobe(sctx, t, id, st.Offset, st.Period, done)
		}
	case "power":
		// Every node goes down before any loses its un-fsynced writes,
		// as in one power cut: a node still running could not hand
		// another its writes between the two.
		a.desc = "power=" + strings.Join(st.Nodes, ",")
		n.setActive(st.Fault, a)
		for _, id := range st.Nodes {
			if err = t.Kill(ctx, id); err != nil {
				err = fmt.Errorf("power %s: %w", id, err)
				break
			}
			on(id)
		}
		for _, id := range n.onNodes(st.Fault) {
			if lerr := t.LoseUnsynced(ctx, id); lerr != nil {
				err = errors.Join(err, fmt.Errorf("power %s: %w", id, lerr))
			}
		}
		value["nodes"] = append([]string{}, n.onNodes(st.Fault)...)
	case "packet":
		id := st.Nodes[0]
		value["nodes"] = st.Nodes
		value["netem"] = st.Packet
		a.desc = fmt.Sprintf("packet=%s(%s)", id, st.Mode)
		n.setActive(st.Fault, a)
		// Targets keep no packet fault they failed to set.
		if err = t.Packet(ctx, id, st.Packet); err == nil {
			on(id)
		}
	default:
		err = fmt.Errorf("unknown fault %q", st.Fault)
	}
	n.mu.Lock()
	inEffect := len(a.nodes) > 0
	if !inEffect {
		delete(n.active, st.Fault)
	}
	n.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("nemesis: start %s (%s): %w", st.Fault, st.Mode, err)
	}
	return n.outcome(rec, "start-"+st.Fault, value, inEffect, err)
}

// grudge builds the partition of st; isolate-leader asks the target for
// the leader and falls back to st.Nodes[0] (saying so in value) when there
// is none.
func (n *Nemesis) grudge(ctx context.Context, t Target, st Step, value map[string]any) (Grudge, error) {
	value["topology"] = st.Mode
	switch st.Mode {
	case "one":
		value["nodes"] = st.Nodes[:1]
		return Isolate(st.Nodes, st.Nodes[0]), nil
	case "one-way":
		value["nodes"] = st.Nodes[:1]
		return OneWay(st.Nodes, st.Nodes[0]), nil
	case "halves":
		return Halves(st.Nodes), nil
	case "minority-third":
		return MinorityThird(st.Nodes), nil
	case "majorities-ring":
		return MajoritiesRing(st.Nodes)
	case "bridge":
		value["nodes"] = st.Nodes[len(st.Nodes)/2 : len(st.Nodes)/2+1]
		return Bridge(st.Nodes)
	case "isolate-leader":
		victim := st.Nodes[0]
		leader, err := t.Leader(ctx)
		switch {
		case err != nil:
			value["fallback"] = "no leader (" + err.Error() + "): isolated a node drawn from the seed"
		case !slices.Contains(st.Nodes, leader):
			value["fallback"] = fmt.Sprintf("leader %q is not a node of the cluster: isolated a node drawn from the seed", leader)
		default:
			victim = leader
			value["leader"] = leader
		}
		value["nodes"] = []string{victim}
		return Isolate(st.Nodes, victim), nil
	}
	return nil, fmt.Errorf("unknown partition topology %q: valid names are %s", st.Mode, strings.Join(Topologies, ", "))
}

// strobe flips a node's clock between offset and zero every period until
// ctx ends. A flip that fails is counted and tried again at the next tick
// (the stop resets the clock in any case).
func (n *Nemesis) strobe(ctx context.Context, t Target, id string, offset, period time.Duration, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(period)
	defer tick.Stop()
	on := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		on = !on
		o := time.Duration(0)
		if on {
			o = offset
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := t.SetClockOffset(cctx, id, o)
		cancel()
		if err != nil && ctx.Err() == nil {
			n.mu.Lock()
			n.stats.StrobeFailures++
			n.mu.Unlock()
			on = !on // retry the same flip at the next tick
		}
	}
}

// stop undoes fault f on every node it may be in effect on. The nodes it
// could not undo stay in the books (a fail event says which), for a later
// stop or Heal to try again.
func (n *Nemesis) stop(ctx context.Context, t Target, rec Recorder, f string) error {
	n.mu.Lock()
	a := n.active[f]
	var nodes []string
	var cancel context.CancelFunc
	var done chan struct{}
	if a != nil {
		nodes = slices.Clone(a.nodes)
		cancel, done = a.cancel, a.done
		a.cancel = nil
	}
	n.mu.Unlock()
	if a == nil {
		return nil
	}
	st := a.step
	value := map[string]any{"mode": st.Mode}
	var errs []error
	var left []string
	// undo runs fn on each node, keeping those it fails on.
	undo := func(fn func(ctx context.Context, id string) error) {
		for _, id := range nodes {
			if err := fn(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
				left = append(left, id)
			}
		}
	}
	switch f {
	case "partition":
		value["topology"] = st.Mode
		if err := t.Partition(ctx, nil); err != nil {
			errs = append(errs, err)
			left = nodes
		}
	case "kill", "power":
		undo(t.Restart)
	case "pause":
		undo(t.Resume)
	case "clock":
		if cancel != nil {
			cancel()
			<-done
		}
		value["offset_ms"] = 0
		undo(func(ctx context.Context, id string) error { return t.SetClockOffset(ctx, id, 0) })
	case "packet":
		undo(func(ctx context.Context, id string) error { return t.Packet(ctx, id, PacketFault{}) })
	}
	if f != "partition" {
		undone := []string{}
		for _, id := range nodes {
			if !slices.Contains(left, id) {
				undone = append(undone, id)
			}
		}
		value["nodes"] = undone
	}
	var err error
	if err = errors.Join(errs...); err != nil {
		value["remaining"] = append([]string{}, left...)
		err = fmt.Errorf("nemesis: stop %s: %w", f, err)
		n.mu.Lock()
		a.nodes = left
		if f == "kill" || f == "pause" {
			a.desc = f + "=" + strings.Join(left, ",")
		}
		n.mu.Unlock()
	} else {
		n.setActive(f, nil)
	}
	// A stop that failed anywhere is a fail event: the fault is still
	// (partly) in effect, and its interval stays open until a stop
	// succeeds.
	return n.outcome(rec, "stop-"+f, value, err == nil, err)
}
