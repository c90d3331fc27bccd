package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/history"
)

// regInput is a porcupine operation's input for the register model.
type regInput struct {
	kind     regKind
	value    string // write value or cas new value
	expected string // cas expected value
}

// regOutput is a porcupine operation's output for the register model.
type regOutput struct {
	value    string // what a read returned
	status   regStatus
	mismatch bool
}

// registerModel is a single register (one key: porcupine checks each key
// as its own partition). The state is the canonical JSON value, "null" when
// the key is absent, which it is at first.
//
// An info write or cas has return time Never, so porcupine may place it
// anywhere after its invoke; placing it after every other operation is the
// same as it never happening, which is why an info cas needs no
// nondeterminism: it applies if the state matches, and is a no-op
// otherwise.
func registerModel(key string) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return "null" },
		Step: func(state, input, output any) (bool, any) {
			s := state.(string)
			in := input.(regInput)
			out := output.(regOutput)
			switch in.kind {
			case regRead:
				return out.value == s, s
			case regWrite:
				return true, in.value
			default: // cas: on an absent key it always fails as a mismatch
				matches := s == in.expected && s != "null"
				switch out.status {
				case statusMismatch:
					return !matches, s
				case statusInfo:
					if matches {
						return true, in.value
					}
					return true, s
				}
				if !matches {
					return false, s
				}
				return true, in.value
			}
		},
		Hash: func(state any) uint64 {
			var h uint64 = 14695981039346656037
			for _, c := range []byte(state.(string)) {
				h = (h ^ uint64(c)) * 1099511628211
			}
			return h
		},
		DescribeOperation: func(input, output any) string {
			in := input.(regInput)
			out := output.(regOutput)
			k := escape(key)
			var s string
			switch in.kind {
			case regRead:
				s = fmt.Sprintf("read(%s) → %s", k, escape(out.value))
			case regWrite:
				s = fmt.Sprintf("write(%s, %s)", k, escape(in.value))
			default:
				s = fmt.Sprintf("cas(%s, %s, %s)", k, escape(in.expected), escape(in.value))
				if out.status == statusMismatch {
					s += " → mismatch"
				}
			}
			if out.status == statusInfo {
				s += " ?"
			}
			return s
		},
		DescribeState: func(state any) string {
			return escape(key) + " = " + escape(state.(string))
		},
		DescribeOperationMetadata: func(m any) string {
			op, ok := m.(history.Op)
			if !ok {
				return ""
			}
			s := fmt.Sprintf("event %d, process %d, %s", op.InvokeIndex, op.Process, escape(string(op.Type)))
			if op.Node != "" {
				s += ", node " + escape(op.Node)
			}
			if op.Error != "" {
				s += ", error: " + escape(op.Error)
			}
			return s
		},
	}
}

// keyOps groups register operations by key, keys sorted.
type keyOps struct {
	key string
	ops []regOp
}

func groupByKey(ops []regOp) []keyOps {
	idx := map[string]int{}
	var out []keyOps
	for _, op := range ops {
		i, ok := idx[op.op.Key]
		if !ok {
			i = len(out)
			idx[op.op.Key] = i
			out = append(out, keyOps{key: op.op.Key})
		}
		out[i].ops = append(out[i].ops, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func porcupineOps(ops []regOp) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i, r := range ops {
		out[i] = porcupine.Operation{
			ClientId: r.op.Process,
			Input:    regInput{kind: r.kind, value: r.value, expected: r.expected},
			Call:     r.op.Call,
			Output:   regOutput{value: r.value, status: r.status},
			Return:   r.op.Return,
			Metadata: r.op,
		}
	}
	return out
}

// linearizable checks each key's register history with Porcupine.
type linearizable struct{ opts Options }

func (linearizable) Name() string { return "linearizable" }

// keyVerdict is porcupine's verdict on one key.
type keyVerdict struct {
	key    string
	result porcupine.CheckResult
}

func (c linearizable) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name(), Counts: map[string]int{}}
	ops, err := registerOps(events)
	if err != nil {
		return unknownf(res, "cannot model the history as registers: %v", err)
	}
	keys := groupByKey(ops)
	res.Counts["ops"] = len(ops)
	res.Counts["keys"] = len(keys)
	deadline, hasDeadline := c.deadline(ctx)

	verdicts := make([]keyVerdict, len(keys))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				verdicts[i] = keyVerdict{key: keys[i].key, result: checkKey(ctx, keys[i], deadline, hasDeadline)}
			}
		}()
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()

	var failed, unknown []int
	for i, v := range verdicts {
		switch v.result {
		case porcupine.Illegal:
			failed = append(failed, i)
		case porcupine.Unknown:
			unknown = append(unknown, i)
		}
	}
	res.Counts["keys-nonlinearizable"] = len(failed)
	res.Counts["keys-unknown"] = len(unknown)
	for n, i := range failed {
		if n >= maxReported {
			break
		}
		res.Anomalies = append(res.Anomalies, explainKey(keys[i], deadline, hasDeadline))
	}
	switch {
	case len(failed) > 0:
		res.Valid = Invalid
	case len(unknown) > 0:
		names := make([]string, 0, 5)
		for _, i := range unknown[:min(5, len(unknown))] {
			names = append(names, fmt.Sprintf("%q", keys[i].key))
		}
		why := "the search timed out"
		if ctx.Err() != nil {
			why = "the check was cancelled"
		}
		res.Valid = Unknown
		res.Reason = fmt.Sprintf("%s before deciding %d of %d keys (%s); raise --timeout to decide them",
			why, len(unknown), len(keys), strings.Join(names, ", "))
	default:
		res.Valid = Valid
	}
	if len(failed) > 0 {
		fk := make([]string, len(failed))
		for n, i := range failed {
			fk[n] = keys[i].key
		}
		res.Extra, _ = json.Marshal(map[string]any{"failed-keys": fk})
	}
	return res
}

// maxReported bounds the anomalies a checker lists in full; Counts always
// hold the totals.
const maxReported = 10

// deadline is when the search must stop: the earlier of the option's
// timeout and the context's deadline.
func (c linearizable) deadline(ctx context.Context) (time.Time, bool) {
	d, ok := ctx.Deadline()
	if c.opts.Timeout > 0 {
		t := time.Now().Add(c.opts.Timeout)
		if !ok || t.Before(d) {
			d, ok = t, true
		}
	}
	return d, ok
}

// remaining converts a deadline to porcupine's timeout (0 = none). A
// deadline already past gives the smallest timeout, never "none".
func remaining(deadline time.Time, has bool) time.Duration {
	if !has {
		return 0
	}
	r := time.Until(deadline)
	if r <= 0 {
		return time.Nanosecond
	}
	return r
}

func checkKey(ctx context.Context, k keyOps, deadline time.Time, has bool) porcupine.CheckResult {
	if ctx.Err() != nil || (has && !time.Now().Before(deadline)) {
		return porcupine.Unknown
	}
	return porcupine.CheckOperationsTimeout(registerModel(k.key), porcupineOps(k.ops), remaining(deadline, has))
}

// explainKey reruns porcupine on a key it found nonlinearizable, verbosely,
// to name the operations it could not linearize: those outside the
// longest linearizable prefix it found.
func explainKey(k keyOps, deadline time.Time, has bool) Anomaly {
	a := Anomaly{Name: "nonlinearizable", Keys: []string{k.key}}
	pops := porcupineOps(k.ops)
	var longest []int
	if !has || time.Now().Before(deadline) {
		res, info := porcupine.CheckOperationsVerbose(registerModel(k.key), pops, remaining(deadline, has))
		if res == porcupine.Illegal {
			for _, p := range info.PartialLinearizations() {
				for _, lin := range p {
					if len(lin) > len(longest) {
						longest = lin
					}
				}
			}
		}
	}
	// Porcupine's ids are the operations' positions in k.ops.
	in := make([]bool, len(k.ops))
	model := registerModel(k.key)
	state := model.Init()
	for _, id := range longest {
		if id >= 0 && id < len(in) {
			in[id] = true
			_, state = model.Step(state, pops[id].Input, pops[id].Output)
		}
	}
	// The operations that could come next after the prefix: those invoked
	// before any remaining operation returned. None of them fits.
	next := int64(history.Never)
	for i, op := range k.ops {
		if !in[i] && op.op.Return < next {
			next = op.op.Return
		}
	}
	var stuck []string
	for i, op := range k.ops {
		if in[i] || op.op.Call > next {
			continue
		}
		if len(a.Ops) < 6 {
			a.Ops = append(a.Ops, op.op.InvokeIndex)
			stuck = append(stuck, op.describe())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Key %q: no order of its %d operations that respects real time is a legal register history (initially absent).", k.key, len(k.ops))
	switch {
	case longest != nil:
		fmt.Fprintf(&b, " After the longest linearizable prefix Porcupine found (%d operations), %s = %s, and no operation that could come next extends it to a full linearization: %s.",
			len(longest), k.key, state.(string), strings.Join(stuck, "; "))
	case len(stuck) > 0:
		fmt.Fprintf(&b, " Not one of the operations that could come first fits the initial (absent) state: %s.", strings.Join(stuck, "; "))
	}
	a.Explanation = b.String()
	return a
}

// VisualizeOptions bound the size of a linearizability visualization.
type VisualizeOptions struct {
	// MaxKeys is how many keys are drawn: every key that failed, then a
	// sample of the others, up to MaxKeys in all (failed keys are always
	// drawn). 0 means 10.
	MaxKeys int
	// Timeout bounds the check behind the drawing (0 = none).
	Timeout time.Duration
	_       struct{}
}

// VisualizeLinearizable writes Porcupine's HTML visualization of the
// per-key register check of events to w, with the run's fault intervals
// as annotations. It writes it whether the history is linearizable or not
// (on failure it shows the partial linearizations and the operations that
// could not be placed). Every recorded string (keys, values, errors, nodes)
// is HTML-escaped before Porcupine inserts it into the page.
func VisualizeLinearizable(ctx context.Context, events []history.Event, w io.Writer, opts VisualizeOptions) error {
	ops, err := registerOps(events)
	if err != nil {
		return fmt.Errorf("visualize linearizability: %w", err)
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 10
	}
	keys := groupByKey(ops)
	lin := linearizable{opts: Options{Timeout: opts.Timeout}}
	deadline, has := lin.deadline(ctx)
	var chosen, others []keyOps
	for _, k := range keys {
		if checkKey(ctx, k, deadline, has) == porcupine.Illegal {
			chosen = append(chosen, k)
		} else {
			others = append(others, k)
		}
	}
	// An even sample of the other keys, so a long run stays drawable.
	if room := maxKeys - len(chosen); room > 0 && len(others) > 0 {
		step := float64(len(others)) / float64(min(room, len(others)))
		for i := 0; i < min(room, len(others)); i++ {
			chosen = append(chosen, others[int(float64(i)*step)])
		}
	}
	var all []porcupine.Operation
	var bounds []int
	for _, k := range chosen {
		all = append(all, porcupineOps(k.ops)...)
		bounds = append(bounds, len(all))
	}
	// One model draws every partition (one per key): inputs carry their
	// key so that descriptions can name it. Porcupine draws a row per
	// client id from 0 to the largest, so processes get dense rows (the
	// tooltip still names the process).
	rows := map[int]int{}
	for i := range all {
		op := all[i].Metadata.(history.Op)
		all[i].Input = keyedInput{key: op.Key, in: all[i].Input.(regInput)}
		r, ok := rows[op.Process]
		if !ok {
			r = len(rows)
			rows[op.Process] = r
		}
		all[i].ClientId = r
	}
	base := registerModel("")
	model := base
	model.Partition = func(h []porcupine.Operation) [][]porcupine.Operation {
		out := make([][]porcupine.Operation, len(bounds))
		start := 0
		for i, end := range bounds {
			out[i] = h[start:end]
			start = end
		}
		return out
	}
	model.Step = func(state, input, output any) (bool, any) {
		return base.Step(state, input.(keyedInput).in, output)
	}
	model.DescribeOperation = func(input, output any) string {
		ki := input.(keyedInput)
		return registerModel(ki.key).DescribeOperation(ki.in, output)
	}
	model.DescribeState = func(state any) string { return escape(state.(string)) }
	_, info := porcupine.CheckOperationsVerbose(model, all, remaining(deadline, has))
	var notes []porcupine.Annotation
	for _, f := range history.Faults(events) {
		details := fmt.Sprintf("%s from %d to %d ns", f.Name, f.Start, f.Stop)
		if !history.IsNull(f.StartValue) {
			details += "; start: " + history.Canonical(f.StartValue)
		}
		if !history.IsNull(f.StopValue) {
			details += "; stop: " + history.Canonical(f.StopValue)
		}
		// Annotations are drawn as text (textContent), so they are not
		// escaped: escaping would show the entities literally.
		notes = append(notes, porcupine.Annotation{
			Tag: "nemesis", Start: f.Start, End: f.Stop,
			Description: f.Name, Details: details,
			BackgroundColor: "#fbd5d5",
		})
	}
	info.AddAnnotations(notes)
	if err := porcupine.Visualize(model, info, w); err != nil {
		return fmt.Errorf("visualize linearizability: %w", err)
	}
	return nil
}

// keyedInput is a register input that knows its key, for descriptions.
type keyedInput struct {
	key string
	in  regInput
}

// unknownf sets an unknown verdict with a reason.
func unknownf(res Result, format string, args ...any) Result {
	res.Valid = Unknown
	res.Reason = fmt.Sprintf(format, args...)
	return res
}
