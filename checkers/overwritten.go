package checkers

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// overwritten looks, in one key's operations, for the commonest anomaly
// in a form any reader can check by hand: an operation A that left the
// register holding a, completed before an operation B began that found
// b ≠ a, and no operation that could set b could take effect between
// them. It is a necessary condition of linearizability, found in
// O(n log n), and it decides histories the search cannot (many
// concurrent writes, then a stale read): the search still decides every
// key this finds nothing in.
//
// Why it is sound: A takes effect at some point in its interval and B at
// some point in its own; A returned before B was invoked, so A's point
// comes first. The register holds a right after A's point and b at B's,
// so some operation setting b takes effect strictly between: after A's
// invoke and before B's return. An operation that completed before A was
// invoked, or was invoked after B returned, cannot. Comparisons at equal
// times count an operation as possibly between, and a precedence at
// equal times is not used: both can only make this find less.
//
// A is an ok read (the register holds its value), an ok write (its value)
// or an ok cas (its new value); B an ok read (its value) or an ok cas
// (its expected value). The operations that may set b are the writes of
// b and the cas to b, ok or of unknown outcome.
type overwrite struct {
	a, b    regOp   // A and B
	setters []regOp // every operation that sets b, none of them between
}

func findOverwrite(ops []regOp) (overwrite, bool) {
	// The setters of each value, grouped by value id in one flat slice
	// (setters[off[id]:off[id+1]], by invoke time), with the latest return
	// among those invoked so far: a long key writes as many values as it
	// has writes, so no allocation per value.
	ids := map[string]int32{}
	setterOf := make([]int32, len(ops)) // value id of each op, -1 for none
	var as, bs []int
	var count []int32
	for i, r := range ops {
		setterOf[i] = -1
		if r.status == statusMismatch {
			continue
		}
		if r.kind != regRead {
			id, ok := ids[r.value]
			if !ok {
				id = int32(len(count))
				ids[r.value] = id
				count = append(count, 0)
			}
			setterOf[i] = id
			count[id]++
		}
		if r.status != statusOK {
			continue
		}
		as = append(as, i)
		if r.kind == regRead || r.kind == regCAS && r.expected != r.value {
			// A cas that sets what it expects is one of b's setters: it
			// would hide itself from the query below; leave it out as B.
			bs = append(bs, i)
		}
	}
	off := make([]int32, len(count)+1)
	for id, n := range count {
		off[id+1] = off[id] + n
	}
	setters := make([]int32, off[len(count)])
	fill := slices.Clone(off[:len(count)])
	for i, id := range setterOf {
		if id >= 0 {
			setters[fill[id]] = int32(i)
			fill[id]++
		}
	}
	byCall := func(i, j int32) int { return cmp.Compare(ops[i].op.Call, ops[j].op.Call) }
	maxReturn := make([]int64, len(setters))
	for id := range count {
		seg := setters[off[id]:off[id+1]]
		// Operations come in invoke order, so this is already sorted
		// unless a caller built them otherwise.
		if !slices.IsSortedFunc(seg, byCall) {
			slices.SortStableFunc(seg, byCall)
		}
		m := int64(-1 << 63)
		for k, at := range seg {
			m = max(m, ops[at].op.Return)
			maxReturn[int(off[id])+k] = m
		}
	}
	slices.SortStableFunc(as, func(i, j int) int { return cmp.Compare(ops[i].op.Return, ops[j].op.Return) })
	slices.SortStableFunc(bs, func(i, j int) int { return cmp.Compare(ops[i].op.Call, ops[j].op.Call) })

	// For each B, the best A is the latest-invoked of those that returned
	// before B's invoke and left another value: the later A's invoke, the
	// fewer setters fit between. top1 and top2 hold the latest invoke of
	// any value and of any other value than top1's.
	type best struct {
		value string
		at    int // index in ops; -1 none
	}
	top1, top2 := best{at: -1}, best{at: -1}
	later := func(i, j int) bool { return j < 0 || ops[i].op.Call > ops[j].op.Call }
	next := 0
	for _, bi := range bs {
		b := ops[bi]
		for ; next < len(as) && ops[as[next]].op.Return < b.op.Call; next++ {
			ai := as[next]
			v := ops[ai].value
			switch {
			case v == top1.value && top1.at >= 0:
				if later(ai, top1.at) {
					top1.at = ai
				}
			case later(ai, top1.at):
				top2, top1 = top1, best{v, ai}
			case later(ai, top2.at):
				top2 = best{v, ai}
			}
		}
		want := b.value
		if b.kind == regCAS {
			want = b.expected
		}
		a := top1
		if a.at >= 0 && a.value == want {
			a = top2
		}
		if a.at < 0 {
			continue
		}
		aCall := ops[a.at].op.Call
		var seg []int32
		id, written := ids[want]
		if written {
			seg = setters[off[id]:off[id+1]]
			// The setters invoked no later than B returned: does one
			// return no earlier than A was invoked?
			n := sort.Search(len(seg), func(i int) bool { return ops[seg[i]].op.Call > b.op.Return })
			if n > 0 && maxReturn[int(off[id])+n-1] >= aCall {
				continue
			}
		}
		w := overwrite{a: ops[a.at], b: b}
		for _, at := range seg {
			w.setters = append(w.setters, ops[at])
		}
		return w, true
	}
	return overwrite{}, false
}

// explain says, for a person, why w's key is not linearizable.
func (w overwrite) explain(key string, nops int) Anomaly {
	an := Anomaly{Name: "nonlinearizable", Keys: []string{key}, Ops: []int64{w.a.op.InvokeIndex, w.b.op.InvokeIndex}}
	left := w.a.value
	var b strings.Builder
	fmt.Fprintf(&b, "Key %q: no order of its %d operations that respects real time is a legal register history (initially absent). ", key, nops)
	fmt.Fprintf(&b, "%s completed, leaving %s = %s, before %s began", w.a.describe(), key, left, w.b.describe())
	want := w.b.value
	if w.b.kind == regCAS {
		want = w.b.expected
		fmt.Fprintf(&b, " and found %s = %s", key, want)
	}
	switch {
	case len(w.setters) == 0 && want == "null":
		fmt.Fprintf(&b, "; nothing sets %s back to null (absent).", key)
	case len(w.setters) == 0:
		fmt.Fprintf(&b, "; nothing sets %s = %s.", key, want)
	default:
		var named []string
		for i, s := range w.setters {
			if i == 4 {
				named = append(named, fmt.Sprintf("and %d more", len(w.setters)-4))
				break
			}
			named = append(named, s.describe())
			an.Ops = append(an.Ops, s.op.InvokeIndex)
		}
		fmt.Fprintf(&b, "; no operation that sets %s = %s could take effect between them: each completed before the first began or began after the second ended (%s).",
			key, want, strings.Join(named, "; "))
	}
	an.Explanation = b.String()
	return an
}
