package checkers

import (
	"math/rand/v2"
	"slices"

	"github.com/faultline/faultline/history"
)

// inHistoryOrder gives generated operations the event indices of a history
// they could have been recorded in: endpoints by time, and at equal times
// in a random order (an operation's own invoke still before its
// completion), so that the differential tests cover ties decided either
// way by the position rule (see searchKey). It returns ops, sorted in
// invoke order.
func inHistoryOrder(rng *rand.Rand, ops []regOp) []regOp {
	type end struct {
		time, tie int64
		op        int
		ret       bool
	}
	var ends []end
	for i, r := range ops {
		ends = append(ends, end{time: r.op.Call, tie: rng.Int64(), op: i})
		if r.op.Return != history.Never {
			ends = append(ends, end{time: r.op.Return, tie: rng.Int64(), op: i, ret: true})
		}
	}
	slices.SortFunc(ends, func(a, b end) int {
		if a.time != b.time {
			return int(a.time - b.time)
		}
		return int(a.tie>>1 - b.tie>>1)
	})
	for k, e := range ends {
		if e.ret {
			ops[e.op].op.CompleteIndex = int64(k)
		} else {
			ops[e.op].op.InvokeIndex = int64(k)
		}
	}
	for i := range ops {
		o := &ops[i].op
		if o.Return == history.Never {
			o.CompleteIndex = -1
		} else if o.CompleteIndex < o.InvokeIndex {
			// Returned at its call time but placed before it: swap the
			// two (same time, so nothing else moves).
			o.InvokeIndex, o.CompleteIndex = o.CompleteIndex, o.InvokeIndex
		}
	}
	// In invoke order, as registerOps returns them.
	slices.SortStableFunc(ops, func(a, b regOp) int { return int(a.op.InvokeIndex - b.op.InvokeIndex) })
	return ops
}

// precedes reports whether p completed before o was invoked: by time, and
// at equal times by position in the history (the position rule).
func precedes(p, o regOp) bool {
	return p.op.Return < o.op.Call || p.op.Return == o.op.Call && p.op.Return != history.Never && p.op.CompleteIndex < o.op.InvokeIndex
}

// positional is ops with their positions in the history as times, for
// Porcupine: its intervals are closed, so at equal times it takes two
// operations for concurrent; with distinct positions it orders them as the
// history does.
func positional(ops []regOp) []regOp {
	out := slices.Clone(ops)
	for i := range out {
		out[i].op.Call = out[i].op.InvokeIndex
		if out[i].op.Return != history.Never {
			out[i].op.Return = out[i].op.CompleteIndex
		}
	}
	return out
}
