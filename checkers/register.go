package checkers

import (
	"encoding/json"
	"fmt"
	"html"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// regKind is what a register operation does.
type regKind uint8

const (
	regRead regKind = iota
	regWrite
	regCAS
)

// regStatus is how a register operation ended, as far as the models care.
type regStatus uint8

const (
	statusOK       regStatus = iota
	statusInfo               // may have taken effect, at any time after its invoke, or never
	statusMismatch           // a cas that failed with error "mismatch": an observation
)

// regOp is one register operation of a history, with its values in
// canonical JSON ("null" for absent). Operations the register models do
// not use (failed ops other than a cas mismatch, reads of unknown outcome,
// other functions) are left out by registerOps.
type regOp struct {
	op     history.Op
	kind   regKind
	status regStatus
	// value is what a read returned, what a write wrote, or a cas's new value.
	value string
	// expected is a cas's expected value.
	expected string
}

// regProblems is what the register models cannot check in a history: keys
// they cannot decide (a malformed cas; for the causal models, a value
// written twice) and functions they do not know. Each such key is left
// out, alone: the other keys are still checked, and an anomaly on them
// makes the verdict invalid (leaving keys out is a projection of the
// history, which can hide an anomaly, never invent one). An operation with such a function that may
// have taken effect (ok, info, or never completed) may have written its
// key, so nothing the models say about that key can be trusted: the key is
// left out, and the checker's verdict is unknown unless an anomaly on the
// other keys makes it invalid. A failed one did nothing and is ignored, as
// are nemesis events, which are not client operations.
type regProblems struct {
	// skip holds the keys left out.
	skip map[string]bool
	// bad says why each key that cannot be decided cannot (the first
	// reason found), for keys left out for another reason than a function.
	bad map[string]string
	// unknownF counts, per function the models do not know, the operations
	// that may have taken effect, and the keys they act on; fOrder is the
	// order the functions first appear in.
	unknownF map[string]*unknownFunc
	fOrder   []string
}

type unknownFunc struct {
	n    int
	keys map[string]bool
}

func (p *regProblems) addUnknownF(f, key string) {
	if p.unknownF == nil {
		p.unknownF = map[string]*unknownFunc{}
	}
	u := p.unknownF[f]
	if u == nil {
		u = &unknownFunc{keys: map[string]bool{}}
		p.unknownF[f] = u
		p.fOrder = append(p.fOrder, f)
	}
	u.n++
	u.keys[key] = true
	p.skipKey(key)
}

// badKey leaves key out because of why (the first why of a key is kept).
func (p *regProblems) badKey(key, why string) {
	if p.bad == nil {
		p.bad = map[string]string{}
	}
	if _, ok := p.bad[key]; !ok {
		p.bad[key] = why
	}
	p.skipKey(key)
}

func (p *regProblems) skipKey(key string) {
	if p.skip == nil {
		p.skip = map[string]bool{}
	}
	p.skip[key] = true
}

// any reports whether something could not be checked.
func (p *regProblems) any() bool { return len(p.skip) > 0 }

// reasons says, one part per problem, what could not be checked and why:
// `3 ops with f "get" that the register model does not know: read, write,
// cas (on key "k")`.
func (p *regProblems) reasons() []string {
	var out []string
	for _, f := range p.fOrder {
		u := p.unknownF[f]
		out = append(out, fmt.Sprintf("%s with f %q that the register model does not know: read, write, cas (on %s)",
			plural(u.n, "op", "ops"), f, keyList(u.keys)))
	}
	keys := make([]string, 0, len(p.bad))
	for k := range p.bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys[:min(5, len(keys))] {
		out = append(out, p.bad[k])
	}
	if len(keys) > 5 {
		out = append(out, fmt.Sprintf("and %d more keys like these", len(keys)-5))
	}
	return out
}

// nothingToCheck is the reason of a history with no register operation of
// known outcome, with what else could not be checked. A key that cannot
// be decided is not "nothing": see nothingDecided.
func (p *regProblems) nothingToCheck() string {
	return strings.Join(append([]string{nothingToCheck}, p.reasons()...), "; ")
}

// undecided is the reason of a checker that left out the keys p skips, of
// total, and found no anomaly on the others (rest says so).
func (p *regProblems) undecided(total int, rest string) string {
	s := fmt.Sprintf("%d of %d keys undecided: %s", len(p.skip), total, strings.Join(p.reasons(), "; "))
	if len(p.skip) < total {
		s += "; " + rest
	}
	return s
}

// keyList names a few keys: `key "a"`, `keys "a", "b" and 3 more`.
func keyList(keys map[string]bool) string {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	quoted := make([]string, 0, 5)
	for _, k := range names[:min(5, len(names))] {
		quoted = append(quoted, fmt.Sprintf("%q", k))
	}
	s := strings.Join(quoted, ", ")
	if len(names) > 5 {
		s += fmt.Sprintf(" and %d more", len(names)-5)
	}
	if len(names) == 1 {
		return "key " + s
	}
	return "keys " + s
}

// dropSkipped removes, in place, the operations on keys p skips.
func (p *regProblems) dropSkipped(ops []regOp) []regOp {
	if len(p.skip) == 0 {
		return ops
	}
	n := 0
	for _, r := range ops {
		if !p.skip[r.op.Key] {
			ops[n] = r
			n++
		}
	}
	return ops[:n]
}

// nothingDecided reports whether ops, with p, give a register model nothing
// to check: no operation of known outcome, and no key that could not be
// decided (a malformed cas that completed is not nothing).
func nothingDecided(ops []regOp, p *regProblems) bool {
	return !anyDecided(ops) && len(p.bad) == 0
}

// registerOps is registerHistory without what the models cannot check.
func registerOps(events []history.Event) ([]regOp, error) {
	ops, _ := registerHistory(events)
	return ops, nil
}

// registerHistory extracts the register operations (read, write, cas) of a
// history, and what the models cannot check (regProblems; the operations
// on the keys it skips are still returned: the caller drops them). A cas
// whose value is not a pair makes its key undecided: the models cannot
// tell what it did, so its key is unknown rather than guessed at.
func registerHistory(events []history.Event) ([]regOp, regProblems) {
	// Pair the events into operations in place (as history.Pair does, but
	// without a second copy of a long history), then keep the ones the
	// models use.
	out := make([]regOp, 0, len(events)/2+1)
	var probs regProblems
	open := map[int]int{}                // process -> its open operation in out
	openOther := map[int]history.Event{} // process -> its open operation of a function the models do not know
	for _, e := range events {
		if e.IsNemesis() {
			continue
		}
		if e.Type == history.Invoke {
			if o, ok := openOther[e.Process]; ok {
				// Never completed: it may have taken effect.
				probs.addUnknownF(o.F, o.Key)
				delete(openOther, e.Process)
			}
			if e.F != history.FRead && e.F != history.FWrite && e.F != history.FCAS {
				delete(open, e.Process)
				openOther[e.Process] = e
				continue
			}
			open[e.Process] = len(out)
			out = append(out, regOp{op: history.Op{
				Process: e.Process, F: e.F, Key: e.Key, Input: e.Value,
				Type: history.Info, Call: e.Time, Return: history.Never,
				InvokeIndex: e.Index, CompleteIndex: -1,
				Node: e.Node, Final: e.Final,
			}})
			continue
		}
		if o, ok := openOther[e.Process]; ok {
			delete(openOther, e.Process)
			if e.Type != history.Fail {
				probs.addUnknownF(o.F, o.Key)
			}
			continue
		}
		i, ok := open[e.Process]
		if !ok {
			continue
		}
		delete(open, e.Process)
		op := &out[i].op
		op.Type = e.Type
		op.Output = e.Value
		op.CompleteIndex = e.Index
		op.Error = e.Error
		if e.Type != history.Info {
			op.Return = e.Time
		}
		if op.Node == "" {
			op.Node = e.Node
		}
		op.Final = op.Final || e.Final
	}
	for _, o := range openOther {
		probs.addUnknownF(o.F, o.Key)
	}
	n := 0
	for _, r := range out {
		op := r.op
		switch op.F {
		case history.FRead:
			if op.Type != history.OK {
				continue // a failed read did nothing; an info read tells nothing
			}
			r.kind = regRead
			r.value = canonical(op.Output)
		case history.FWrite:
			if op.Type == history.Fail {
				continue
			}
			r.kind = regWrite
			r.value = canonical(op.Input)
		case history.FCAS:
			if op.Type == history.Fail && op.Error != history.ErrorMismatch {
				continue
			}
			exp, nw, err := history.SplitCAS(op.Input)
			if err != nil {
				probs.badKey(op.Key, fmt.Sprintf("event %d (process %d, key %q): %v", op.InvokeIndex, op.Process, op.Key, err))
				continue
			}
			r.kind = regCAS
			r.expected = canonical(exp)
			r.value = canonical(nw)
		}
		switch op.Type {
		case history.Info:
			r.status = statusInfo
		case history.Fail:
			r.status = statusMismatch
		}
		out[n] = r
		n++
	}
	return out[:n], probs
}

// countKeys is how many keys ops and skip name.
func countKeys(ops []regOp, skip map[string]bool) int {
	seen := map[string]bool{}
	for k := range skip {
		seen[k] = true
	}
	for _, r := range ops {
		seen[r.op.Key] = true
	}
	return len(seen)
}

// canonical is history.Canonical, with a fast path for plain integers,
// the values of the bundled workloads.
func canonical(v json.RawMessage) string {
	if len(v) == 0 || len(v) > 20 {
		return history.Canonical(v)
	}
	for i, c := range v {
		if (c < '0' || c > '9') && (c != '-' || i > 0 || len(v) == 1) {
			return history.Canonical(v)
		}
	}
	return string(v)
}

// describe renders an operation in plain text, e.g. `p3 write x=5 (ok, #17)`.
func (r regOp) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "p%d ", r.op.Process)
	switch r.kind {
	case regRead:
		fmt.Fprintf(&b, "read %s=%s", r.op.Key, r.value)
	case regWrite:
		fmt.Fprintf(&b, "write %s=%s", r.op.Key, r.value)
	case regCAS:
		fmt.Fprintf(&b, "cas %s %s→%s", r.op.Key, r.expected, r.value)
	}
	switch r.status {
	case statusInfo:
		b.WriteString(" (info: outcome unknown")
	case statusMismatch:
		b.WriteString(" (failed: mismatch")
	default:
		b.WriteString(" (ok")
	}
	fmt.Fprintf(&b, ", event %d)", r.op.InvokeIndex)
	return b.String()
}

// escape makes a recorded string safe to insert as HTML.
func escape(s string) string { return html.EscapeString(s) }
