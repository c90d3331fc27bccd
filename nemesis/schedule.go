package nemesis

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"time"
)

// Step is one change the nemesis makes: start or stop one fault. The whole
// sequence of steps is a pure function of the seed, the fault list, the
// node ids and the outcomes of the steps (Schedule), so a run's fault
// choices can be replayed; only what the cluster answers at run time (the
// leader, for isolate-leader; a fault that could not be applied) is not.
type Step struct {
	// Wait is the gap before the step.
	Wait  time.Duration
	Start bool
	Fault string
	// Mode: kill and pause: one, minority, majority, all; power: one,
	// minority, all; clock: bump,
	// strobe; packet: delay, loss, duplicate, reorder; partition: the
	// topology.
	Mode string
	// Nodes are the nodes the fault acts on; for a partition, the node
	// order the topology cuts (the victim first for one, one-way and the
	// isolate-leader fallback).
	Nodes  []string
	Offset time.Duration // clock
	Period time.Duration // clock strobe: time between flips
	Packet PacketFault   // packet
	// Blocked names the fault drawn to start when it found too few nodes
	// it could act on and waits (Fault is empty then).
	Blocked string
}

// Schedule draws Steps from a seed. It keeps the state of every node
// (which active fault holds it) and draws each fault's targets among the
// nodes that fault can act on (see kinds), so that it never pauses a
// killed node, kills a paused one, or skews the clock of either.
//
// Next assumes each step takes effect; the nemesis tells it otherwise
// with Settle. The steps are then a pure function of the seed, the
// configuration, the node ids and the outcomes settled.
type Schedule struct {
	rng        *rand.Rand
	faults     []string
	topologies []string
	packets    []string
	interval   time.Duration
	nodes      []string
	active     map[string]Step
	stats      Stats
	powerCut   bool // a power step was drawn: the first one took the whole cluster
}

// PacketModes lists the packet faults the packet nemesis draws from:
// delay (50–200 ms, 10 ms jitter), loss (5–30 %), duplicate (5–20 %),
// reorder (10–50 % of packets sent without a 20 ms delay).
var PacketModes = []string{"delay", "loss", "duplicate", "reorder"}

// ParsePacketModes parses a comma-separated list of PacketModes ("" or
// "all" = all of them).
func ParsePacketModes(spec string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			continue
		case name == "all":
			out = append(out, PacketModes...)
			continue
		case !slices.Contains(PacketModes, name):
			return nil, fmt.Errorf("unknown packet fault %q: valid names are %s, all", name, strings.Join(PacketModes, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		out = append(out, PacketModes...)
	}
	return slices.Compact(out), nil
}

// NewSchedule returns the schedule for cfg on nodes.
func NewSchedule(cfg Config, nodes []string) *Schedule {
	interval := cfg.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	topo := cfg.Partitions
	if len(topo) == 0 {
		topo = Topologies
	}
	var usable []string
	for _, t := range topo {
		if topologyFits(t, len(nodes)) {
			usable = append(usable, t)
		}
	}
	packets := cfg.Packets
	if len(packets) == 0 {
		packets = PacketModes
	}
	ns := slices.Clone(nodes)
	sort.Strings(ns)
	return &Schedule{
		rng:        rand.New(rand.NewSource(cfg.Seed)),
		faults:     slices.Clone(cfg.Faults),
		topologies: usable,
		packets:    packets,
		interval:   interval,
		nodes:      ns,
		active:     map[string]Step{},
	}
}

func topologyFits(t string, n int) bool {
	switch t {
	case "majorities-ring":
		return n >= 4
	case "bridge":
		return n >= 3
	}
	return n >= 2
}

// Next returns the next step: it stops an active fault (half the time,
// or whenever no other fault can start) or starts an inactive one on
// targets drawn among all nodes; drawn nodes the fault cannot act on are
// replaced by nodes it can (a clash counted as moved), or, when too few
// are left, the step starts nothing and the fault waits (a clash counted
// as waited; the step's Fault is empty and Blocked names it). With no
// fault configured it returns steps with an empty Fault.
func (s *Schedule) Next() Step {
	wait := time.Duration(float64(s.interval) * (0.5 + s.rng.Float64()))
	startable := s.startable()
	var active []string
	for f := range s.active {
		active = append(active, f)
	}
	sort.Strings(active)
	if len(active) > 0 && (len(startable) == 0 || s.rng.Intn(2) == 0) {
		f := active[s.rng.Intn(len(active))]
		st := s.active[f]
		delete(s.active, f)
		st.Start = false
		st.Wait = wait
		return st
	}
	if len(startable) == 0 {
		return Step{Wait: wait}
	}
	f := startable[s.rng.Intn(len(startable))]
	st, spare := s.plan(f)
	st.Wait = wait
	if f != "partition" {
		nodes, clash := resolve(f, st.Nodes, spare, conditions(s.nodes, s.active))
		switch clash {
		case clashWaited:
			s.stats.Waited++
			return Step{Wait: wait, Blocked: f}
		case clashMoved:
			s.stats.Moved++
		}
		st.Nodes = nodes
		if f == "kill" || f == "pause" || f == "power" {
			sort.Strings(st.Nodes)
		}
	}
	s.active[f] = st
	if f == "power" {
		s.powerCut = true
	}
	return st
}

// Settle records the outcome of step st: the nodes on which its fault is
// in effect now (none: it is not). A start that failed on some nodes, or
// a stop that failed to undo some, thus leaves the schedule's state as
// the cluster's.
func (s *Schedule) Settle(st Step, on []string) {
	if st.Fault == "" {
		return
	}
	if len(on) == 0 {
		delete(s.active, st.Fault)
		return
	}
	st.Start, st.Wait = true, 0
	st.Nodes = slices.Clone(on)
	s.active[st.Fault] = st
}

// Stats returns the clashes counted so far (Moved, Waited).
func (s *Schedule) Stats() Stats { return s.stats }

// Active returns the steps that started the faults active now.
func (s *Schedule) Active() []Step {
	var out []Step
	for _, st := range s.active {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fault < out[j].Fault })
	return out
}

// startable lists the configured faults not active now. Each fault kind
// is active at most once; whether it finds targets is decided when it is
// drawn.
func (s *Schedule) startable() []string {
	var out []string
	for _, f := range s.faults {
		if _, on := s.active[f]; on {
			continue
		}
		if f == "partition" && len(s.topologies) == 0 {
			continue
		}
		out = append(out, f)
	}
	return out
}

func (s *Schedule) shuffled(nodes []string) []string {
	out := slices.Clone(nodes)
	s.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// count returns how many nodes a mode takes out of n.
func count(mode string, n int) int {
	switch mode {
	case "one":
		return 1
	case "minority":
		return max(1, (n-1)/2)
	case "majority":
		return n/2 + 1
	}
	return n // all
}

// plan draws fault f's step as if every node were up: the targets among
// all nodes, and the other nodes (spare, shuffled) to replace targets the
// fault cannot act on.
func (s *Schedule) plan(f string) (Step, []string) {
	st := Step{Start: true, Fault: f}
	order := s.shuffled(s.nodes)
	var spare []string
	switch f {
	case "partition":
		st.Mode = s.topologies[s.rng.Intn(len(s.topologies))]
		st.Nodes = order
	case "kill", "pause":
		modes := []string{"one", "minority", "majority", "all"}
		st.Mode = modes[s.rng.Intn(len(modes))]
		k := count(st.Mode, len(s.nodes))
		st.Nodes, spare = order[:k], order[k:]
	case "power":
		// The whole cluster at once is the worst case (nothing is left
		// to copy lost writes back from): the first power cut of a run
		// takes it, later ones draw it half the time.
		modes := []string{"one", "minority", "all", "all"}
		st.Mode = modes[s.rng.Intn(len(modes))]
		if !s.powerCut {
			st.Mode = "all"
		}
		k := count(st.Mode, len(s.nodes))
		st.Nodes, spare = order[:k], order[k:]
	case "clock":
		st.Nodes, spare = order[:1], order[1:]
		// |offset| log-uniform from 10 ms to about 5 minutes.
		ms := math.Pow(10, 1+s.rng.Float64()*3.5)
		st.Offset = time.Duration(ms * float64(time.Millisecond)).Round(time.Millisecond)
		if s.rng.Intn(2) == 0 {
			st.Offset = -st.Offset
		}
		st.Mode = "bump"
		if s.rng.Intn(3) == 0 {
			st.Mode = "strobe"
			st.Period = time.Duration(10+s.rng.Intn(190)) * time.Millisecond
		}
	case "packet":
		modes := s.packets
		st.Mode = modes[s.rng.Intn(len(modes))]
		st.Nodes, spare = order[:1], order[1:]
		switch st.Mode {
		case "delay":
			st.Packet = PacketFault{Delay: time.Duration(50+s.rng.Intn(150)) * time.Millisecond, Jitter: 10 * time.Millisecond}
		case "loss":
			st.Packet = PacketFault{Loss: float64(5 + s.rng.Intn(26))}
		case "duplicate":
			st.Packet = PacketFault{Duplicate: float64(5 + s.rng.Intn(16))}
		case "reorder":
			st.Packet = PacketFault{Delay: 20 * time.Millisecond, Reorder: float64(10 + s.rng.Intn(41))}
		}
	}
	return st, spare
}
