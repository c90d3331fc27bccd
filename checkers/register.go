package checkers

import (
	"encoding/json"
	"fmt"
	"html"
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

// registerOps extracts the register operations (read, write, cas) of a
// history. A cas whose value is not a pair is an input error: the models
// cannot tell what it did, so the caller reports unknown rather than guess.
func registerOps(events []history.Event) ([]regOp, error) {
	// Pair the events into operations in place (as history.Pair does, but
	// without a second copy of a long history), then keep the ones the
	// models use.
	out := make([]regOp, 0, len(events)/2+1)
	open := map[int]int{} // process -> its open operation in out
	for _, e := range events {
		if e.IsNemesis() {
			continue
		}
		if e.Type == history.Invoke {
			if e.F != history.FRead && e.F != history.FWrite && e.F != history.FCAS {
				delete(open, e.Process)
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
				return nil, fmt.Errorf("event %d (process %d, key %q): %w", op.InvokeIndex, op.Process, op.Key, err)
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
	return out[:n], nil
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
