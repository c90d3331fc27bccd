package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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

// groupByKey groups ops by key, keys sorted, each key's operations in
// their order in ops. It reorders ops in place and returns subslices of
// it: a second copy of a long history's operations (they are large) would
// nearly double what the check holds at its peak.
func groupByKey(ops []regOp) []keyOps {
	idx := map[string]int{}
	var out []keyOps
	var count []int
	for _, op := range ops {
		i, ok := idx[op.op.Key]
		if !ok {
			i = len(out)
			idx[op.op.Key] = i
			out = append(out, keyOps{key: op.op.Key})
			count = append(count, 0)
		}
		count[i]++
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return out[order[a]].key < out[order[b]].key })
	// start[i] is where key i's operations begin once sorted.
	start := make([]int, len(out))
	sorted := make([]keyOps, len(out))
	at := 0
	for n, i := range order {
		start[i] = at
		sorted[n] = keyOps{key: out[i].key, ops: ops[at : at+count[i] : at+count[i]]}
		at += count[i]
	}
	// dest[j] is where ops[j] goes: a stable counting sort, applied in
	// place by following the permutation's cycles.
	dest := make([]int32, len(ops))
	for j, op := range ops {
		i := idx[op.op.Key]
		dest[j] = int32(start[i])
		start[i]++
	}
	for j := range ops {
		for int(dest[j]) != j {
			d := dest[j]
			ops[j], ops[d] = ops[d], ops[j]
			dest[j], dest[d] = dest[d], dest[j]
		}
	}
	return sorted
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

// linearizable checks each key's register history: pruned (prune.go),
// then searched (search.go) within the memory and time bounds.
type linearizable struct{ opts Options }

func (linearizable) Name() string { return "linearizable" }

// keyCheck is the check of one key: its operations after pruning and what
// the search found.
type keyCheck struct {
	key    string
	ops    []regOp // after pruning, in invoke order
	pruned int
	search keySearch
	// overwrite, when set, decided the key illegal before any search (ops
	// are then the key's operations before pruning).
	overwrite *overwrite
}

// infoSummary says how many of ops have an unknown outcome, by kind:
// "20 writes and 2 cas of unknown outcome".
func infoSummary(ops []regOp) string {
	var w, c int
	for _, r := range ops {
		if r.status == statusInfo {
			if r.kind == regWrite {
				w++
			} else {
				c++
			}
		}
	}
	var parts []string
	if w > 0 {
		parts = append(parts, plural(w, "write", "writes"))
	}
	if c > 0 {
		parts = append(parts, plural(c, "cas", "cas"))
	}
	if len(parts) == 0 {
		return "no operation of unknown outcome"
	}
	return strings.Join(parts, " and ") + " of unknown outcome"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// why says why a key's search ended without a verdict.
func (k keyCheck) why(limitBytes int64) string {
	var what string
	switch k.search.stop {
	case stopMemory:
		what = "exceeded " + formatBytes(limitBytes)
	case stopTime:
		what = "timed out"
	default:
		what = "was cancelled"
	}
	return fmt.Sprintf("search %s on key %q after %.1f s (%d states; %s)",
		what, k.key, k.search.elapsed.Seconds(), k.search.entries, infoSummary(k.ops))
}

func formatBytes(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d bytes", b)
}

// DefaultSearchMemory bounds the memory of a linearizability check when
// Options.SearchMemory is 0.
const DefaultSearchMemory = 512 << 20

// checkKeys prunes and searches every key, GOMAXPROCS keys at a time, each
// within its share of the memory bound; the returned bytes are that share.
// With quick, a key findOverwrite proves illegal is not searched. It prunes
// keys' operations in place: keys is not to be used after.
func (c linearizable) checkKeys(ctx context.Context, keys []keyOps, quick bool) ([]keyCheck, int64) {
	deadline, hasDeadline := c.deadline(ctx)
	workers := min(runtime.GOMAXPROCS(0), max(len(keys), 1))
	total := c.opts.SearchMemory
	if total <= 0 {
		total = DefaultSearchMemory
	}
	share := total / int64(workers)
	lim := searchLimits{maxEntries: int(max(share/memoBytesPerEntry, 1))}
	if hasDeadline {
		lim.deadline = deadline
	}
	checks := make([]keyCheck, len(keys))
	work := make(chan int)
	var wg sync.WaitGroup
	var crashOnce sync.Once
	var crash any
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A bug in a worker must reach the caller as a crash (and
				// not take the process down from a goroutine nobody can
				// recover): re-raised below, after the workers stop.
				if p := recover(); p != nil {
					crashOnce.Do(func() { crash = p })
					for range work {
					}
				}
			}()
			for i := range work {
				if quick {
					// On the operations as recorded, so that the
					// explanation holds without pruning's argument.
					if w, ok := findOverwrite(keys[i].ops); ok {
						checks[i] = keyCheck{key: keys[i].key, ops: keys[i].ops,
							search: keySearch{verdict: searchIllegal}, overwrite: &w}
						continue
					}
				}
				kept, pruned := pruneInPlace(keys[i].ops)
				checks[i] = keyCheck{key: keys[i].key, ops: kept, pruned: pruned,
					search: searchKey(ctx, kept, lim)}
			}
		}()
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	if crash != nil {
		panic(crash)
	}
	return checks, share
}

func (c linearizable) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name(), Counts: map[string]int{}}
	ops, probs := registerHistory(events)
	if nothingDecided(ops, &probs) {
		return unknownf(res, "%s", probs.nothingToCheck())
	}
	// Keys the model cannot check are left out; every other key is still
	// decided, so that a nonlinearizable key is reported whatever the
	// others hold.
	ops = probs.dropSkipped(ops)
	keys := groupByKey(ops)
	res.Counts["ops"] = len(ops)
	res.Counts["keys"] = len(keys) + len(probs.skip)
	checks, share := c.checkKeys(ctx, keys, true)

	var failed, unknown []int
	for i, k := range checks {
		res.Counts["ops-pruned"] += k.pruned
		switch k.search.verdict {
		case searchIllegal:
			failed = append(failed, i)
		case searchUnknown:
			unknown = append(unknown, i)
		}
	}
	res.Counts["keys-nonlinearizable"] = len(failed)
	res.Counts["keys-unknown"] = len(unknown) + len(probs.skip)
	for n, i := range failed {
		if n >= maxReported {
			break
		}
		res.Anomalies = append(res.Anomalies, explainKey(checks[i]))
	}
	switch {
	case len(failed) > 0:
		res.Valid = Invalid
	case len(unknown) > 0 || probs.any():
		whys := probs.reasons()
		for _, i := range unknown[:min(3, len(unknown))] {
			whys = append(whys, checks[i].why(share))
		}
		if len(unknown) > 3 {
			whys = append(whys, fmt.Sprintf("and %d more", len(unknown)-3))
		}
		undecided := len(unknown) + len(probs.skip)
		res.Valid = Unknown
		res.Reason = fmt.Sprintf("%d of %d keys undecided: %s", undecided, res.Counts["keys"], strings.Join(whys, "; "))
		if undecided < res.Counts["keys"] {
			res.Reason += "; the other keys are linearizable"
		}
		if len(unknown) > 0 {
			res.Reason += ". Raise --search-memory or --timeout to decide them"
		}
	default:
		res.Valid = Valid
	}
	if len(failed) > 0 {
		fk := make([]string, len(failed))
		for n, i := range failed {
			fk[n] = checks[i].key
		}
		res.Extra, _ = json.Marshal(map[string]any{"failed-keys": fk})
	}
	return res
}

// anyDecided reports whether ops hold an operation of known outcome: an ok
// read, write or cas, or a cas mismatch. Without one there is nothing to
// check: every register history of unknown outcomes alone is linearizable.
func anyDecided(ops []regOp) bool {
	for _, r := range ops {
		if r.status != statusInfo {
			return true
		}
	}
	return false
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

// explainKey names the operations of an illegal key that could not be
// linearized: those that could come next after the longest linearizable
// prefix the search found.
func explainKey(k keyCheck) Anomaly {
	if k.overwrite != nil {
		return k.overwrite.explain(k.key, len(k.ops)+k.pruned)
	}
	a := Anomaly{Name: "nonlinearizable", Keys: []string{k.key}}
	longest := k.search.longest
	in := make([]bool, len(k.ops))
	cops := intern(k.ops)
	values := make(map[int32]string, len(k.ops))
	for i, r := range k.ops {
		values[cops[i].val] = r.value
		if r.kind == regCAS {
			values[cops[i].exp] = r.expected
		}
	}
	values[0] = "null"
	var state int32
	for _, id := range longest {
		in[id] = true
		_, state = cops[id].step(state)
	}
	// The operations that could come next after the prefix: those invoked
	// before any remaining operation of known outcome returned (at equal
	// times, before it in the history, as the search orders them). None
	// of them fits.
	next, nextIndex := int64(history.Never), int64(math.MaxInt64)
	for i, op := range k.ops {
		if !in[i] && op.op.Return != history.Never && (op.op.Return < next || op.op.Return == next && op.op.CompleteIndex < nextIndex) {
			next, nextIndex = op.op.Return, op.op.CompleteIndex
		}
	}
	var stuck []string
	for i, op := range k.ops {
		if in[i] || op.op.Call > next || op.op.Call == next && op.op.InvokeIndex > nextIndex || op.status == statusInfo {
			continue
		}
		if len(a.Ops) < 6 {
			a.Ops = append(a.Ops, op.op.InvokeIndex)
			stuck = append(stuck, op.describe())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Key %q: no order of its %d operations that respects real time is a legal register history (initially absent).", k.key, len(k.ops)+k.pruned)
	switch {
	case longest != nil:
		fmt.Fprintf(&b, " After the longest linearizable prefix the search found (%d operations), %s = %s, and no operation that could come next extends it to a full linearization: %s.",
			len(longest), k.key, values[state], strings.Join(stuck, "; "))
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
	// SearchMemory bounds the check's memory as Options.SearchMemory does.
	SearchMemory int64
	_            struct{}
}

// VisualizeLinearizable writes Porcupine's HTML visualization of the
// per-key register check of events to w, with the run's fault intervals
// as annotations. It writes it whether the history is linearizable or not
// (on failure it shows the partial linearizations and the operations that
// could not be placed). Every recorded string (keys, values, errors, nodes)
// is HTML-escaped before Porcupine inserts it into the page.
func VisualizeLinearizable(ctx context.Context, events []history.Event, w io.Writer, opts VisualizeOptions) error {
	ops, probs := registerHistory(events)
	// Keys the model cannot check are not drawn (the check says why).
	ops = probs.dropSkipped(ops)
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 10
	}
	keys := groupByKey(ops)
	lin := linearizable{opts: Options{Timeout: opts.Timeout, SearchMemory: opts.SearchMemory}}
	deadline, has := lin.deadline(ctx)
	// Every key is searched: the drawing shows the search's partial
	// linearizations, and a key too hard for the search is left out.
	checks, _ := lin.checkKeys(ctx, keys, false)
	// Porcupine's drawing reruns its own search, which is exponential in
	// the operations of unknown outcome that pruning kept: keys with many
	// are left out (and said so) rather than risk the machine's memory.
	var chosen, others []keyOps
	var notes []porcupine.Annotation
	if probs.any() {
		notes = append(notes, porcupine.Annotation{
			Tag: "not drawn", Start: 0, End: 0,
			Description:     fmt.Sprintf("%d keys not drawn", len(probs.skip)),
			Details:         "not drawn, as the register model cannot check them: " + strings.Join(probs.reasons(), "; "),
			BackgroundColor: "#fde68a",
		})
	}
	for _, k := range checks {
		if n := countInfo(k.ops); n > maxDrawnInfo || k.search.verdict == searchUnknown {
			notes = append(notes, porcupine.Annotation{
				Tag: "not drawn", Start: 0, End: 0,
				Description: "key " + k.key + " not drawn",
				Details: fmt.Sprintf("key %q (%s) is not drawn: %d operations of unknown outcome after pruning make the drawing's search too costly",
					k.key, k.search.verdict.String(), n),
				BackgroundColor: "#fde68a",
			})
			continue
		}
		if k.search.verdict == searchIllegal {
			chosen = append(chosen, keyOps{key: k.key, ops: k.ops})
		} else {
			others = append(others, keyOps{key: k.key, ops: k.ops})
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

// maxDrawnInfo is the most operations of unknown outcome a drawn key may
// keep after pruning.
const maxDrawnInfo = 12

func countInfo(ops []regOp) int {
	n := 0
	for _, r := range ops {
		if r.status == statusInfo {
			n++
		}
	}
	return n
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
