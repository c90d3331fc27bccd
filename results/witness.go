package results

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// A minimal witness of a non-linearizable key: a handful of its
// operations that already have no linearization on their own, found by
// shrinking the key's history with the linearizable checker itself
// (delta debugging), and from which the failure of the whole key follows.
//
// Leaving operations out of a history can make it fail where the whole
// did not (drop the write a read returned and the read is of thin air),
// so a sub-history S is only tried once it is closed:
//   - every value an op of S observes (what a read returned, what an ok
//     or info cas expected) has every op that writes it (write, or cas
//     with that new value, of any outcome) in S;
//   - a cas that failed with "mismatch" expecting X stays in S only if
//     no op of S writes X (it then can never see X).
// Then a linearization of the whole key, restricted to S, is one of S:
// each read's last writer is still its last writer, an info op that never
// happened still goes last, and real-time order is kept. So if S has none,
// the key has none either.

// Bounds of the search.
const (
	// witnessBudget bounds the shrinking of one key.
	witnessBudget = 10 * time.Second
	// witnessTotalBudget bounds the shrinking of all keys of a report.
	witnessTotalBudget = 20 * time.Second
	// maxWitnessKeys is how many failing keys get a minimal witness.
	maxWitnessKeys = 10
)

// wOp is one register op of the key, as the closure rules see it.
type wOp struct {
	op       history.Op
	observes string // value observed ("" none); canonical JSON
	writes   string // value written ("" none)
	mismatch string // a mismatch cas's expected value ("" none)
	events   []history.Event
}

// minimalWitness shrinks the failing key's history (events of the whole
// run) to a small closed sub-history the linearizable checker finds
// invalid, starting from a window around the checker's witness ops. It
// returns the ops in call order, or nil and why when it found none in
// time.
func minimalWitness(ctx context.Context, events []history.Event, key string, witness []int64, budget time.Duration) ([]history.Op, string) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	ops := keyRegisterOps(events, key)
	if len(ops) == 0 {
		return nil, "the key has no register operations"
	}
	writers := map[string][]int{}
	for i, o := range ops {
		if o.writes != "" {
			writers[o.writes] = append(writers[o.writes], i)
		}
	}
	// closed returns the closure of keep (see above), as sorted positions.
	closed := func(keep map[int]bool) []int {
		queue := make([]int, 0, len(keep))
		for i := range keep {
			queue = append(queue, i)
		}
		for len(queue) > 0 {
			i := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			if v := ops[i].observes; v != "" && v != "null" {
				for _, w := range writers[v] {
					if !keep[w] {
						keep[w] = true
						queue = append(queue, w)
					}
				}
			}
		}
		written := map[string]bool{}
		for i := range keep {
			if ops[i].writes != "" {
				written[ops[i].writes] = true
			}
		}
		out := make([]int, 0, len(keep))
		for i := range keep {
			if m := ops[i].mismatch; m != "" && written[m] {
				continue
			}
			out = append(out, i)
		}
		sort.Ints(out)
		return out
	}
	lin, err := checkers.New("linearizable", checkers.Options{})
	if err != nil {
		return nil, err.Error()
	}
	fails := func(set []int) bool {
		var evs []history.Event
		for _, i := range set {
			evs = append(evs, ops[i].events...)
		}
		sort.Slice(evs, func(a, b int) bool { return evs[a].Index < evs[b].Index })
		return lin.Check(ctx, evs).Valid == checkers.Invalid
	}
	// A window around the checker's witness ops, doubled until it fails.
	pos := map[int64]int{}
	for i, o := range ops {
		pos[o.op.InvokeIndex] = i
	}
	lo, hi := len(ops), -1
	for _, w := range witness {
		if i, ok := pos[w]; ok {
			lo, hi = min(lo, i), max(hi, i)
		}
	}
	if hi < 0 {
		lo, hi = 0, len(ops)-1
	}
	var cur []int
	for w := 4; ; w *= 2 {
		if ctx.Err() != nil {
			return nil, fmt.Sprintf("no failing window of the key was found within %s", budget)
		}
		keep := map[int]bool{}
		for i := max(0, lo-w); i <= min(len(ops)-1, hi+w); i++ {
			keep[i] = true
		}
		set := closed(keep)
		if fails(set) {
			cur = set
			break
		}
		if lo-w <= 0 && hi+w >= len(ops)-1 {
			return nil, "no closed part of the key's history fails on its own (the failure needs operations the shrinking must keep out, such as a cas mismatch on a value that is also written)"
		}
	}
	// Delta debugging: drop chunks of halving size while it still fails.
	for n := len(cur) / 2; n >= 1 && ctx.Err() == nil; {
		changed := false
		for start := 0; start < len(cur) && ctx.Err() == nil; start += n {
			keep := map[int]bool{}
			for j, i := range cur {
				if j < start || j >= start+n {
					keep[i] = true
				}
			}
			set := closed(keep)
			if len(set) < len(cur) && fails(set) {
				cur = set
				changed = true
				start -= n
				if start < -n {
					start = -n
				}
			}
		}
		if n == 1 && !changed {
			break
		}
		if n > 1 {
			n /= 2
		}
	}
	out := make([]history.Op, len(cur))
	for j, i := range cur {
		out[j] = ops[i].op
	}
	return out, ""
}

// keyRegisterOps are the register ops of key the linearizable checker
// models, with their events.
func keyRegisterOps(events []history.Event, key string) []wOp {
	byIndex := map[int64]history.Event{}
	var keyEvents []history.Event
	for _, e := range keepKeys(events, []string{key}) {
		if !e.IsNemesis() {
			keyEvents = append(keyEvents, e)
			byIndex[e.Index] = e
		}
	}
	var out []wOp
	for _, op := range history.Pair(keyEvents) {
		w := wOp{op: op}
		switch op.F {
		case history.FRead:
			if op.Type != history.OK {
				continue
			}
			w.observes = history.Canonical(op.Output)
		case history.FWrite:
			if op.Type == history.Fail {
				continue
			}
			w.writes = history.Canonical(op.Input)
		case history.FCAS:
			exp, nw, err := history.SplitCAS(op.Input)
			if err != nil {
				continue
			}
			switch {
			case op.Type == history.Fail && op.Error == history.ErrorMismatch:
				w.mismatch = history.Canonical(exp)
			case op.Type == history.Fail:
				continue
			default:
				w.observes, w.writes = history.Canonical(exp), history.Canonical(nw)
			}
		default:
			continue
		}
		w.events = append(w.events, byIndex[op.InvokeIndex])
		if op.Completed() {
			w.events = append(w.events, byIndex[op.CompleteIndex])
		}
		out = append(out, w)
	}
	return out
}

// witnessStory explains a minimal witness in plain words: what each op
// did and when (lines), then the edges that make it impossible (why). at
// formats a history time for the page.
func witnessStory(ops []history.Op, done func(history.Op) int64, at func(int64) string) (lines, why []string) {
	name := func(o history.Op) string { return fmt.Sprintf("p%d", o.Process) }
	for _, o := range ops {
		lines = append(lines, opSentence(o, done(o), at))
	}
	// Edges: the patterns that make a register history impossible.
	type obs struct {
		op  history.Op
		val string
	}
	var observers []obs
	writers := map[string][]history.Op{}
	for _, o := range ops {
		switch {
		case o.F == history.FRead && o.Type == history.OK:
			observers = append(observers, obs{o, history.Canonical(o.Output)})
		case o.F == history.FCAS && o.Type == history.OK:
			exp, nw, _ := history.SplitCAS(o.Input)
			observers = append(observers, obs{o, history.Canonical(exp)})
			writers[history.Canonical(nw)] = append(writers[history.Canonical(nw)], o)
		case o.F == history.FCAS && o.Type == history.Info:
			_, nw, _ := history.SplitCAS(o.Input)
			writers[history.Canonical(nw)] = append(writers[history.Canonical(nw)], o)
		case o.F == history.FWrite:
			writers[history.Canonical(o.Input)] = append(writers[history.Canonical(o.Input)], o)
		}
	}
	acked := func(o history.Op) bool { return o.Type == history.OK }
	var edges []string
	for _, r := range observers {
		what := "returned " + r.val
		if r.op.F == history.FCAS {
			what = "found " + r.val + " (its cas succeeded)"
		}
		ws := writers[r.val]
		if r.val == "null" {
			// Read the key as absent after a write was acknowledged.
			for _, vals := range writers {
				for _, w := range vals {
					if acked(w) && done(w) < r.op.Call {
						edges = append(edges, fmt.Sprintf("%s's %s began at %s and found the key absent, but %s had been acknowledged at %s, before it began.",
							name(r.op), r.op.F, at(r.op.Call), opShort(w), at(done(w))))
						goto next
					}
				}
			}
			continue
		}
		if len(ws) > 0 {
			allLater := true
			for _, w := range ws {
				if w.Call < done(r.op) {
					allLater = false
				}
			}
			if allLater {
				edges = append(edges, fmt.Sprintf("%s's %s %s at %s, before any write of %s began (%s began at %s).",
					name(r.op), r.op.F, what, at(done(r.op)), r.val, opShort(ws[0]), at(ws[0].Call)))
				continue
			}
		}
		// Overwritten before it began: a write of v, then (after it, in
		// real time) an acknowledged write of u != v, finished before the
		// observer began.
		for _, w := range ws {
			for val, others := range writers {
				if val == r.val {
					continue
				}
				for _, w2 := range others {
					if !acked(w2) || done(w2) >= r.op.Call {
						continue
					}
					if acked(w) && done(w) < w2.Call {
						edges = append(edges, fmt.Sprintf("%s was acknowledged at %s, after %s had been acknowledged at %s; %s's %s began at %s and %s, a value overwritten by %s before it began.",
							opShort(w2), at(done(w2)), opShort(w), at(done(w)), name(r.op), r.op.F, at(r.op.Call), what, val))
						goto next
					}
				}
			}
		}
		// Overwritten, as an earlier observer showed: every write of v
		// had finished before r2 began, r2 saw another value, and r2
		// finished before r began.
		if len(ws) > 0 {
			for _, r2 := range observers {
				if r2.val == r.val || done(r2.op) >= r.op.Call {
					continue
				}
				before := true
				for _, w := range ws {
					if !acked(w) || done(w) >= r2.op.Call {
						before = false
					}
				}
				if before {
					by := ""
					if w2s := writers[r2.val]; len(w2s) > 0 {
						by = " (" + opShort(w2s[0]) + ")"
					}
					edges = append(edges, fmt.Sprintf("%s was acknowledged at %s; %s's %s began after that, at %s, and returned %s%s, so %s had been overwritten by then; %s's %s began later still, at %s, and %s, a value already overwritten.",
						opShort(ws[0]), at(done(ws[0])), name(r2.op), r2.op.F, at(r2.op.Call), r2.val, by, r.val, name(r.op), r.op.F, at(r.op.Call), what))
					goto next
				}
			}
		}
		// New then old: another observer saw a later value and finished
		// before this one began.
		for _, r2 := range observers {
			if r2.val == r.val || done(r2.op) >= r.op.Call {
				continue
			}
			for _, w := range ws {
				for _, w2 := range writers[r2.val] {
					if acked(w) && done(w) < w2.Call {
						edges = append(edges, fmt.Sprintf("%s's %s returned %s at %s; %s's %s began later, at %s, and %s, which %s had replaced before %s was written.",
							name(r2.op), r2.op.F, r2.val, at(done(r2.op)), name(r.op), r.op.F, at(r.op.Call), what, opShort(w2), r.val))
						goto next
					}
				}
			}
		}
	next:
	}
	if len(edges) == 0 {
		// No named pattern: list the real-time order the ops must keep.
		for _, a := range ops {
			for _, b := range ops {
				if a.InvokeIndex != b.InvokeIndex && acked(a) && done(a) < b.Call {
					edges = append(edges, fmt.Sprintf("%s finished (%s) before %s began (%s).", opShort(a), at(done(a)), opShort(b), at(b.Call)))
				}
			}
		}
		if len(edges) > 12 {
			edges = append(edges[:12], fmt.Sprintf("… and %d more real-time edges.", len(edges)-12))
		}
	}
	return lines, edges
}

// opShort names an op: "p9's write of 40".
func opShort(o history.Op) string {
	switch o.F {
	case history.FWrite:
		return fmt.Sprintf("p%d's write of %s", o.Process, shorten(valueText(o.Input)))
	case history.FCAS:
		exp, nw, _ := history.SplitCAS(o.Input)
		return fmt.Sprintf("p%d's cas %s→%s", o.Process, shorten(valueText(exp)), shorten(valueText(nw)))
	case history.FRead:
		return fmt.Sprintf("p%d's read of %s", o.Process, shorten(valueText(o.Output)))
	}
	return fmt.Sprintf("p%d's %s", o.Process, o.F)
}

// opSentence says what one op did and when.
func opSentence(o history.Op, done int64, at func(int64) string) string {
	node := ""
	if o.Node != "" {
		node = " on " + o.Node
	}
	span := fmt.Sprintf("invoked %s, ", at(o.Call))
	switch o.Type {
	case history.OK:
		span += "acknowledged " + at(done)
	case history.Fail:
		span += "failed " + at(done)
	default:
		span += "outcome unknown: it may take effect at any time after its invoke, or never"
	}
	var what string
	switch o.F {
	case history.FRead:
		what = fmt.Sprintf("p%d read %s", o.Process, shorten(valueText(o.Output)))
	case history.FWrite:
		what = fmt.Sprintf("p%d wrote %s", o.Process, shorten(valueText(o.Input)))
	case history.FCAS:
		exp, nw, _ := history.SplitCAS(o.Input)
		what = fmt.Sprintf("p%d set %s to %s by cas", o.Process, shorten(valueText(exp)), shorten(valueText(nw)))
		if o.Type == history.Fail {
			what = fmt.Sprintf("p%d's cas %s→%s failed: the key did not hold %s", o.Process, shorten(valueText(exp)), shorten(valueText(nw)), shorten(valueText(exp)))
		}
	default:
		what = fmt.Sprintf("p%d %s", o.Process, o.F)
	}
	return fmt.Sprintf("%s%s (event %d; %s).", what, node, o.InvokeIndex, strings.TrimSpace(span))
}
