package checkers_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// linOp is an operation of a small random single-key history for the
// brute-force linearizability reference. Values: 0 is null (absent).
type linOp struct {
	f            string // read, write, cas
	val, exp     int    // read result / written value / cas new; cas expected
	status       history.Type
	mismatch     bool
	call, ret    int
	completeOpen bool // never completed or info: return at infinity
}

// refLinearizable tries every order (and, for info operations, taking
// effect or not) of the operations: exponential, obviously right.
func refLinearizable(ops []linOp) bool {
	var live []int // ops that take part: not failed (except mismatch), not info reads
	for i, o := range ops {
		if o.status == history.Fail && !o.mismatch {
			continue
		}
		if o.f == "read" && o.status != history.OK {
			continue
		}
		live = append(live, i)
	}
	used := make([]bool, len(ops))
	var try func(state, placed int) bool
	try = func(state, placed int) bool {
		if placed == len(live) {
			return true
		}
		for _, i := range live {
			if used[i] {
				continue
			}
			o := ops[i]
			// Real time: every unplaced op that returned before o was
			// invoked must come first.
			blocked := false
			for _, j := range live {
				if !used[j] && j != i && !ops[j].completeOpen && ops[j].ret < o.call {
					blocked = true
					break
				}
			}
			if blocked {
				continue
			}
			next, ok := state, true
			match := state == o.exp && state != 0
			switch {
			case o.f == "read":
				ok = o.val == state
			case o.f == "write":
				next = o.val
			case o.mismatch:
				ok = !match
			case o.status == history.Info:
				if match {
					next = o.val
				}
			default:
				ok = match
				next = o.val
			}
			if ok {
				used[i] = true
				if try(next, placed+1) {
					return true
				}
				used[i] = false
			}
			// An info op may also never take effect.
			if o.completeOpen {
				used[i] = true
				if try(state, placed+1) {
					return true
				}
				used[i] = false
			}
		}
		return false
	}
	return try(0, 0)
}

func randomLinHistory(rng *rand.Rand) ([]linOp, *checkertest.Builder) {
	b := checkertest.New()
	var ops []linOp
	open := map[int]int{} // process -> op
	next := 0
	val := func(v int) any {
		if v == 0 {
			return nil
		}
		return v
	}
	t := 0
	limit := 3 + rng.IntN(4)
	for invoked := 0; invoked < limit || len(open) > 0; {
		if invoked >= limit && rng.IntN(6) == 0 {
			// The run ends with these invokes never completed.
			for _, i := range open {
				ops[i].status, ops[i].completeOpen = history.Info, true
			}
			break
		}
		p := rng.IntN(3)
		if i, busy := open[p]; busy {
			delete(open, p)
			o := &ops[i]
			o.ret = t
			switch x := rng.IntN(10); {
			case x < 2:
				o.status, o.completeOpen = history.Info, true
				b.Info(p)
			case x < 4 && o.f == "cas":
				o.status, o.mismatch = history.Fail, true
				b.Fail(p, history.ErrorMismatch)
			case x < 5:
				o.status = history.Fail
				b.Fail(p, "unavailable")
			default:
				o.status = history.OK
				b.OK(p, val(o.val))
			}
			t++
			continue
		}
		if invoked >= limit {
			continue
		}
		invoked++
		o := linOp{call: t}
		key := "x"
		switch rng.IntN(3) {
		case 0:
			o.f = "read"
			o.val = rng.IntN(next + 2)
			b.Invoke(p, "read", key, nil)
		case 1:
			next++
			o.f, o.val = "write", next
			b.Invoke(p, "write", key, next)
		default:
			next++
			o.f, o.val, o.exp = "cas", next, rng.IntN(next)
			b.Invoke(p, "cas", key, []any{val(o.exp), next})
		}
		open[p] = len(ops)
		ops = append(ops, o)
		t++
	}
	return ops, b
}

// The Porcupine-based checker agrees with brute force on thousands of small
// random histories with info, failed and mismatched operations.
func TestLinearizableAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	c, _ := checkers.New("linearizable", checkers.Options{})
	valid := 0
	for i := range 3000 {
		ops, b := randomLinHistory(rng)
		// The reference's times are event positions, in the same order as
		// the builder's times (10 per event).
		want := refLinearizable(ops)
		res := c.Check(context.Background(), b.Events())
		if !decided(ops) {
			require.Equal(t, checkers.Unknown, res.Valid, "nothing decided: history %d:\n%s", i, checkertest.JSONL(b.Events()))
			continue
		}
		require.Equal(t, want, res.Valid == checkers.Valid, "history %d:\n%s\n%+v", i, checkertest.JSONL(b.Events()), res.Anomalies)
		require.NotEqual(t, checkers.Unknown, res.Valid, "small histories are always decided")
		if want {
			valid++
		}
	}
	require.Greater(t, valid, 300, "the random histories must include valid ones")
	require.Less(t, valid, 2700, "and invalid ones")
}

// decided reports whether ops hold an operation of known outcome the
// register model uses (ok, or a cas mismatch): without one the checker
// says there is nothing to check.
func decided(ops []linOp) bool {
	for _, o := range ops {
		if o.status == history.OK || o.mismatch {
			return true
		}
	}
	return false
}
