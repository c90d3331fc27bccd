package checkers

import "slices"

// prune removes from one key's register operations those that cannot
// change its linearizability verdict, before the exponential search sees
// them, and returns what is left (in the same order) and how many it
// removed. Two rules, applied until neither removes anything:
//
//  1. A cas that failed as a mismatch, expecting a value that no remaining
//     write or cas writes (or expecting null: a cas on an absent key always
//     mismatches), observes something that is true in every state the key
//     can be in. Any linearization of the other operations takes it: put it
//     right after the last operation that returned before it was invoked.
//
//  2. An info write, or an info cas, writing a value v that nothing
//     observes — no ok read returns v, no ok or info cas expects v — and
//     that no mismatch could need. A mismatch cas expecting e observes "not
//     e", and an unobserved write can be its only explanation: write 1 ok;
//     write 2 info; cas [1, 3] mismatch is linearizable only if the write of
//     2 took effect. So the rule also asks that no mismatch which may come
//     after the info operation's invoke (it returned at or after that
//     invoke) expects a value other than v that a remaining operation
//     writes (rule 1 has removed the others).
//     Then the operation is never the one an operation placed after it
//     needs (search.go's canonical placement: an info mutation is needed by
//     the next operation only if that one cannot be placed from the state
//     before it — a read or cas of v, or a mismatch expecting that state),
//     so some linearization leaves it out if any linearization exists.
//
// Removing an operation only shrinks the set of observed and written
// values, so an operation that met a rule before another was removed still
// meets it after: removing all of one pass's candidates at once is sound.
// Every rule is checked against the brute-force reference checker on
// random histories with info writes, info cas and mismatches
// (TestPruneAgreesWithReference).
func prune(ops []regOp) ([]regOp, int) { return pruneInPlace(slices.Clone(ops)) }

// pruneInPlace is prune keeping what is left at the front of ops itself,
// whose other elements it overwrites: checkKeys prunes every key's
// operations, and a copy of each would hold a long history's operations
// twice.
func pruneInPlace(ops []regOp) ([]regOp, int) {
	alive := make([]bool, len(ops))
	for i := range alive {
		alive[i] = true
	}
	isMutation := func(r regOp) bool {
		return r.kind == regWrite || (r.kind == regCAS && r.status != statusMismatch)
	}
	for {
		writers := map[string]int{} // value -> live operations that may write it
		observed := map[string]bool{}
		var mismatches []int
		for i, r := range ops {
			if !alive[i] {
				continue
			}
			if isMutation(r) {
				writers[r.value]++
			}
			switch {
			case r.kind == regRead:
				observed[r.value] = true
			case r.kind == regCAS && r.status == statusMismatch:
				mismatches = append(mismatches, i)
			case r.kind == regCAS:
				observed[r.expected] = true
			}
		}
		changed := false
		// Rule 1.
		var live []int // mismatches that may observe a real state
		for _, i := range mismatches {
			if e := ops[i].expected; e == "null" || writers[e] == 0 {
				alive[i] = false
				changed = true
				continue
			}
			live = append(live, i)
		}
		// Rule 2. A mismatch expecting v itself cannot need the write of v
		// (it fails from v); one expecting e needs it only from state e,
		// which rule 1 leaves only where some operation writes e. So the
		// question per info operation is whether a live mismatch
		// expecting another value returned at or after its invoke: the
		// latest-returning mismatch answers it, or, when that one expects
		// v, the latest-returning one expecting something else.
		latest, other := lastReturns(ops, live)
		for i, r := range ops {
			if !alive[i] || r.status != statusInfo || !isMutation(r) || observed[r.value] {
				continue
			}
			m := latest
			if m.ok && m.expected == r.value {
				m = other
			}
			if needed := m.ok && m.ret >= r.op.Call; !needed {
				alive[i] = false
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	n := 0
	for i, r := range ops {
		if alive[i] {
			ops[n] = r
			n++
		}
	}
	clear(ops[n:]) // let go of the values of the operations removed
	return ops[:n:n], len(ops) - n
}

// lastMismatch is the latest return among some mismatches, and what the
// one returning then expects.
type lastMismatch struct {
	ok       bool
	ret      int64
	expected string
}

// lastReturns finds, among the mismatches ms, the latest-returning one
// (latest) and the latest-returning one expecting another value than
// latest does (other).
func lastReturns(ops []regOp, ms []int) (latest, other lastMismatch) {
	for _, i := range ms {
		r := ops[i]
		if !latest.ok || r.op.Return > latest.ret {
			latest = lastMismatch{ok: true, ret: r.op.Return, expected: r.expected}
		}
	}
	for _, i := range ms {
		r := ops[i]
		if r.expected != latest.expected && (!other.ok || r.op.Return > other.ret) {
			other = lastMismatch{ok: true, ret: r.op.Return, expected: r.expected}
		}
	}
	return latest, other
}
