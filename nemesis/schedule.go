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
// sequence of steps is a pure function of the seed, the fault list and the
// node ids (Schedule), so a run's fault choices can be replayed; only what
// the cluster answers at run time (the leader, for isolate-leader) is not.
type Step struct {
	// Wait is the gap before the step.
	Wait  time.Duration
	Start bool
	Fault string
	// Mode: kill and pause: one, minority, majority, all; clock: bump,
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
}

// Schedule draws Steps from a seed. It tracks which faults are active and
// which nodes they hold, so that it never pauses a killed node, kills a
// paused one, or skews the clock of either.
type Schedule struct {
	rng        *rand.Rand
	faults     []string
	topologies []string
	packets    []string
	interval   time.Duration
	nodes      []string
	active     map[string]Step
	busy       map[string]string // node -> kill, pause or clock
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

// Node-holding faults: a node is held by at most one of them at a time.
var exclusive = []string{"kill", "pause", "clock"}

// NewSchedule returns the schedule for cfg on nodes.
func NewSchedule(cfg Config, nodes []string) *Schedule {
	interval := cfg.Interval
	if interval <= 0 {
		interval = 10 * time.Second
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
		busy:       map[string]string{},
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

// Next returns the next step. With no fault to start or stop (no faults
// configured), it returns a step with an empty Fault.
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
		for _, n := range st.Nodes {
			if s.busy[n] == f {
				delete(s.busy, n)
			}
		}
		st.Start = false
		st.Wait = wait
		return st
	}
	if len(startable) == 0 {
		return Step{Wait: wait}
	}
	f := startable[s.rng.Intn(len(startable))]
	st := s.plan(f)
	st.Wait = wait
	s.active[f] = st
	if slices.Contains(exclusive, f) {
		for _, n := range st.Nodes {
			s.busy[n] = f
		}
	}
	return st
}

// Active returns the steps that started the faults active now.
func (s *Schedule) Active() []Step {
	var out []Step
	for _, st := range s.active {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fault < out[j].Fault })
	return out
}

func (s *Schedule) startable() []string {
	var out []string
	free := len(s.free())
	for _, f := range s.faults {
		if _, on := s.active[f]; on {
			continue
		}
		switch f {
		case "partition":
			if len(s.topologies) == 0 {
				continue
			}
		case "kill", "pause", "clock":
			if free == 0 {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

func (s *Schedule) free() []string {
	var out []string
	for _, n := range s.nodes {
		if _, held := s.busy[n]; !held {
			out = append(out, n)
		}
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

func (s *Schedule) plan(f string) Step {
	st := Step{Start: true, Fault: f}
	switch f {
	case "partition":
		st.Mode = s.topologies[s.rng.Intn(len(s.topologies))]
		st.Nodes = s.shuffled(s.nodes)
	case "kill", "pause":
		// Only the modes that the free nodes can fill: the event's mode
		// always matches its node count.
		free := s.shuffled(s.free())
		var modes []string
		for _, m := range []string{"one", "minority", "majority", "all"} {
			if count(m, len(s.nodes)) <= len(free) {
				modes = append(modes, m)
			}
		}
		st.Mode = modes[s.rng.Intn(len(modes))]
		st.Nodes = free[:count(st.Mode, len(s.nodes))]
		sort.Strings(st.Nodes)
	case "clock":
		free := s.shuffled(s.free())
		st.Nodes = free[:1]
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
		st.Nodes = s.shuffled(s.nodes)[:1]
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
	return st
}
