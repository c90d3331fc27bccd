package generator

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// randomGen builds a random composition of the combinators from r, and
// returns a constructor so the same tree can be built twice.
func randomGen(r *rand.Rand, depth int) func() Generator {
	leaf := func() func() Generator {
		f := fmt.Sprint("f", r.IntN(3))
		return func() Generator {
			return Func(func(ctx Context) Op {
				return Op{F: f, Key: fmt.Sprint(ctx.Rand.IntN(5)), Value: []byte(fmt.Sprint(ctx.Rand.IntN(100))), Node: -1}
			})
		}
	}
	if depth == 0 {
		return leaf()
	}
	switch r.IntN(8) {
	case 0:
		a, b := randomGen(r, depth-1), randomGen(r, depth-1)
		return func() Generator { return Mix(a(), b()) }
	case 1:
		d := time.Duration(1+r.IntN(20)) * time.Millisecond
		g := randomGen(r, depth-1)
		return func() Generator { return Stagger(d, g()) }
	case 2:
		n := r.IntN(50)
		g := randomGen(r, depth-1)
		return func() Generator { return Limit(n, g()) }
	case 3:
		d := time.Duration(1+r.IntN(500)) * time.Millisecond
		g := randomGen(r, depth-1)
		return func() Generator { return TimeLimit(d, g()) }
	case 4:
		a, b := randomGen(r, depth-1), randomGen(r, depth-1)
		return func() Generator { return Seq(Limit(10, a()), Sleep(5*time.Millisecond), b()) }
	case 5:
		a, b := randomGen(r, depth-1), randomGen(r, depth-1)
		return func() Generator { return Phases(Limit(7, a()), b()) }
	case 6:
		g := randomGen(r, depth-1)
		return func() Generator { return EachWorker(func(int) Generator { return g() }) }
	default:
		return leaf()
	}
}

// Properties of every composition: with a fake clock the schedule is a
// function of the seed (sim checks that waits never go back in time), and
// a limit or time limit at the top is never exceeded.
func TestCompositionsProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		mk := randomGen(r, 1+r.IntN(4))
		workers := 1 + r.IntN(4)
		seed := r.Int64()
		n := 1 + r.IntN(100)
		limit := time.Duration(1+r.IntN(300)) * time.Millisecond

		a := sim(t, Limit(n, TimeLimit(limit, mk())), workers, seed, time.Millisecond, 5000)
		b := sim(t, Limit(n, TimeLimit(limit, mk())), workers, seed, time.Millisecond, 5000)
		assert.Equal(t, a, b, "case %d: same seed, same schedule", i)
		assert.LessOrEqual(t, len(a), n, "case %d: limit", i)
		for _, o := range a {
			assert.Less(t, o.At, limit, "case %d: op after the time limit", i)
		}
	}
}
