package results

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Bounds of linearizability.html.
const (
	// MaxLinearizabilityOps bounds the register operations drawn: keys
	// the linearizable checker failed are always drawn, other keys are
	// added, whole, while they fit. A failed key longer than its share is
	// drawn up to a cut that fails on its own (see failedPrefix).
	MaxLinearizabilityOps = 1500
	// linTimeout bounds the check behind the drawing.
	linTimeout = 30 * time.Second
	// maxFailedKeysDrawn bounds the failed keys drawn. Each shares
	// MaxLinearizabilityOps, and a key longer than its share is cut by
	// checking prefixes of it: with hundreds of failed keys the shares
	// shrink to a few ops, nearly every key is cut, and the page shows
	// slivers of many keys instead of enough of a few to see a failure.
	maxFailedKeysDrawn = 20
)

// linSelection is the keys drawn in linearizability.html.
type linSelection struct {
	Keys                []string
	Ops                 int // register ops of the drawn keys
	TotalOps, TotalKeys int
	Failed              int // failed keys drawn
	// FailedTotal is how many failed keys the history holds, of which
	// Failed are drawn (the first maxFailed by first anomaly).
	FailedTotal int
}

// isRegister reports whether the linearizable (register) checker models f.
func isRegister(f string) bool {
	return f == history.FRead || f == history.FWrite || f == history.FCAS
}

// selectLinKeys picks the keys to draw: the failed keys, then the other
// keys in order of first appearance while the total stays within budget.
// Of more than maxFailed failed keys, the first maxFailed by first anomaly
// are drawn (see byFirstAnomaly, anomalyAt the earliest witness op of a
// key) and the others not at all: none is passed off as a key that passed.
func selectLinKeys(ops []history.Op, failed []string, anomalyAt map[string]int64, budget, maxFailed int) linSelection {
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
	var fk []string // distinct failed keys with register ops
	for _, k := range failed {
		if _, ok := count[k]; ok && !chosen[k] {
			chosen[k] = true
			fk = append(fk, k)
		}
	}
	sel.FailedTotal = len(fk)
	if len(fk) > maxFailed {
		fk = byFirstAnomaly(fk, order, anomalyAt)[:maxFailed]
	}
	for _, k := range fk {
		sel.Keys = append(sel.Keys, k)
		sel.Ops += count[k]
		sel.Failed++
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

// byFirstAnomaly orders failed keys by when they first failed, as far as
// results.json says: the keys its anomalies name by their earliest
// witness op (anomalyAt), then the others (listed by the checker without
// an anomaly, for brevity) by their first operation (order: every key in
// order of first appearance).
func byFirstAnomaly(keys, order []string, anomalyAt map[string]int64) []string {
	first := make(map[string]int, len(order))
	for i, k := range order {
		first[k] = i
	}
	out := append([]string(nil), keys...)
	sort.SliceStable(out, func(i, j int) bool {
		ai, iok := anomalyAt[out[i]]
		aj, jok := anomalyAt[out[j]]
		switch {
		case iok && jok:
			return ai < aj
		case iok != jok:
			return iok
		}
		return first[out[i]] < first[out[j]]
	})
	return out
}

// anomalyAt is, per key the linearizable checker's anomalies name, the
// earliest op (invoke index) of those anomalies.
func anomalyAt(s *checkers.Summary) map[string]int64 {
	out := map[string]int64{}
	if s == nil {
		return out
	}
	for _, r := range s.Results {
		if r.Checker != "linearizable" {
			continue
		}
		for _, a := range r.Anomalies {
			if len(a.Ops) == 0 {
				continue
			}
			at := slices.Min(a.Ops)
			for _, k := range a.Keys {
				if prev, ok := out[k]; !ok || at < prev {
					out[k] = at
				}
			}
		}
	}
	return out
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
		// The anomalies stop at a few keys; Extra lists every failed one.
		var extra struct {
			Failed []string `json:"failed-keys"`
		}
		if len(r.Extra) > 0 && json.Unmarshal(r.Extra, &extra) == nil {
			out = append(out, extra.Failed...)
		}
	}
	return out
}

// opIndex is where each key's operations are in a history, found in one
// pass: a key's events (see keepKeys) then cost its own events and the
// nemesis's to gather, not the whole history's.
type opIndex struct {
	events []history.Event
	// nemesis and byKey[k] are positions in events: of the nemesis
	// events, and of the events of k's client operations, each op whole
	// (its completion goes with its invoke, as in keepOps).
	nemesis []int
	byKey   map[string][]int
}

func newOpIndex(events []history.Event) *opIndex {
	x := &opIndex{events: events, byKey: map[string][]int{}}
	open := map[int]string{} // process -> key of its open invoke
	for i, e := range events {
		switch {
		case e.IsNemesis():
			x.nemesis = append(x.nemesis, i)
		case e.Type == history.Invoke:
			open[e.Process] = e.Key
			x.byKey[e.Key] = append(x.byKey[e.Key], i)
		default:
			// A completion with no open invoke is dropped, as keepOps
			// drops it.
			if k, ok := open[e.Process]; ok {
				x.byKey[k] = append(x.byKey[k], i)
				delete(open, e.Process)
			}
		}
	}
	return x
}

// keep returns what keepKeys(events, keys) does: the nemesis events and
// the events of the operations on keys, in history order.
func (x *opIndex) keep(keys ...string) []history.Event {
	pos := append([]int(nil), x.nemesis...)
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			pos = append(pos, x.byKey[k]...)
		}
	}
	slices.Sort(pos)
	out := make([]history.Event, len(pos))
	for i, p := range pos {
		out[i] = x.events[p]
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
	return keepOps(events, func(inv history.Event) bool { return want[inv.Key] })
}

// keepOps returns the nemesis events and the events of the client
// operations whose invoke keep accepts, each op whole.
func keepOps(events []history.Event, keep func(invoke history.Event) bool) []history.Event {
	kept := map[int]bool{} // process -> its open invoke was kept
	out := make([]history.Event, 0, len(events))
	for _, e := range events {
		switch {
		case e.IsNemesis():
			out = append(out, e)
		case e.Type == history.Invoke:
			k := keep(e)
			kept[e.Process] = k
			if k {
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

// cutView returns the events to draw: the nemesis events and the
// operations on the wanted keys, each op whole. For a key with a limit,
// only the ops invoked before the event at index limit are kept, and those
// still running at the cut (completed after it) are relaxed: a read or a
// failed op is left out, any other op is made info (its effect may or may
// not have happened, at any time after its invoke). The result constrains
// less than the whole key did, so if the key's history is linearizable so
// is the cut one, and a cut that is not linearizable proves the key is not.
func cutView(events []history.Event, want map[string]bool, limits map[string]int64) []history.Event {
	drop := map[int64]bool{}  // invoke index of ops left out
	relax := map[int64]bool{} // completion index of ops made info
	open := map[int]history.Event{}
	for _, e := range events {
		if e.IsNemesis() {
			continue
		}
		if e.Type == history.Invoke {
			open[e.Process] = e
			continue
		}
		inv, ok := open[e.Process]
		if !ok {
			continue
		}
		delete(open, e.Process)
		limit, cut := limits[inv.Key]
		if !cut || inv.Index >= limit || e.Index < limit {
			continue
		}
		if inv.F == history.FRead || e.Type == history.Fail {
			drop[inv.Index] = true
		} else {
			relax[e.Index] = true
		}
	}
	out := keepOps(events, func(inv history.Event) bool {
		if !want[inv.Key] || drop[inv.Index] {
			return false
		}
		limit, cut := limits[inv.Key]
		return !cut || inv.Index < limit
	})
	for i := range out {
		if relax[out[i].Index] {
			out[i].Type = history.Info
			out[i].Error = "still running where the view was cut"
		}
	}
	return out
}

// linearizableOf is the verdict of the linearizable checker on events.
var linearizableOf = func(ctx context.Context, events []history.Event) checkers.Validity {
	c, err := checkers.New("linearizable", checkers.Options{Timeout: linTimeout})
	if err != nil {
		return checkers.Unknown
	}
	return c.Check(ctx, events).Valid
}

// failedPrefix bounds the drawing of a failed key with more than budget
// operations: it returns the invoke index before which to draw (-1: draw
// it whole) and how many ops that keeps. events need only hold the key's
// operations (see opIndex.keep): each cut is a pass over them. It tries cuts (see cutView) from
// the first one holding every witness op of the key, doubling, and keeps
// the first that the linearizable checker finds invalid on its own. A
// drawn failure is thus always a real one.
func failedPrefix(ctx context.Context, events []history.Event, ops []history.Op, witnesses map[int64]bool, budget int) (int64, int) {
	if len(ops) <= budget {
		return -1, len(ops)
	}
	c := max(1, budget/2)
	for i, op := range ops {
		if witnesses[op.InvokeIndex] {
			c = max(c, i+1)
		}
	}
	key := ops[0].Key
	for ; c < len(ops) && ctx.Err() == nil; c *= 2 {
		limit := ops[c].InvokeIndex
		prefix := cutView(events, map[string]bool{key: true}, map[string]int64{key: limit})
		if linearizableOf(ctx, prefix) == checkers.Invalid {
			return limit, c
		}
	}
	return -1, len(ops)
}

// writeLinearizability writes linearizability.html for run to w and
// returns a note for report.html saying what it shows. When there is
// nothing to draw, or drawing fails, it writes a short page saying why
// (the report links it either way).
func writeLinearizability(ctx context.Context, run *Run, ops []history.Op, w io.Writer) string {
	for _, op := range ops {
		if op.F == history.FAdd {
			why := "This is a set workload: its reads return whole sets, which the per-key register view cannot draw, and the set checker's findings are in the report."
			writeLinMessage(w, run.TestValue("name"), why)
			return why
		}
	}
	failed := failedKeys(run.Summary)
	sel := selectLinKeys(ops, failed, anomalyAt(run.Summary), MaxLinearizabilityOps, maxFailedKeysDrawn)
	idx := newOpIndex(run.Events)
	byKey := map[string][]history.Op{}
	var order []string
	for _, op := range ops {
		if isRegister(op.F) {
			if _, ok := byKey[op.Key]; !ok {
				order = append(order, op.Key)
			}
			byKey[op.Key] = append(byKey[op.Key], op)
		}
	}
	limits := map[string]int64{}
	var cutNotes []string
	// A failed key too long to draw is drawn up to a prefix that fails.
	witnesses := witnessOps(run.Summary)
	for _, k := range sel.Keys[:sel.Failed] {
		limit, n := failedPrefix(ctx, idx.keep(k), byKey[k], witnesses, MaxLinearizabilityOps/sel.Failed)
		if limit >= 0 {
			limits[k] = limit
			sel.Ops -= len(byKey[k]) - n
			cutNotes = append(cutNotes, fmt.Sprintf("key %q is drawn up to event %d (its first %d of %d operations, a prefix that already fails the check; ops still running at the cut are drawn as info, reads among them left out)", k, limit, n, len(byKey[k])))
		}
	}
	// With room left, a key too long to draw whole is drawn up to a cut,
	// if results.json settled every key (so the key passed the check, and
	// so does its cut history).
	if room := MaxLinearizabilityOps - sel.Ops; room >= minPrefixOps && linearizableSettled(run.Summary) {
		// Failed keys left undrawn are not candidates: they did not pass.
		chosen := map[string]bool{}
		for _, k := range sel.Keys {
			chosen[k] = true
		}
		for _, k := range failed {
			chosen[k] = true
		}
		for _, k := range order {
			if chosen[k] {
				continue
			}
			c := min(room, len(byKey[k]))
			sel.Keys = append(sel.Keys, k)
			sel.Ops += c
			if c < len(byKey[k]) {
				limits[k] = byKey[k][c].InvokeIndex
				cutNotes = append(cutNotes, fmt.Sprintf("key %q, which passed the check, is drawn up to event %d (its first %d of %d operations; ops still running at the cut are drawn as info, reads among them left out)", k, limits[k], c, len(byKey[k])))
			}
			break
		}
	}
	if len(sel.Keys) == 0 {
		why := "The history has no read, write or cas operations: the linearizable (register) check has nothing to draw."
		if sel.TotalKeys > 0 {
			why = fmt.Sprintf("Every key has more than %d register operations and none failed the linearizable check, so no key was drawn (Porcupine's view of that many operations would not open). The check itself, in results.json, covers every key.", MaxLinearizabilityOps)
		}
		writeLinMessage(w, run.TestValue("name"), why)
		return why
	}
	want := map[string]bool{}
	for _, k := range sel.Keys {
		want[k] = true
	}
	events := cutView(idx.keep(sel.Keys...), want, limits)
	var buf bytes.Buffer
	if err := visualize(ctx, events, &buf, len(sel.Keys)); err != nil {
		why := fmt.Sprintf("Porcupine's view could not be drawn: %v", err)
		writeLinMessage(w, run.TestValue("name"), why)
		return why
	}
	shown := ""
	if sel.Failed < sel.FailedTotal {
		shown = fmt.Sprintf("showing %d of %d failed keys", sel.Failed, sel.FailedTotal)
	}
	if _, err := w.Write(titled(buf.Bytes(), run.TestValue("name"), shown)); err != nil {
		return fmt.Sprintf("linearizability.html could not be written: %v", err)
	}
	note := fmt.Sprintf("Porcupine's view of the per-key register check, with the faults as annotations: %d of %d keys (%d of %d register operations)",
		len(sel.Keys), sel.TotalKeys, sel.Ops, sel.TotalOps)
	switch {
	case sel.Failed < sel.FailedTotal:
		note += fmt.Sprintf(", showing %d of %d failed keys (first those results.json names in anomalies, earliest anomaly first, then the others by their first operation)", sel.Failed, sel.FailedTotal)
	case sel.Failed > 0:
		note += fmt.Sprintf(", including the %d key(s) the linearizable checker failed", sel.Failed)
	}
	if len(cutNotes) > 0 {
		note += "; " + strings.Join(cutNotes, "; ")
	}
	if len(sel.Keys) < sel.TotalKeys || len(cutNotes) > 0 {
		note += ". The check in results.json covers every key and every operation"
	}
	return note + "."
}

// titled names the run in Porcupine's page, whose title is always
// "Porcupine", and adds a link back to the report, after note if there is
// one. All are escaped here: the page is Porcupine's, not a template.
func titled(page []byte, run, note string) []byte {
	if run == "" {
		run = "faultline run"
	}
	name := html.EscapeString(run)
	page = bytes.Replace(page, []byte("<title>Porcupine</title>"), []byte("<title>"+name+" — linearizability — faultline</title>"), 1)
	if note != "" {
		name += " · " + html.EscapeString(note)
	}
	back := `<div style="position:fixed;right:10px;top:10px;z-index:10;background:#fff;border:1px solid #ccc;border-radius:4px;padding:4px 8px;font:13px system-ui,sans-serif">` +
		name + ` · <a href="report.html">back to the report</a></div>`
	if i := bytes.Index(page, []byte("<body>")); i >= 0 {
		i += len("<body>")
		page = append(page[:i:i], append([]byte(back), page[i:]...)...)
	}
	return labelRows(page)
}

// Porcupine labels its rows 0, 1, 2, ... (dense client ids the checkers
// assign), which are not the run's processes. labelRows makes each row
// say which process it is and which keys it touched ("p7 · k3-0, k3-1"),
// read from the ops' own metadata ("process 7") and descriptions
// ("write(k3-0, 5)"): two expressions of Porcupine's script are swapped
// for a call to rowLabel, defined before render runs. Labels are set as
// text (textContent), so a recorded key stays text. If Porcupine's
// script changes shape, the page keeps its numbers.
func labelRows(page []byte) []byte {
	swaps := [][2]string{
		{"const tag = i < realClients ? i.toString() : sortedTags[i - realClients]", "const tag = i < realClients ? rowLabel(data, i) : sortedTags[i - realClients]"},
		{"text.textContent = i < realClients ? i : sortedTags[i - realClients]", "text.textContent = i < realClients ? rowLabel(data, i) : sortedTags[i - realClients]"},
	}
	for _, sw := range swaps {
		if bytes.Count(page, []byte(sw[0])) != 1 {
			return page
		}
	}
	call := []byte("render(data)")
	i := bytes.LastIndex(page, call)
	if i < 0 {
		return page
	}
	for _, sw := range swaps {
		page = bytes.Replace(page, []byte(sw[0]), []byte(sw[1]), 1)
	}
	i = bytes.LastIndex(page, call)
	return append(page[:i:i], append([]byte(rowLabelJS), page[i:]...)...)
}

const rowLabelJS = `function rowLabel(data, i) {
        if (!data._rows) {
          data._rows = {}
          for (const p of data.Partitions) {
            for (const e of p.History) {
              const r = data._rows[e.ClientId] || (data._rows[e.ClientId] = {proc: '', keys: []})
              const m = /process (-?\d+)/.exec(e.Metadata || '')
              if (m && !r.proc) r.proc = 'p' + m[1]
              const k = /^[a-z]+\((.*?)(, |\))/.exec(e.Description || '')
              if (k && !r.keys.includes(k[1]) && r.keys.length < 4) r.keys.push(k[1])
            }
          }
        }
        const r = data._rows[i]
        if (!r) return String(i)
        return (r.proc || String(i)) + (r.keys.length ? ' · ' + r.keys.join(', ') : '')
      }
      `

// minPrefixOps is the least a key's drawn prefix holds.
const minPrefixOps = 200

// linearizableSettled reports whether results.json holds a linearizable
// result that decided every key (valid, or invalid with no key unknown):
// then a key no anomaly names passed the check.
func linearizableSettled(s *checkers.Summary) bool {
	if s == nil {
		return false
	}
	for _, r := range s.Results {
		if r.Checker != "linearizable" {
			continue
		}
		switch r.Valid {
		case checkers.Valid:
			return true
		case checkers.Invalid:
			return r.Counts["keys-unknown"] == 0
		}
		return false
	}
	return false
}

// visualize is the one call into the checkers' Porcupine visualization.
func visualize(ctx context.Context, events []history.Event, w io.Writer, keys int) error {
	return checkers.VisualizeLinearizable(ctx, events, w, checkers.VisualizeOptions{MaxKeys: keys, Timeout: linTimeout})
}

var linMessageTmpl = template.Must(template.New("lin").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Run}} — linearizability — faultline</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:2em;max-width:50em;color:#222}</style></head>
<body><h1>Linearizability view of {{.Run}}</h1><p>{{.Why}}</p><p><a href="report.html">Back to the report</a></p></body></html>
`))

func writeLinMessage(w io.Writer, run, why string) {
	if run == "" {
		run = "faultline run"
	}
	// A failure to write here surfaces when the file is closed.
	_ = linMessageTmpl.Execute(w, struct{ Run, Why string }{run, strings.TrimSpace(why)})
}
