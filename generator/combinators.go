package generator

import (
	"sync"
	"time"
)

// Mix picks one of gens at random (uniformly, with the worker's Rand) for
// each op. Children that are done are dropped; Mix is done when all are.
// When every live child waits, Mix waits until the earliest.
func Mix(gens ...Generator) Generator {
	return &mix{gens: gens, done: map[int]map[int]bool{}}
}

type mix struct {
	gens []Generator
	mu   sync.Mutex
	done map[int]map[int]bool // worker -> child index -> done
}

func (m *mix) Next(ctx Context) Step {
	m.mu.Lock()
	d := m.done[ctx.Worker]
	if d == nil {
		d = map[int]bool{}
		m.done[ctx.Worker] = d
	}
	live := make([]int, 0, len(m.gens))
	for i := range m.gens {
		if !d[i] {
			live = append(live, i)
		}
	}
	m.mu.Unlock()
	if len(live) == 0 {
		return Finished()
	}
	// Try a random child first, then the others in order, so a waiting
	// child does not block the rest.
	first := ctx.Rand.IntN(len(live))
	var earliest *time.Duration
	for k := 0; k < len(live); k++ {
		i := live[(first+k)%len(live)]
		s := m.gens[i].Next(ctx)
		switch s.Kind {
		case Emit:
			return s
		case Wait:
			if earliest == nil || s.Until < *earliest {
				u := s.Until
				earliest = &u
			}
		case Done:
			m.mu.Lock()
			d[i] = true
			m.mu.Unlock()
		}
	}
	if earliest != nil {
		return Waiting(*earliest)
	}
	return Finished()
}

// Update passes completions to every child: a child ignores ops it did not
// emit, by key or function (the bundled workloads' generators do).
func (m *mix) Update(ctx Context, op Op, c Completion) {
	for _, g := range m.gens {
		update(g, ctx, op, c)
	}
}

// Stagger spaces each worker's ops by a random gap, uniform in
// [0, 2*mean), so the mean gap per worker is mean.
func Stagger(mean time.Duration, g Generator) Generator {
	return &stagger{mean: func(Context) time.Duration { return mean }, g: g, next: map[int]time.Duration{}}
}

// Rate spaces ops so that all workers together emit about opsPerSec
// operations per second (each worker staggers by Workers/opsPerSec). A
// rate <= 0 leaves g unchanged: as fast as possible.
func Rate(opsPerSec float64, g Generator) Generator {
	if opsPerSec <= 0 {
		return g
	}
	return &stagger{
		mean: func(ctx Context) time.Duration {
			return time.Duration(float64(ctx.Workers) / opsPerSec * float64(time.Second))
		},
		g: g, next: map[int]time.Duration{},
	}
}

type stagger struct {
	mean func(Context) time.Duration
	g    Generator
	mu   sync.Mutex
	next map[int]time.Duration // worker -> earliest time of its next op
}

func (s *stagger) Next(ctx Context) Step {
	s.mu.Lock()
	at, seen := s.next[ctx.Worker]
	s.mu.Unlock()
	if seen && ctx.Now < at {
		return Waiting(at)
	}
	st := s.g.Next(ctx)
	if st.Kind == Emit {
		gap := time.Duration(0)
		if m := s.mean(ctx); m > 0 {
			gap = time.Duration(ctx.Rand.Int64N(int64(2 * m)))
		}
		s.mu.Lock()
		s.next[ctx.Worker] = ctx.Now + gap
		s.mu.Unlock()
	}
	return st
}

func (s *stagger) Update(ctx Context, op Op, c Completion) { update(s.g, ctx, op, c) }

// Limit emits at most n ops of g, counted over all workers.
func Limit(n int, g Generator) Generator { return &limit{left: n, g: g} }

type limit struct {
	mu   sync.Mutex
	left int
	g    Generator
}

func (l *limit) Next(ctx Context) Step {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left <= 0 {
		return Finished()
	}
	// Hold the lock across the child: two workers must not both take
	// the last op.
	s := l.g.Next(ctx)
	if s.Kind == Emit {
		l.left--
	}
	return s
}

func (l *limit) Update(ctx Context, op Op, c Completion) { update(l.g, ctx, op, c) }

// Once emits g's first op to one worker only, then is done.
func Once(g Generator) Generator { return Limit(1, g) }

// TimeLimit runs g for d, from the first time any worker asks; then it is
// done (ops already emitted run to completion).
func TimeLimit(d time.Duration, g Generator) Generator { return &timeLimit{d: d, g: g} }

type timeLimit struct {
	d       time.Duration
	g       Generator
	mu      sync.Mutex
	started bool
	end     time.Duration
}

func (t *timeLimit) Next(ctx Context) Step {
	t.mu.Lock()
	if !t.started {
		t.started, t.end = true, ctx.Now+t.d
	}
	end := t.end
	t.mu.Unlock()
	if ctx.Now >= end {
		return Finished()
	}
	s := t.g.Next(ctx)
	if s.Kind == Wait && s.Until >= end {
		// Waiting past the end: be done at the end instead.
		return Waiting(end)
	}
	return s
}

func (t *timeLimit) Update(ctx Context, op Op, c Completion) { update(t.g, ctx, op, c) }

// Sleep makes each worker wait d from the first time it asks, then is done
// for that worker. Inside Seq it puts a pause between two stages.
func Sleep(d time.Duration) Generator { return &sleep{d: d, until: map[int]time.Duration{}} }

type sleep struct {
	d     time.Duration
	mu    sync.Mutex
	until map[int]time.Duration
}

func (s *sleep) Next(ctx Context) Step {
	s.mu.Lock()
	u, ok := s.until[ctx.Worker]
	if !ok {
		u = ctx.Now + s.d
		s.until[ctx.Worker] = u
	}
	s.mu.Unlock()
	if ctx.Now >= u {
		return Finished()
	}
	return Waiting(u)
}

// Seq runs gens one after another, per worker: a worker moves to the next
// generator when the current one is done for it (other workers may still
// be in an earlier one; see Phases for a barrier).
func Seq(gens ...Generator) Generator { return &seq{gens: gens, at: map[int]int{}} }

// seq is Seq, and with barrier set, Phases.
type seq struct {
	gens    []Generator
	barrier bool // no worker starts gens[i] before every worker finished gens[i-1]
	mu      sync.Mutex
	at      map[int]int // worker -> index of its current generator (generators it has finished)
}

func (s *seq) Next(ctx Context) Step {
	for {
		s.mu.Lock()
		i := s.at[ctx.Worker]
		if i >= len(s.gens) {
			s.mu.Unlock()
			return Finished()
		}
		if s.barrier && i > 0 {
			for w := 0; w < ctx.Workers; w++ {
				if s.at[w] < i {
					s.mu.Unlock()
					return Waiting(ctx.Now + PollInterval)
				}
			}
		}
		s.mu.Unlock()
		st := s.gens[i].Next(ctx)
		if st.Kind != Done {
			return st
		}
		s.mu.Lock()
		s.at[ctx.Worker] = i + 1
		s.mu.Unlock()
	}
}

func (s *seq) Update(ctx Context, op Op, c Completion) {
	for _, g := range s.gens {
		update(g, ctx, op, c)
	}
}

// Ops emits each op once, to whichever worker asks first, in order.
func Ops(ops ...Op) Generator { return &queue{ops: ops} }

type queue struct {
	mu  sync.Mutex
	ops []Op
}

func (q *queue) Next(Context) Step {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ops) == 0 {
		return Finished()
	}
	op := q.ops[0]
	q.ops = q.ops[1:]
	return Emitting(op)
}

// EachWorker gives every worker its own generator, made by fn on the
// worker's first request (per-worker sequences).
func EachWorker(fn func(worker int) Generator) Generator {
	return &each{fn: fn, key: func(ctx Context) int { return ctx.Worker }, gens: map[int]Generator{}}
}

// each keeps one generator per key (a worker or a process id).
type each struct {
	fn   func(int) Generator
	key  func(Context) int
	mu   sync.Mutex
	gens map[int]Generator
}

func (e *each) get(ctx Context) Generator {
	k := e.key(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.gens[k]
	if !ok {
		g = e.fn(k)
		e.gens[k] = g
	}
	return g
}

func (e *each) Next(ctx Context) Step { return e.get(ctx).Next(ctx) }

func (e *each) Update(ctx Context, op Op, c Completion) { update(e.get(ctx), ctx, op, c) }

// PollInterval is how often a worker waiting at a Phases barrier asks
// again.
const PollInterval = 5 * time.Millisecond

// Phases runs gens one after another with a barrier between them: no
// worker starts phase i+1 before every worker is done with phase i (a
// worker counts as done once the phase's generator says Done to it; the
// runner only asks when the worker has no op outstanding, so phase i's ops
// have all completed when phase i+1 starts).
func Phases(gens ...Generator) Generator {
	return &seq{gens: gens, barrier: true, at: map[int]int{}}
}

// EachProcess gives every process its own generator, made by fn on the
// process's first request: a worker whose process was retired (after an
// info) starts a fresh sequence under its new process id.
func EachProcess(fn func(process int) Generator) Generator {
	return &each{fn: fn, key: func(ctx Context) int { return ctx.Process }, gens: map[int]Generator{}}
}
