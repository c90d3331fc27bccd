// Package nemesis injects faults into a running cluster on a schedule drawn
// from the run's seed, and records each fault and each heal as an event of
// the history (process -1, type info, f start-<fault> / stop-<fault>, value
// what it did).
//
// The schedule (Schedule, the grudge constructors) is pure; the nemesis acts
// only through a Target, which the harness adapts from its cluster backend
// and system under test. A fault that cannot be applied makes Run return an
// error: the nemesis never goes on without it.
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
				add(f)
			}
			continue
		}
		if !slices.Contains(Faults, name) {
			return nil, fmt.Errorf("unknown nemesis %q: valid names are %s, all, none", name, strings.Join(Faults, ", "))
		}
		add(name)
	}
	return out, nil
}

// StepTimeout bounds one fault change (starting or stopping one fault on
// all its nodes).
const StepTimeout = time.Minute

// Nemesis injects faults on a schedule drawn from its seed.
type Nemesis struct {
	cfg Config

	mu        sync.Mutex
	active    map[string]*applied // by fault
	strobeErr error
}

// applied is a fault that is (or may be, if applying it was interrupted) in
// effect, with what is needed to undo it.
type applied struct {
	step   Step
	nodes  []string // kill, pause: the nodes actually killed or paused
	desc   string
	cancel context.CancelFunc // clock strobe
	done   chan struct{}      // closed when the strobe goroutine ends
}

// New returns a nemesis for cfg. It rejects unknown fault and topology
// names with the list of valid ones.
func New(cfg Config) (*Nemesis, error) {
	for _, f := range cfg.Faults {
		if !slices.Contains(Faults, f) {
			return nil, fmt.Errorf("unknown nemesis %q: valid names are %s, all, none", f, strings.Join(Faults, ", "))
		}
	}
	for _, t := range cfg.Partitions {
		if !slices.Contains(Topologies, t) {
			return nil, fmt.Errorf("unknown partition topology %q: valid names are %s", t, strings.Join(Topologies, ", "))
		}
	}
	for _, m := range cfg.Packets {
		if !slices.Contains(PacketModes, m) {
			return nil, fmt.Errorf("unknown packet fault %q: valid names are %s", m, strings.Join(PacketModes, ", "))
		}
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("nemesis interval %v is negative: give a positive duration such as 10s", cfg.Interval)
	}
	return &Nemesis{cfg: cfg, active: map[string]*applied{}}, nil
}

// Run injects and heals faults with random gaps until ctx is done,
// recording each as an event. It returns nil when ctx ends normally (a
// fault change under way when it ends is completed first) and an error
// when a fault could not be applied (the faults applied so far stay for
// Heal to undo).
func (n *Nemesis) Run(ctx context.Context, t Target, rec Recorder) error {
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	s := NewSchedule(n.cfg, t.NodeIDs())
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		st := s.Next()
		timer.Reset(st.Wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if err := n.takeStrobeErr(); err != nil {
			return err
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
		if err != nil {
			return err
		}
	}
}

// Heal undoes every fault still active — resumes paused nodes, restarts
// killed ones, heals the partition, clears packet faults and resets
// clocks — recording a stop- event for each. It goes on past errors and
// returns them all.
func (n *Nemesis) Heal(ctx context.Context, t Target, rec Recorder) error {
	var errs []error
	for _, f := range []string{"pause", "kill", "partition", "packet", "clock"} {
		n.mu.Lock()
		_, on := n.active[f]
		n.mu.Unlock()
		if on {
			if err := n.stop(ctx, t, rec, f); err != nil {
				errs = append(errs, err)
			}
		} else if f == "partition" && slices.Contains(n.cfg.Faults, "partition") {
			// Belt and braces: no partition survives the heal phase.
			if err := t.Partition(ctx, nil); err != nil {
				errs = append(errs, fmt.Errorf("nemesis: heal partition: %w", err))
			}
		}
	}
	if err := n.takeStrobeErr(); err != nil {
		errs = append(errs, err)
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

func (n *Nemesis) takeStrobeErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.strobeErr
	n.strobeErr = nil
	return err
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

// record writes a nemesis event; err, when set, is the reason the fault
// failed.
func record(rec Recorder, f string, value map[string]any, err error) error {
	e := history.Event{
		Process: history.NemesisProcess,
		Type:    history.Info,
		F:       f,
		Value:   history.MustValue(value),
	}
	if err != nil {
		e.Error = err.Error()
	}
	if _, rerr := rec.Record(e); rerr != nil {
		return fmt.Errorf("nemesis: record %s: %w", f, rerr)
	}
	return nil
}

func (n *Nemesis) start(ctx context.Context, t Target, rec Recorder, st Step) error {
	a := &applied{step: st}
	value := map[string]any{"mode": st.Mode}
	var err error
	switch st.Fault {
	case "partition":
		var g Grudge
		g, err = n.grudge(ctx, t, st, value)
		if err == nil {
			a.desc = "partition=" + st.Mode
			n.setActive(st.Fault, a) // before: a half-applied partition is healed too
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
			n.mu.Lock()
			a.nodes = append(a.nodes, id)
			n.mu.Unlock()
		}
		value["nodes"] = a.nodes
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
		if err = t.SetClockOffset(ctx, id, st.Offset); err == nil && st.Mode == "strobe" {
			sctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			n.mu.Lock()
			a.cancel, a.done = cancel, done
			n.mu.Unlock()
			go n.strobe(sctx, t, id, st.Offset, st.Period, done)
		}
	case "packet":
		id := st.Nodes[0]
		value["nodes"] = st.Nodes
		value["netem"] = st.Packet
		a.desc = fmt.Sprintf("packet=%s(%s)", id, st.Mode)
		n.setActive(st.Fault, a)
		err = t.Packet(ctx, id, st.Packet)
	default:
		err = fmt.Errorf("unknown fault %q", st.Fault)
	}
	if err != nil {
		err = fmt.Errorf("nemesis: start %s (%s): %w", st.Fault, st.Mode, err)
		if rerr := record(rec, "start-"+st.Fault, value, err); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return record(rec, "start-"+st.Fault, value, nil)
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
// ctx ends.
func (n *Nemesis) strobe(ctx context.Context, t Target, id string, offset, period time.Duration, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(period)
	defer tick.Stop()
	on := true
	failures := 0
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
		switch {
		case err == nil || ctx.Err() != nil:
			failures = 0
		case failures < 2:
			// One slow answer does not end the run; three in a row do.
			failures++
			on = !on // retry the same flip at the next tick
		default:
			n.mu.Lock()
			if n.strobeErr == nil {
				n.strobeErr = fmt.Errorf("nemesis: clock strobe on %s failed 3 times in a row: %w", id, err)
			}
			n.mu.Unlock()
			return
		}
	}
}

func (n *Nemesis) stop(ctx context.Context, t Target, rec Recorder, f string) error {
	n.mu.Lock()
	a := n.active[f]
	n.mu.Unlock()
	if a == nil {
		return nil
	}
	st := a.step
	value := map[string]any{"mode": st.Mode}
	var errs []error
	switch f {
	case "partition":
		value["topology"] = st.Mode
		if err := t.Partition(ctx, nil); err != nil {
			errs = append(errs, err)
		}
	case "kill", "pause":
		undo := t.Restart
		if f == "pause" {
			undo = t.Resume
		}
		n.mu.Lock()
		nodes := slices.Clone(a.nodes)
		n.mu.Unlock()
		value["nodes"] = nodes
		for _, id := range nodes {
			if err := undo(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
			}
		}
	case "clock":
		n.mu.Lock()
		cancel, done := a.cancel, a.done
		n.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		value["nodes"] = st.Nodes
		value["offset_ms"] = 0
		for _, id := range st.Nodes {
			if err := t.SetClockOffset(ctx, id, 0); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
			}
		}
	case "packet":
		value["nodes"] = st.Nodes
		for _, id := range st.Nodes {
			if err := t.Packet(ctx, id, PacketFault{}); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		err = fmt.Errorf("nemesis: stop %s: %w", f, err)
		return errors.Join(err, record(rec, "stop-"+f, value, err))
	}
	n.setActive(f, nil)
	return record(rec, "stop-"+f, value, nil)
}
