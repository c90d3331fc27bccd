package generator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sim drives g like the runner does, with a fake clock: workers take turns
// in order; an op takes opTime; a waiting worker sleeps until its time.
type simOp struct {
	Worker int
	At     time.Duration
	Op     Op
}

func sim(t *testing.T, g Generator, workers int, seed int64, opTime time.Duration, maxOps int) []simOp {
	t.Helper()
	rands := make([]ctxState, workers)
	for w := range rands {
		rands[w] = ctxState{ctx: Context{Worker: w, Workers: workers, Process: w, Rand: NewRand(seed, w)}}
	}
	var out []simOp
	for len(out) < maxOps {
		// the worker whose clock is earliest goes next (ties: lowest index)
		best := -1
		for w := range rands {
			if rands[w].done {
				continue
			}
			if best < 0 || rands[w].ctx.Now < rands[best].ctx.Now {
				best = w
			}
		}
		if best < 0 {
			return out
		}
		st := &rands[best]
		s := g.Next(st.ctx)
		switch s.Kind {
		case Emit:
			out = append(out, simOp{Worker: best, At: st.ctx.Now, Op: s.Op})
			st.ctx.Now += opTime
			update(g, st.ctx, s.Op, Completion{Type: "ok"})
		case Wait:
			require.Greater(t, s.Until, st.ctx.Now-1, "a wait must not go back in time")
			if s.Until == st.ctx.Now {
				st.ctx.Now++
			} else {
				st.ctx.Now = s.Until
			}
		case Done:
			st.done = true
		}
	}
	return out
}

type ctxState struct {
	ctx  Context
	done bool
}

func counter(f string) Generator {
	n := map[int]int{}
	return Func(func(ctx Context) Op {
		n[ctx.Worker]++
		return Op{F: f, Key: fmt.Sprint(ctx.Worker), Value: []byte(fmt.Sprint(n[ctx.Worker])), Node: -1}
	})
}

func perWorker(ops []simOp) map[int][]string {
	m := map[int][]string{}
	for _, o := range ops {
		m[o.Worker] = append(m[o.Worker], o.Op.F+":"+string(o.Op.Value))
	}
	return m
}

func TestMixDeterministicUnderSeed(t *testing.T) {
	mk := func() Generator {
		return Mix(
			Func(func(ctx Context) Op { return Op{F: "read", Node: -1} }),
			Func(func(ctx Context) Op {
				return Op{F: "write", Value: []byte(fmt.Sprint(ctx.Rand.IntN(1000))), Node: -1}
			}),
		)
	}
	a := perWorker(sim(t, mk(), 4, 42, time.Millisecond, 400))
	b := perWorker(sim(t, mk(), 4, 42, time.Millisecond, 400))
	c := perWorker(sim(t, mk(), 4, 43, time.Millisecond, 400))
	assert.Equal(t, a, b, "same seed, same ops per worker")
	assert.NotEqual(t, a, c, "another seed, other ops")
	// both functions occur
	fs := map[string]int{}
	for _, ops := range a {
		for _, o := range ops {
			fs[o[:4]]++
		}
	}
	assert.Greater(t, fs["read"], 50)
	assert.Greater(t, fs["writ"], 50)
}

func TestMixDropsDoneChildren(t *testing.T) {
	ops := sim(t, Mix(Limit(3, Repeat(Op{F: "a"})), Limit(5, Repeat(Op{F: "b"}))), 2, 1, time.Millisecond, 100)
	n := map[string]int{}
	for _, o := range ops {
		n[o.Op.F]++
	}
	assert.Equal(t, map[string]int{"a": 3, "b": 5}, n)
}

func TestLimitCountsOverAllWorkers(t *testing.T) {
	ops := sim(t, Limit(10, counter("x")), 3, 1, time.Millisecond, 100)
	assert.Len(t, ops, 10)
}

func TestOnce(t *testing.T) {
	ops := sim(t, Once(Repeat(Op{F: "start"})), 5, 1, time.Millisecond, 100)
	require.Len(t, ops, 1)
	assert.Equal(t, "start", ops[0].Op.F)
}

func TestTimeLimit(t *testing.T) {
	ops := sim(t, TimeLimit(100*time.Millisecond, counter("x")), 2, 1, 10*time.Millisecond, 1000)
	// each worker does one op per 10ms for 100ms
	assert.Len(t, ops, 20)
	for _, o := range ops {
		assert.Less(t, o.At, 100*time.Millisecond)
	}
}

func TestTimeLimitCutsWaits(t *testing.T) {
	g := TimeLimit(50*time.Millisecond, Seq(Sleep(time.Hour), counter("x")))
	ctx := Context{Workers: 1, Rand: NewRand(1, 0)}
	s := g.Next(ctx)
	assert.Equal(t, Waiting(50*time.Millisecond), s, "a wait past the limit ends at the limit")
	ctx.Now = 50 * time.Millisecond
	assert.Equal(t, Done, g.Next(ctx).Kind)
}

func TestStaggerMeanGap(t *testing.T) {
	ops := sim(t, TimeLimit(10*time.Second, Stagger(10*time.Millisecond, counter("x"))), 1, 7, 0, 100000)
	// mean gap 10ms over 10s: about 1000 ops
	assert.InDelta(t, 1000, len(ops), 150)
}

func TestRateIsTotalOverWorkers(t *testing.T) {
	ops := sim(t, TimeLimit(10*time.Second, Rate(200, counter("x"))), 4, 7, 0, 100000)
	assert.InDelta(t, 2000, len(ops), 250, "200 ops/s over 10 s with 4 workers")
	assert.Equal(t, 5, len(sim(t, Limit(5, Rate(0, counter("x"))), 1, 1, 0, 100)), "rate 0 is as fast as possible")
}

func TestSleepThenSeq(t *testing.T) {
	ops := sim(t, Seq(Limit(1, Repeat(Op{F: "a"})), Sleep(time.Second), Limit(1, Repeat(Op{F: "b"}))), 1, 1, time.Millisecond, 10)
	require.Len(t, ops, 2)
	assert.Equal(t, "a", ops[0].Op.F)
	assert.Equal(t, "b", ops[1].Op.F)
	assert.GreaterOrEqual(t, ops[1].At, time.Second)
}

func TestPhasesBarrier(t *testing.T) {
	// worker 0 is slow in phase one; nobody may start phase two before it is done.
	slow := EachWorker(func(w int) Generator {
		n := 1
		if w == 0 {
			n = 5
		}
		return Limit(n, Repeat(Op{F: "one"}))
	})
	ops := sim(t, Phases(slow, Limit(4, Repeat(Op{F: "two"}))), 3, 1, 10*time.Millisecond, 100)
	var lastOne, firstTwo time.Duration = -1, time.Hour
	count := map[string]int{}
	for _, o := range ops {
		count[o.Op.F]++
		if o.Op.F == "one" && o.At > lastOne {
			lastOne = o.At
		}
		if o.Op.F == "two" && o.At < firstTwo {
			firstTwo = o.At
		}
	}
	assert.Equal(t, map[string]int{"one": 7, "two": 4}, count)
	assert.Greater(t, firstTwo, lastOne, "phase two starts after phase one's last op completed")
	assert.GreaterOrEqual(t, firstTwo, lastOne+10*time.Millisecond)
}

func TestOpsQueueOncePerOp(t *testing.T) {
	ops := sim(t, Ops(Op{F: "a"}, Op{F: "b"}, Op{F: "c"}), 3, 1, time.Millisecond, 100)
	var fs []string
	for _, o := range ops {
		fs = append(fs, o.Op.F)
	}
	assert.Equal(t, []string{"a", "b", "c"}, fs)
}

func TestEachWorkerSequences(t *testing.T) {
	g := EachWorker(func(w int) Generator {
		return Ops(Op{F: fmt.Sprint("w", w, "-1")}, Op{F: fmt.Sprint("w", w, "-2")})
	})
	m := map[int][]string{}
	for _, o := range sim(t, g, 3, 1, time.Millisecond, 100) {
		m[o.Worker] = append(m[o.Worker], o.Op.F)
	}
	assert.Equal(t, map[int][]string{0: {"w0-1", "w0-2"}, 1: {"w1-1", "w1-2"}, 2: {"w2-1", "w2-2"}}, m)
}

type recorder struct {
	Generator
	seen []Completion
}

func (r *recorder) Update(ctx Context, op Op, c Completion) { r.seen = append(r.seen, c) }

func TestUpdatesReachChildren(t *testing.T) {
	r := &recorder{Generator: Repeat(Op{F: "x"})}
	sim(t, Limit(3, Stagger(time.Millisecond, TimeLimit(time.Hour, Mix(Seq(r))))), 1, 1, time.Millisecond, 100)
	assert.Len(t, r.seen, 3)
}

func TestEachProcessRestartsAfterRetirement(t *testing.T) {
	g := EachProcess(func(p int) Generator {
		return Ops(Op{F: fmt.Sprint("p", p, "-1")}, Op{F: fmt.Sprint("p", p, "-2")})
	})
	ctx := Context{Worker: 0, Workers: 2, Process: 0, Rand: NewRand(1, 0)}
	assert.Equal(t, "p0-1", g.Next(ctx).Op.F)
	ctx.Process = 2 // retired after an info: process 0 + 2 workers
	assert.Equal(t, "p2-1", g.Next(ctx).Op.F, "a new process starts its own sequence")
	assert.Equal(t, "p2-2", g.Next(ctx).Op.F)
	assert.Equal(t, Done, g.Next(ctx).Kind)
}
