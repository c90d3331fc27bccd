package results

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
)

// maxTimelineOps bounds the operations drawn in the timeline.
const maxTimelineOps = 600

// Timeline geometry, in CSS pixels.
const (
	tlAxis      = 78 // width of the time axis on the left
	tlColWidth  = 92 // width of one process's column
	tlColGap    = 4  // gap between columns
	tlMaxHeight = 4800
	tlMinHeight = 360
	tlMinBox    = 3 // an op is at least this tall
	tlLabelBox  = 13
)

type tlOp struct {
	Left, Top, Height int
	Class             string // ok, fail, info
	Witness           bool
	Label             string
	Title             string
}

type tlBand struct {
	Top, Height int
	Name, Color string
}

type tlTick struct {
	Top   int
	Label string
}

type tlColumn struct {
	Left    int
	Process int
}

// timelineView is the per-process timeline: a column per process, time
// flowing down, one box per operation from its invoke to its completion.
type timelineView struct {
	Note          string
	Width, Height int
	Columns       []tlColumn
	Ops           []tlOp
	Bands         []tlBand
	Ticks         []tlTick
	Marks         []tlMark
}

// buildTimeline lays out at most max consecutive operations (in invoke
// order). For a longer history it picks the window around the first op an
// anomaly names, else around the first fault, else the start.
func buildTimeline(t *opTable, faults []history.Fault, witness map[int64]bool, limit int) timelineView {
	center, why := timelineCenter(t, faults, witness)
	return buildTimelineAt(t, faults, witness, limit, center, why, nil)
}

// timelineCenter is the op a run's own timeline is centred on, and why:
// the first op an anomaly names, else the first fault, else the start.
func timelineCenter(t *opTable, faults []history.Fault, witness map[int64]bool) (int, string) {
	if w := firstWitness(witness); w >= 0 {
		if i, ok := t.byInvoke[w]; ok {
			return i, "around the first operation an anomaly names"
		}
		return 0, "around the first operation an anomaly names"
	}
	if len(faults) > 0 {
		return t.firstCallAtOrAfter(faults[0].Start), "around the first fault"
	}
	return 0, "from the start of the run"
}

// firstCallAtOrAfter is the position of the first op invoked at or after
// ns (len(ops) if none).
func (t *opTable) firstCallAtOrAfter(ns int64) int {
	return sort.Search(len(t.ops), func(i int) bool { return t.ops[i].Call >= ns })
}

// tlMark is a labelled line across the timeline: an anomaly's moment.
type tlMark struct {
	Top   int
	Label string
}

// buildTimelineAt lays out at most limit consecutive operations (in
// invoke order) around position center (a third of the window before
// it), saying why in the note; marks are labelled lines at history times.
func buildTimelineAt(t *opTable, faults []history.Fault, witness map[int64]bool, limit, center int, why string, marks []timeMark) timelineView {
	var v timelineView
	n := len(t.ops)
	if n == 0 {
		v.Note = "The history has no client operations."
		return v
	}
	lo, hi := 0, n
	if n > limit {
		lo = max(0, min(center, n-1)-limit/3)
		hi = lo + limit
		if hi > n {
			hi = n
			lo = n - limit
		}
		v.Note = fmt.Sprintf("Showing operations %d to %d of %d (in invoke order), %s.", lo+1, hi, n, why)
	}
	ops := t.ops[lo:hi]
	t0, t1 := ops[0].Call, ops[0].Call
	lats := make([]int64, 0, len(ops))
	for k := range ops {
		i := lo + k
		end := t.done[i]
		if end < 0 {
			end = t.end
		} else {
			lats = append(lats, end-ops[k].Call)
		}
		if end > t1 {
			t1 = end
		}
	}
	if t1-t0 < int64(time.Millisecond) {
		t1 = t0 + int64(time.Millisecond) // a degenerate history still gets a sane scale
	}
	// Scale: a median op about 18px tall, within the page's bounds.
	sort.Slice(lats, func(a, b int) bool { return lats[a] < lats[b] })
	median := int64(1e6)
	if len(lats) > 0 && lats[len(lats)/2] > 0 {
		median = lats[len(lats)/2]
	}
	scale := 18 / float64(median) // px per ns
	span := float64(t1 - t0)
	scale = math.Min(scale, tlMaxHeight/span)
	scale = math.Max(scale, tlMinHeight/span)
	y := func(ns int64) int { return int(math.Round(float64(ns-t0) * scale)) }
	v.Height = y(t1) + 4

	cols := map[int]int{}
	var procs []int
	for _, op := range ops {
		if _, ok := cols[op.Process]; !ok {
			cols[op.Process] = 0
			procs = append(procs, op.Process)
		}
	}
	sort.Ints(procs)
	for c, p := range procs {
		cols[p] = c
		v.Columns = append(v.Columns, tlColumn{Left: tlAxis + c*(tlColWidth+tlColGap), Process: p})
	}
	v.Width = tlAxis + len(procs)*(tlColWidth+tlColGap)

	colors := faultColors(faults)
	for _, f := range describeFaults(faults, t.nodes()...) {
		if f.Stop < t0 || f.Start > t1 {
			continue
		}
		a, b := max(f.Start, t0), min(f.Stop, t1)
		c := colors[f.Name]
		v.Bands = append(v.Bands, tlBand{Top: y(a), Height: max(y(b)-y(a), 2), Name: f.Short,
			Color: cssColor(c, 1)})
	}
	// Marks closer than a label's height read as one.
	for _, m := range clusterMarks(marks, int64(14/scale)) {
		if m.At >= t0 && m.At <= t1 {
			v.Marks = append(v.Marks, tlMark{Top: y(m.At), Label: m.Label})
		}
	}

	for k, op := range ops {
		i := lo + k
		end := t.done[i]
		if end < 0 {
			end = t.end
		}
		h := max(y(end)-y(op.Call), tlMinBox)
		o := tlOp{
			Left: tlAxis + cols[op.Process]*(tlColWidth+tlColGap), Top: y(op.Call), Height: h,
			Class: timelineClass(op), Witness: witness[op.InvokeIndex],
			Title: opTitle(t.view(op.InvokeIndex)),
		}
		if h >= tlLabelBox {
			o.Label = truncate(opLabel(op), 40)
		}
		v.Ops = append(v.Ops, o)
	}

	step := tickStep(float64(t1-t0) / 1e9)
	for s := math.Ceil(secs(t0)/step) * step; s <= secs(t1); s += step {
		v.Ticks = append(v.Ticks, tlTick{Top: y(int64(math.Round(s * 1e9))), Label: fmt.Sprintf("%.*fs", decimals(step), s)})
	}
	return v
}

// timelineClass is an op box's CSS class: its outcome, with a cas
// mismatch (an observation, not an error) apart from other failures.
func timelineClass(op history.Op) string {
	if outcomeOf(op) == outMismatch {
		return outMismatch
	}
	return string(op.Type)
}

// opLabel is the short text inside an op's box: f key input -> output.
func opLabel(op history.Op) string {
	s := op.F + " " + op.Key
	if !history.IsNull(op.Input) {
		s += " " + valueText(op.Input)
	}
	if op.Type == history.OK && !history.IsNull(op.Output) {
		s += " → " + valueText(op.Output)
	}
	return s
}

// opTitle is the tooltip of an op's box: every detail, one per line.
func opTitle(o opView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "op %d: process %d, %s %s\n", o.Index, o.Process, o.F, o.Key)
	fmt.Fprintf(&b, "input %s, %s", o.Input, o.Type)
	if o.Output != "" {
		fmt.Fprintf(&b, " %s", o.Output)
	}
	if o.Error != "" {
		fmt.Fprintf(&b, " (error %s)", o.Error)
	}
	fmt.Fprintf(&b, "\ncalled %s, returned %s", o.Call, o.Return)
	if o.Latency != "" {
		fmt.Fprintf(&b, " (%s)", o.Latency)
	}
	if o.Node != "" {
		fmt.Fprintf(&b, "\nnode %s", o.Node)
	}
	if o.Final {
		b.WriteString("\nfinal read")
	}
	return b.String()
}

// tickStep picks a round tick interval (seconds) for about 12 ticks.
func tickStep(span float64) float64 {
	raw := span / 12
	if raw <= 0 {
		return 1
	}
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func decimals(step float64) int {
	d := int(math.Ceil(-math.Log10(step)))
	if d < 0 {
		return 0
	}
	return d
}
