package results

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Bounds of linearizability.html.
const (
	// MaxLinearizabilityOps bounds the register operations drawn: keys
	// the linearizable checker failed are always drawn, other keys are
	// added while they fit. Keys are drawn whole: a key's history cut in
	// time would not be checkable.
	MaxLinearizabilityOps = 4000
	// linTimeout bounds the check behind the drawing.
	linTimeout = 30 * time.Second
)

// linSelection is the keys drawn in linearizability.html.
type linSelection struct {
	Keys                []string
	Ops                 int // register ops of the drawn keys
	TotalOps, TotalKeys int
	Failed              int // failed keys drawn
}

// isRegister reports whether the linearizable (register) checker models f.
func isRegister(f string) bool {
	return f == history.FRead || f == history.FWrite || f == history.FCAS
}

// selectLinKeys picks the keys to draw: every failed key, then the other
// keys in order of first appearance while the total stays within budget.
func selectLinKeys(ops []history.Op, failed []string, budget int) linSelection {
	count := map[string]int{}
	var order []string
	for _, op := range ops {
		if !isRegister(op.F) {
			continue
		}
		if _, ok := count[op.Key]; !ok {
			order = append(order, op.Key)
		}
		count[op.Key]++
	}
	sel := linSelection{TotalKeys: len(order)}
	for _, n := range count {
		sel.TotalOps += n
	}
	chosen := map[string]bool{}
	for _, k := range failed {
		if n, ok := count[k]; ok && !chosen[k] {
			chosen[k] = true
			sel.Keys = append(sel.Keys, k)
			sel.Ops += n
			sel.Failed++
		}
	}
	for _, k := range order {
		if !chosen[k] && sel.Ops+count[k] <= budget {
			chosen[k] = true
			sel.Keys = append(sel.Keys, k)
			sel.Ops += count[k]
		}
	}
	return sel
}

// failedKeys are the keys named by the linearizable checker's anomalies.
func failedKeys(s *checkers.Summary) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, r := range s.Results {
		if r.Checker != "linearizable" {
			continue
		}
		for _, a := range r.Anomalies {
			out = append(out, a.Keys...)
		}
	}
	return out
}

// keepKeys returns the nemesis events and the events of the client
// operations on keys (an op is kept or dropped whole: its completion goes
// with its invoke, whatever key the completion names).
func keepKeys(events []history.Event, keys []string) []history.Event {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	kept := map[int]bool{} // process -> its open invoke was kept
	out := make([]history.Event, 0, len(events))
	for _, e := range events {
		switch {
		case e.IsNemesis():
			out = append(out, e)
		case e.Type == history.Invoke:
			kept[e.Process] = want[e.Key]
			if want[e.Key] {
				out = append(out, e)
			}
		default:
			if kept[e.Process] {
				out = append(out, e)
			}
			delete(kept, e.Process)
		}
	}
	return out
}

// writeLinearizability writes linearizability.html for run to w and
// returns a note for report.html saying what it shows. When there is
// nothing to draw, or drawing fails, it writes a short page saying why
// (the report links it either way).
func writeLinearizability(ctx context.Context, run *Run, ops []history.Op, w io.Writer) string {
	sel := selectLinKeys(ops, failedKeys(run.Summary), MaxLinearizabilityOps)
	if len(sel.Keys) == 0 {
		why := "The history has no read, write or cas operations: the linearizable (register) check has nothing to draw."
		if sel.TotalKeys > 0 {
			why = fmt.Sprintf("Every key has more than %d register operations, and none failed the linearizable check, so no key was drawn (Porcupine's view of that many operations would not open). The check itself, in results.json, covers every key.", MaxLinearizabilityOps)
		}
		writeLinMessage(w, why)
		return why
	}
	events := keepKeys(run.Events, sel.Keys)
	var buf bytes.Buffer
	if err := visualize(ctx, events, &buf, len(sel.Keys)); err != nil {
		why := fmt.Sprintf("Porcupine's view could not be drawn: %v", err)
		writeLinMessage(w, why)
		return why
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Sprintf("linearizability.html could not be written: %v", err)
	}
	note := fmt.Sprintf("Porcupine's view of the per-key register check, with the faults as annotations: %d of %d keys (%d of %d register operations)",
		len(sel.Keys), sel.TotalKeys, sel.Ops, sel.TotalOps)
	if sel.Failed > 0 {
		note += fmt.Sprintf(", including the %d key(s) the linearizable checker failed", sel.Failed)
	}
	if len(sel.Keys) < sel.TotalKeys {
		note += ". Keys are drawn whole; the check in results.json covers every key"
	}
	return note + "."
}

// visualize is the one call into the checkers' Porcupine visualization.
func visualize(ctx context.Context, events []history.Event, w io.Writer, keys int) error {
	return checkers.VisualizeLinearizable(ctx, events, w, checkers.VisualizeOptions{MaxKeys: keys, Timeout: linTimeout})
}

var linMessageTmpl = template.Must(template.New("lin").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>linearizability</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:2em;max-width:50em;color:#222}</style></head>
<body><h1>Linearizability view</h1><p>{{.}}</p><p><a href="report.html">Back to the report</a></p></body></html>
`))

func writeLinMessage(w io.Writer, why string) {
	// A failure to write here surfaces when the file is closed.
	_ = linMessageTmpl.Execute(w, strings.TrimSpace(why))
}
