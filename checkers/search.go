package checkers

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// The linearizability search for one key's register operations: Wing and
// Gong's depth-first search with Lowe's memoization (as in Porcupine), over
// a register model specialised to interned values, with two additions that
// keep it bounded:
//
//   - A budget: the memo table is the search's memory, so it is counted,
//     and the search stops (unknown, with the reason) when it would exceed
//     its share of the memory bound, when the deadline passes or when the
//     context is cancelled.
//
//   - Canonical placement of unknown-outcome operations. An info write, or
//     an info cas that applies, is placed only immediately before an
//     operation that needs it: one that could not be placed from the state
//     before the info operation. An info cas that would not apply is never
//     placed (placing it is the same as it never happening).
//
// Why the second rule loses no linearization: take any legal linearization
// and, while possible, (a) drop an info cas placed where it does not apply
// (it changed nothing); (b) for an info mutation M placed from state p and
// followed by an operation X that is also legal from p: if X changes no
// state (a read, a mismatch), swap M and X — X sees p, then M gives the
// same state as before, and moving M later breaks no real-time order since
// M never returned; if X is a write, M's effect was never seen, so drop M
// (it never happened, which an info operation may do); if X is a cas that
// applies from p, it applied from M's value too, so M wrote p again and
// changed nothing: drop it; (c) drop an info mutation placed last. Each
// step keeps the state every other operation sees, and removes an
// operation or moves an info mutation later (fewer operations, then a
// larger sum of the info mutations' positions), so this ends, and what is
// left is a legal linearization that follows the rule. So if
// any linearization exists, one the rule allows exists. Without the rule
// the search tries every subset of the pending info writes before each
// read: 20 info writes are 2^20 subsets; with it, only the writes that the
// next operation needs.
//
// Memo entries are 128-bit fingerprints of (the set of placed operations,
// state, pending info state): Zobrist hashes updated in O(1) per step, so
// an entry costs the same whatever the history's length (Porcupine keeps a
// bitset of every operation per entry, which is what grows to gigabytes on
// a long single-key history). Two different configurations sharing a
// fingerprint (probability about entries² / 2^129) would make the search
// skip one of them: that can hide a linearization, never invent one, so the
// error can only turn valid into invalid, never the reverse.

// searchVerdict is the outcome of one key's search.
type searchVerdict uint8

const (
	searchUnknown searchVerdict = iota // stopped by a bound; the zero value decides nothing
	searchOK
	searchIllegal
)

func (v searchVerdict) String() string {
	switch v {
	case searchOK:
		return "linearizable"
	case searchIllegal:
		return "not linearizable"
	}
	return "undecided"
}

// searchStop says which bound stopped an unknown search.
type searchStop uint8

const (
	stopNone searchStop = iota
	stopMemory
	stopTime
	stopCancelled
)

// searchLimits bound one key's search.
type searchLimits struct {
	deadline    time.Time // zero: none
	maxEntries  int       // memo entries allowed (0: none)
	entryBudget int64     // bytes the entries stand for, for the reason
}

// keySearch is what one key's search found.
type keySearch struct {
	verdict searchVerdict
	stop    searchStop
	// longest is the longest linearizable prefix found (positions in the
	// key's ops, in linearization order); set when the key is illegal.
	longest []int
	entries int // memo entries made
	elapsed time.Duration
}

// memoBytesPerEntry is what one memo entry costs: a 16-byte fingerprint in
// a Go map (slot, control byte, load factor) plus the tables left behind as
// it grows; their total bounds the peak. Measured by
// TestSearchMemoryEstimate (about 107 bytes).
const memoBytesPerEntry = 112

// compiled is a register operation with its values interned: 0 is null.
type compiled struct {
	kind     regKind
	info     bool // outcome unknown: may be placed, or never
	mismatch bool
	val, exp int32
}

// step applies op to state under the canonical rules: it reports whether op
// may be placed now and the state after it. An info cas that would not
// apply may not be placed (see the comment at the top of this file).
func (op compiled) step(state int32) (bool, int32) {
	switch op.kind {
	case regRead:
		return op.val == state, state
	case regWrite:
		return true, op.val
	}
	matches := state == op.exp && op.exp != 0
	if op.mismatch {
		return !matches, state
	}
	return matches, op.val
}

// intern numbers the distinct values of ops; "null" is 0.
func intern(ops []regOp) []compiled {
	ids := map[string]int32{"null": 0}
	id := func(v string) int32 {
		i, ok := ids[v]
		if !ok {
			i = int32(len(ids))
			ids[v] = i
		}
		return i
	}
	out := make([]compiled, len(ops))
	for i, r := range ops {
		c := compiled{kind: r.kind, info: r.status == statusInfo, mismatch: r.status == statusMismatch}
		switch r.kind {
		case regCAS:
			c.exp, c.val = id(r.expected), id(r.value)
		default:
			c.val = id(r.value)
		}
		out[i] = c
	}
	return out
}

// entry kinds of the search's event list.
const (
	callEntry = iota
	returnEntry
)

// searchKey decides whether ops (one key's register operations, in invoke
// order) are linearizable, within lim. ops are as registerOps makes them:
// every info operation is a write or a cas (an info read is dropped: it
// tells nothing) and never returns; the search relies on both.
func searchKey(ctx context.Context, ops []regOp, lim searchLimits) keySearch {
	start := time.Now()
	res := run(ctx, ops, lim)
	res.elapsed = time.Since(start)
	return res
}

func run(ctx context.Context, ops []regOp, lim searchLimits) keySearch {
	n := len(ops)
	cops := intern(ops)

	// The event list: a call entry per operation and a return entry per
	// operation with a known outcome, by time, and at equal times by
	// position in the history (event index): the history is in the order
	// events happened, and a clock too coarse to tell two events apart
	// does not make them concurrent, so an operation that returns at t
	// precedes one invoked at t after it in the history (and overlaps one
	// invoked at t before its return). Entries without indices (a
	// hand-built slice) fall back to calls first. Info operations have no
	// return entry: the search succeeds once every other operation is
	// placed, the info operations not yet placed having never happened.
	type ent struct {
		time  int64
		index int64
		kind  int8
		op    int32
	}
	ents := make([]ent, 0, 2*n)
	remaining := 0
	for i, r := range ops {
		ents = append(ents, ent{time: r.op.Call, index: r.op.InvokeIndex, kind: callEntry, op: int32(i)})
		if !cops[i].info {
			ents = append(ents, ent{time: r.op.Return, index: r.op.CompleteIndex, kind: returnEntry, op: int32(i)})
			remaining++
		}
	}
	if remaining == 0 {
		return keySearch{verdict: searchOK}
	}
	slices.SortFunc(ents, func(a, b ent) int {
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		if c := cmp.Compare(a.index, b.index); c != 0 {
			return c
		}
		return int(a.kind) - int(b.kind)
	})

	// A doubly linked list over the entries; node 0 is the head, entry k is
	// node k+1. match links a call to its return (0 if none).
	size := len(ents) + 1
	next := make([]int32, size)
	prev := make([]int32, size)
	kind := make([]int8, size)
	opOf := make([]int32, size)
	match := make([]int32, size)
	callNode := make([]int32, n)
	retNode := make([]int32, n)
	for k, e := range ents {
		node := int32(k + 1)
		kind[node], opOf[node] = e.kind, e.op
		if e.kind == callEntry {
			callNode[e.op] = node
		} else {
			retNode[e.op] = node
		}
	}
	for i := range n {
		match[callNode[i]] = retNode[i]
	}
	for node := range size {
		prev[node] = int32(node - 1)
		next[node] = int32(node + 1)
	}
	prev[0] = -1
	next[size-1] = -1
	unlink := func(node int32) {
		next[prev[node]] = next[node]
		if next[node] >= 0 {
			prev[next[node]] = prev[node]
		}
	}
	relink := func(node int32) {
		next[prev[node]] = node
		if next[node] >= 0 {
			prev[next[node]] = node
		}
	}
	lift := func(call int32) {
		unlink(call)
		if r := match[call]; r != 0 {
			unlink(r)
		}
	}
	unlift := func(call int32) {
		if r := match[call]; r != 0 {
			relink(r)
		}
		relink(call)
	}

	// Zobrist keys: two independent 64-bit values per operation.
	zobrist := make([][2]uint64, n)
	seed := uint64(0x9e3779b97f4a7c15)
	for i := range zobrist {
		zobrist[i] = [2]uint64{splitmix(&seed), splitmix(&seed)}
	}
	fingerprint := func(set [2]uint64, state, pending int32) [2]uint64 {
		s := uint64(uint32(state))<<32 | uint64(uint32(pending))
		return [2]uint64{set[0] ^ mix64(s^0x243f6a8885a308d3), set[1] ^ mix64(s^0x13198a2e03707344)}
	}

	type frame struct {
		call           int32
		state, pending int32
	}
	const none = -1 // no pending info operation
	var (
		stack   []frame
		set     [2]uint64
		state   int32
		pending int32 = none
		memo          = make(map[[2]uint64]struct{})
		longest []int
		iter    int
	)
	stopped := func() searchStop {
		if ctx.Err() != nil {
			return stopCancelled
		}
		if !lim.deadline.IsZero() && !time.Now().Before(lim.deadline) {
			return stopTime
		}
		return stopNone
	}
	if s := stopped(); s != stopNone {
		return keySearch{stop: s}
	}
	node := next[0]
	for {
		if iter++; iter&0xfff == 0 {
			if s := stopped(); s != stopNone {
				return keySearch{stop: s, entries: len(memo)}
			}
		}
		if node >= 0 && kind[node] == callEntry {
			op := cops[opOf[node]]
			ok, after := op.step(state)
			if ok && pending != none {
				// The info operation just placed must be needed by this
				// one: it may not be placed from the state before it.
				ok, _ = op.step(pending)
				ok = !ok
			}
			if ok {
				newPending := int32(none)
				if op.info {
					newPending = state
				}
				newSet := [2]uint64{set[0] ^ zobrist[opOf[node]][0], set[1] ^ zobrist[opOf[node]][1]}
				fp := fingerprint(newSet, after, newPending)
				_, seen := memo[fp]
				if !seen && newPending != none {
					// Having been here with nothing pending tried every
					// continuation this one may take.
					_, seen = memo[fingerprint(newSet, after, none)]
				}
				if !seen {
					if lim.maxEntries > 0 && len(memo) >= lim.maxEntries {
						return keySearch{stop: stopMemory, entries: len(memo)}
					}
					memo[fp] = struct{}{}
					stack = append(stack, frame{call: node, state: state, pending: pending})
					state, pending, set = after, newPending, newSet
					lift(node)
					if !op.info {
						remaining--
						if remaining == 0 {
							return keySearch{verdict: searchOK, entries: len(memo)}
						}
					}
					node = next[0]
					continue
				}
			}
			node = next[node]
			continue
		}
		// A return entry (or the end of the list): the operation it closes
		// was not placed in time; undo the last placement.
		if len(stack) == 0 {
			return keySearch{verdict: searchIllegal, longest: longest, entries: len(memo)}
		}
		if len(stack) > len(longest) {
			longest = longest[:0]
			for _, f := range stack {
				longest = append(longest, int(opOf[f.call]))
			}
		}
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		op := opOf[f.call]
		set = [2]uint64{set[0] ^ zobrist[op][0], set[1] ^ zobrist[op][1]}
		state, pending = f.state, f.pending
		unlift(f.call)
		if !cops[op].info {
			remaining++
		}
		node = next[f.call]
	}
}

// splitmix is SplitMix64: a fixed sequence of well-mixed 64-bit values.
func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix64(*s)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
