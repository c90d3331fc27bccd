package checkertest

import (
	"math/rand/v2"
	"strconv"

	"github.com/faultline/faultline/history"
)

// RegisterConfig shapes a simulated register (kv) history.
type RegisterConfig struct {
	Seed      uint64
	Ops       int // operations invoked (final reads not included)
	Processes int // concurrent processes (threads)
	Keys      int
	// ReadRate and CASRate are the shares of reads and cas (the rest are
	// writes).
	ReadRate, CASRate float64
	// InfoRate is the share of operations that end with info; LostRate
	// the share that never complete. Either retires its process, which a
	// fresh process id replaces, as the harness does.
	InfoRate, LostRate float64
	// Nodes is how many nodes do a final read of every key (0: none).
	Nodes int
}

type pending struct {
	inv      history.Event
	applied  bool
	result   string // read result, canonical
	mismatch bool
}

// Register simulates clients against one atomic, single-copy register map:
// each operation takes effect at one random instant inside its
// [invoke, complete] window (or, for info and lost ones, may not take
// effect at all). Written values are unique per key (a differentiated
// history), so the history is valid under every model the checkers know:
// linearizable, causal+, causal, eventual.
func Register(cfg RegisterConfig) []history.Event {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	if cfg.Processes <= 0 {
		cfg.Processes = 5
	}
	if cfg.Keys <= 0 {
		cfg.Keys = 3
	}
	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	state := map[string]string{}
	next := int64(1)
	s := newSim(cfg.Processes)
	open := map[int]*pending{}
	invoked := 0
	for invoked < cfg.Ops || len(open) > 0 {
		t, p := s.pick(rng)
		pd, busy := open[p]
		switch {
		case !busy:
			if invoked >= cfg.Ops {
				continue
			}
			invoked++
			key := keys[rng.IntN(len(keys))]
			e := history.Event{Process: p, Type: history.Invoke, Key: key, Node: "n" + strconv.Itoa(p%3+1)}
			switch x := rng.Float64(); {
			case x < cfg.ReadRate:
				e.F, e.Value = history.FRead, history.Null
			case x < cfg.ReadRate+cfg.CASRate:
				e.F = history.FCAS
				exp := next - 1 - int64(rng.IntN(3))
				if cur, ok := state[key]; ok && rng.IntN(2) == 0 {
					exp, _ = strconv.ParseInt(cur, 10, 64)
				}
				e.Value = history.CASValue(exp, next)
				next++
			default:
				e.F, e.Value = history.FWrite, history.IntValue(next)
				next++
			}
			s.emit(e)
			open[p] = &pending{inv: e}
		case !pd.applied:
			// An info or lost op may end before it took effect.
			if rng.Float64() < (cfg.InfoRate+cfg.LostRate)/2 {
				retire(s, pd, rng, cfg)
				delete(open, p)
				s.freshProcess(t)
				continue
			}
			apply(state, pd)
		default:
			if rng.Float64() < (cfg.InfoRate+cfg.LostRate)/2 {
				retire(s, pd, rng, cfg)
				delete(open, p)
				s.freshProcess(t)
				continue
			}
			c := history.Event{Process: p, Type: history.OK, F: pd.inv.F, Key: pd.inv.Key, Value: pd.inv.Value, Node: pd.inv.Node}
			if pd.inv.F == history.FRead {
				c.Value = []byte(pd.result)
			}
			if pd.mismatch {
				c.Type, c.Error = history.Fail, history.ErrorMismatch
			}
			s.emit(c)
			delete(open, p)
		}
	}
	for n := 0; n < cfg.Nodes; n++ {
		node := "n" + strconv.Itoa(n+1)
		for _, key := range keys {
			p := s.newProcess()
			s.emit(history.Event{Process: p, Type: history.Invoke, F: history.FRead, Key: key, Value: history.Null, Node: node, Final: true})
			v := "null"
			if cur, ok := state[key]; ok {
				v = cur
			}
			s.emit(history.Event{Process: p, Type: history.OK, F: history.FRead, Key: key, Value: []byte(v), Node: node, Final: true})
		}
	}
	return s.events
}

func apply(state map[string]string, pd *pending) {
	pd.applied = true
	key := pd.inv.Key
	cur, ok := state[key]
	switch pd.inv.F {
	case history.FRead:
		pd.result = "null"
		if ok {
			pd.result = cur
		}
	case history.FWrite:
		state[key] = history.Canonical(pd.inv.Value)
	case history.FCAS:
		exp, nw, _ := history.SplitCAS(pd.inv.Value)
		if ok && cur == history.Canonical(exp) {
			state[key] = history.Canonical(nw)
		} else {
			pd.mismatch = true
		}
	}
}

// retire ends pd with info, or leaves it never completed.
func retire(s *sim, pd *pending, rng *rand.Rand, cfg RegisterConfig) {
	lost := rng.Float64()*(cfg.InfoRate+cfg.LostRate) < cfg.LostRate
	if lost {
		return
	}
	s.emit(history.Event{Process: pd.inv.Process, Type: history.Info, F: pd.inv.F, Key: pd.inv.Key, Value: pd.inv.Value, Node: pd.inv.Node, Error: "timeout"})
}

// SetConfig shapes a simulated set history.
type SetConfig struct {
	Seed      uint64
	Ops       int
	Processes int
	Sets      int
	ReadRate  float64
	InfoRate  float64
	Nodes     int // final reads per set (at least 1)
}

// Set simulates clients adding unique elements to sets held by one atomic
// store, and reading them whole; it ends with final reads. The history is
// valid under the set checker.
func Set(cfg SetConfig) []history.Event {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1))
	if cfg.Processes <= 0 {
		cfg.Processes = 5
	}
	if cfg.Sets <= 0 {
		cfg.Sets = 1
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 1
	}
	sets := map[string][]int64{}
	names := make([]string, cfg.Sets)
	for i := range names {
		names[i] = "s" + strconv.Itoa(i)
	}
	type pend struct {
		inv     history.Event
		applied bool
		read    []int64
	}
	s := newSim(cfg.Processes)
	open := map[int]*pend{}
	next, invoked := int64(0), 0
	for invoked < cfg.Ops || len(open) > 0 {
		t, p := s.pick(rng)
		pd, busy := open[p]
		switch {
		case !busy:
			if invoked >= cfg.Ops {
				continue
			}
			invoked++
			e := history.Event{Process: p, Type: history.Invoke, Key: names[rng.IntN(len(names))], Value: history.Null}
			if rng.Float64() < cfg.ReadRate {
				e.F = history.FRead
			} else {
				e.F, e.Value = history.FAdd, history.IntValue(next)
				next++
			}
			s.emit(e)
			open[p] = &pend{inv: e}
		case !pd.applied:
			pd.applied = true
			if pd.inv.F == history.FAdd {
				v, _ := strconv.ParseInt(string(pd.inv.Value), 10, 64)
				sets[pd.inv.Key] = append(sets[pd.inv.Key], v)
			} else {
				pd.read = append([]int64{}, sets[pd.inv.Key]...)
			}
		default:
			delete(open, p)
			if rng.Float64() < cfg.InfoRate {
				s.emit(history.Event{Process: p, Type: history.Info, F: pd.inv.F, Key: pd.inv.Key, Value: pd.inv.Value, Error: "timeout"})
				s.freshProcess(t)
				continue
			}
			c := history.Event{Process: p, Type: history.OK, F: pd.inv.F, Key: pd.inv.Key, Value: pd.inv.Value}
			if pd.inv.F == history.FRead {
				c.Value = history.MustValue(nonNil(pd.read))
			}
			s.emit(c)
		}
	}
	for n := 0; n < cfg.Nodes; n++ {
		for _, name := range names {
			p := s.newProcess()
			node := "n" + strconv.Itoa(n+1)
			s.emit(history.Event{Process: p, Type: history.Invoke, F: history.FRead, Key: name, Value: history.Null, Node: node, Final: true})
			s.emit(history.Event{Process: p, Type: history.OK, F: history.FRead, Key: name, Value: history.MustValue(nonNil(sets[name])), Node: node, Final: true})
		}
	}
	return s.events
}

func nonNil(v []int64) []int64 {
	if v == nil {
		return []int64{}
	}
	return v
}

// sim is what both simulations share: the history so far, and client
// threads that each run one process at a time; a thread whose operation
// ends with info (or never completes) goes on under a fresh process id, as
// in the harness.
type sim struct {
	events   []history.Event
	threads  []int // thread -> current process
	nextProc int
}

func newSim(processes int) *sim {
	s := &sim{threads: make([]int, processes), nextProc: processes}
	for i := range s.threads {
		s.threads[i] = i
	}
	return s
}

// emit appends e with the next index and a time 1000 ns after the last.
func (s *sim) emit(e history.Event) {
	e.Index = int64(len(s.events))
	e.Time = int64(len(s.events)) * 1000
	s.events = append(s.events, e)
}

// pick chooses a thread at random and returns it with its process.
func (s *sim) pick(rng *rand.Rand) (thread, process int) {
	t := rng.IntN(len(s.threads))
	return t, s.threads[t]
}

// freshProcess gives thread a fresh process id.
func (s *sim) freshProcess(thread int) { s.threads[thread] = s.newProcess() }

// newProcess is a process id not used before.
func (s *sim) newProcess() int {
	p := s.nextProc
	s.nextProc++
	return p
}
