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
	ops := history.Pair(events)
	out := make([]regOp, 0, len(ops))
	for _, op := range ops {
		var r regOp
		r.op = op
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
		default:
			continue
		}
		switch {
		case op.Type == history.Info:
			r.status = statusInfo
		case op.Type == history.Fail:
			r.status = statusMismatch
		}
		out = append(out, r)
	}
	return out, nil
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
