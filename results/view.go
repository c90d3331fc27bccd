package results

import (
	"context"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Bounds on what one page shows, so a long run still opens fast.
const (
	// maxAnomaliesShown bounds the anomalies (and info observations)
	// listed per checker; the page says how many more there are.
	maxAnomaliesShown = 50
	// maxWitnessOps bounds the witness ops shown per anomaly.
	maxWitnessOps = 40
	// maxValueChars truncates recorded values and errors in tables.
	maxValueChars = 160
	// maxExtraChars truncates a checker's extra detail.
	maxExtraChars = 8000
	// maxErrorsShown bounds the table of errors by count.
	maxErrorsShown = 12
	// maxFaultRows bounds the table of fault intervals.
	maxFaultRows = 200
)

// opTable is the history's client operations with their completion times.
type opTable struct {
	ops []history.Op
	// done is the completion event's time of ops[i] (also for info
	// completions, whose Return is Never), or -1 if it never completed.
	done     []int64
	byInvoke map[int64]int
	// end is the time of the last event.
	end      int64
	nodeList []string
	// origin is what was subtracted from the recorded times (see
	// shiftToFirstOp).
	origin int64
}

func newOpTable(events []history.Event) *opTable {
	t := &opTable{ops: history.Pair(events)}
	if len(events) > 0 {
		t.end = events[len(events)-1].Time
	}
	timeOf := func(idx int64) int64 { // events are usually indexed 0..n-1
		if idx >= 0 && idx < int64(len(events)) && events[idx].Index == idx {
			return events[idx].Time
		}
		j := sort.Search(len(events), func(j int) bool { return events[j].Index >= idx })
		if j < len(events) && events[j].Index == idx {
			return events[j].Time
		}
		return -1
	}
	t.done = make([]int64, len(t.ops))
	t.byInvoke = make(map[int64]int, len(t.ops))
	for i, op := range t.ops {
		t.byInvoke[op.InvokeIndex] = i
		t.done[i] = -1
		if op.Completed() {
			t.done[i] = timeOf(op.CompleteIndex)
		}
	}
	return t
}

// nodes are the nodes the ops were sent to, sorted.
func (t *opTable) nodes() []string {
	if t.nodeList != nil {
		return t.nodeList
	}
	seen := map[string]bool{}
	var out []string
	for _, op := range t.ops {
		if op.Node != "" && !seen[op.Node] {
			seen[op.Node] = true
			out = append(out, op.Node)
		}
	}
	sort.Strings(out)
	t.nodeList = out
	return out
}

// latency is the op's latency in nanoseconds, and whether it has one
// (an op that never completed has none).
func (t *opTable) latency(i int) (int64, bool) {
	if t.done[i] < 0 {
		return 0, false
	}
	return t.done[i] - t.ops[i].Call, true
}

// verdictView is a verdict as the page shows it.
type verdictView struct {
	Text  string // valid, invalid, unknown, not checked
	Class string // CSS class: valid, invalid, unknown, none
}

func verdictOf(v checkers.Validity) verdictView {
	return verdictView{Text: v.String(), Class: v.String()}
}

var notChecked = verdictView{Text: "not checked", Class: "none"}

type opView struct {
	Index         int64
	Process       int
	Node, F, Key  string
	Input, Output string
	Type          string
	Error         string
	Call, Return  string
	Latency       string
	Final         bool
	Missing       bool // the index is not an op of the history
}

type anomalyView struct {
	Name, Guarantee, Explanation string
	Keys                         []string
	Ops                          []opView
	MoreOps                      int
	// ID is the anomaly's anchor in the page ("a3"), Label its tag on
	// the plots and timeline ("A3"); Window the timeline page around it.
	ID, Label, Window string
	// When places it against the faults, in words.
	When string
	// Witness is the minimal witness in plain words, one sentence per
	// line, and WitnessOps its ops; WitnessNote says why there is none.
	Witness, WitnessWhy []string
	WitnessOps          []opView
	WitnessNote         string
	// at is the history time the marks point at.
	at     int64
	marked bool
}

type checkerView struct {
	Name string
	// ID is the anchor of its anomalies ("checker-linearizable").
	ID string
	// Total is how many anomalies the checker counted (its Counts), of
	// which the page shows len(Anomalies).
	Total, TotalInfo int
	// Lost lists the set checker's lost elements (from its Extra).
	Lost      []lostView
	LostTotal int
	// Promised marks the model the system promised in its configuration
	// (test.json "promised"): invalid there is a bug; elsewhere it is what
	// the configuration gives up.
	Promised     bool
	Verdict      verdictView
	Reason       string
	Anomalies    []anomalyView
	MoreAnoms    int
	NumAnomalies int
	Info         []anomalyView
	MoreInfo     int
	NumInfo      int
	Counts       []countPair
	Extra        string
}

type countPair struct {
	Name  string
	Count int
}

type faultView struct {
	Name                  string
	Label, Words, ID      string
	Window                string
	Start, Stop, Duration string
	StartValue, StopValue string
	Color                 string // CSS colour of its shading
}

type countRow struct {
	F                            string
	OK, Fail, Info, Total, Final int
}

type reportView struct {
	Title     string
	Dir       string
	Generated string
	Verdict   verdictView
	Seed      string
	Test      []Field
	TestErr   string
	// SummaryErr says why there is no verdict.
	SummaryErr string
	// Interrupted: the run was stopped before it finished (test.json).
	Interrupted bool
	Warnings    []string

	Events, Ops int
	Duration    string

	Checkers []checkerView
	Faults   []faultView
	// MoreFaults is how many fault intervals the table leaves out.
	MoreFaults int
	// FaultKinds is one entry per fault name, for the plots' legend;
	// OpKinds one per op type.
	FaultKinds, OpKinds []faultView

	LatencySVG, ThroughputSVG template.HTML
	LatencyNote               string

	Counts    []countRow
	Totals    countRow
	TopErrors []countPair

	Timeline timelineView
	// Windows are the timeline pages around each anomaly and fault.
	AnomalyWindows, FaultWindows []windowLink
	// TimeNote says where the page's times count from.
	TimeNote string
	// Marked is how many anomalies are marked on the plots, of Shown.
	Marked, Shown int
	windows       []windowPage

	HistoryFile       string
	LinearizationFile string
	LinearizationNote string
	NodeLogs          []string
}

// buildReport computes the page's content from a loaded run. It is pure
// but for drawing the plots in memory and for shrinking non-linearizable
// keys to minimal witnesses with the linearizable checker (bounded in
// time by ctx and witnessTotalBudget).
func buildReport(ctx context.Context, run *Run, linNote string, now time.Time) (reportView, error) {
	events, origin := shiftToFirstOp(run.Events)
	t := newOpTable(events)
	t.origin = origin
	faults := history.Faults(events)
	nodes := t.nodes()
	finfo := describeFaults(faults, nodes...)
	v := reportView{
		Title:             run.TestValue("name"),
		Dir:               run.Dir,
		Generated:         now.UTC().Format(time.RFC3339),
		Seed:              run.TestValue("seed"),
		Test:              run.Test,
		TestErr:           run.TestErr,
		SummaryErr:        run.SummaryErr,
		Interrupted:       run.TestValue("interrupted") == "true",
		Warnings:          run.Warnings,
		Events:            len(events),
		Ops:               len(t.ops),
		Duration:          fmtDur(t.end),
		HistoryFile:       run.History,
		LinearizationFile: LinearizationFile,
		LinearizationNote: linNote,
		NodeLogs:          run.NodeLogs,
		Verdict:           notChecked,
	}
	if origin != 0 {
		v.TimeNote = fmt.Sprintf("Times count from the first client operation (the cluster was ready); history.jsonl counts from %s earlier, when its recorder opened.", fmtSecs(origin))
	}
	if v.Title == "" {
		v.Title = "faultline run"
	}
	deadline := time.Now().Add(witnessTotalBudget)
	var marks []timeMark
	if run.Summary != nil {
		v.Verdict = verdictOf(run.Summary.Valid)
		promised := run.TestValue("promised")
		for _, r := range run.Summary.Results {
			cv := checkerViewOf(r, t)
			if r.Checker == "linearizable" {
				addWitnesses(ctx, &cv, events, t, deadline)
			}
			if r.Checker == "set" {
				cv.Lost, cv.LostTotal = lostViews(r, t, finfo)
			}
			cv.Promised = promised != "" && r.Checker == promised
			v.Checkers = append(v.Checkers, cv)
		}
	}
	// Number the anomalies across checkers and place them in time.
	n := 0
	firstOp := map[string]int{}
	for ci := range v.Checkers {
		for ai := range v.Checkers[ci].Anomalies {
			a := &v.Checkers[ci].Anomalies[ai]
			n++
			a.ID, a.Label = fmt.Sprintf("a%d", n), fmt.Sprintf("A%d", n)
			src := run.Summary.Results[ci].Anomalies[ai]
			placeAnomaly(a, src, t, finfo)
			if pos := firstWitnessPos(t, src.Ops); pos >= 0 {
				firstOp[a.ID] = pos
			}
			if a.marked && len(marks) < maxMarks {
				marks = append(marks, timeMark{At: a.at, Label: a.Label})
				v.Marked++
			}
		}
		cv := &v.Checkers[ci]
		for ai := range cv.Info {
			placeAnomaly(&cv.Info[ai], run.Summary.Results[ci].Info[ai], t, finfo)
		}
	}
	v.Shown = n
	colors := faultColors(faults)
	for i, f := range finfo {
		c := colors[f.Name]
		if len(v.FaultKinds) < len(colors) && !hasKind(v.FaultKinds, f.Name) {
			v.FaultKinds = append(v.FaultKinds, faultView{Name: f.Name, Color: cssColor(c, 1.5)})
		}
		if len(v.Faults) == maxFaultRows {
			v.MoreFaults++
			continue
		}
		v.Faults = append(v.Faults, faultView{
			Name: f.Name, Label: f.Label(), Words: f.Words, ID: fmt.Sprintf("f%d", i+1),
			Start: fmtTime(f.Start), Stop: fmtTime(f.Stop),
			Duration:   fmtDur(f.Stop - f.Start),
			StartValue: shorten(valueText(f.StartValue)), StopValue: shorten(valueText(f.StopValue)),
			Color: cssColor(c, 2),
		})
	}
	v.Counts, v.Totals, v.TopErrors = countOps(t)
	fs := map[string]bool{}
	for _, op := range t.ops {
		fs[op.F] = true
	}
	for _, f := range plotFs(fs) {
		c := fColor(f)
		v.OpKinds = append(v.OpKinds, faultView{Name: f, Color: fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)})
	}

	// Plots.
	end := secs(t.end)
	pts := make([]latPoint, 0, len(t.ops))
	done := make([]donePoint, 0, len(t.ops))
	for i, op := range t.ops {
		lat, ok := t.latency(i)
		if !ok {
			continue
		}
		ms := float64(lat) / 1e6
		if ms < 1e-3 {
			ms = 1e-3 // log scale: a zero latency is drawn at 1µs
		}
		c := outcomeOf(op)
		pts = append(pts, latPoint{T: secs(op.Call), Lat: ms, Typ: op.Type, F: op.F, Outcome: c})
		done = append(done, donePoint{T: secs(t.done[i]), F: op.F, Outcome: c})
	}
	shown := samplePoints(pts, MaxLatencyPoints)
	if len(shown) < len(pts) {
		v.LatencyNote = fmt.Sprintf("Showing %d of %d completed operations: every error and info (or an even sample if they are too many), the slowest oks and an even sample of the other oks and mismatches.", len(shown), len(pts))
	}
	var err error
	plotMarks := clusterMarks(marks, t.end/100)
	if v.LatencySVG, err = latencyPlot(shown, finfo, plotMarks, end); err != nil {
		return v, err
	}
	w := bucketWidth(end)
	if v.ThroughputSVG, err = throughputPlot(throughput(done, end, w), w, finfo, plotMarks, end); err != nil {
		return v, err
	}
	witness := witnessOps(run.Summary)
	for _, cv := range v.Checkers {
		for _, a := range cv.Anomalies {
			for _, o := range a.WitnessOps {
				witness[o.Index] = true
			}
		}
	}
	v.Timeline = rebuildWithMarks(t, faults, witness, marks)
	v.windows = buildWindows(&v, t, faults, witness, marks, firstOp)
	return v, nil
}

// firstWitnessPos is the position in t.ops of the first witness op that
// is not a final read (else the first), or -1.
func firstWitnessPos(t *opTable, ops []int64) int {
	first := -1
	for _, idx := range ops {
		i, ok := t.byInvoke[idx]
		if !ok {
			continue
		}
		if !t.ops[i].Final {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// clusterMarks merges marks closer than gap (ns) into one, labelled by
// the lowest and highest anomaly number in it ("A1–A10"), so that a burst
// of anomalies reads as one mark and not as overprinted labels.
func clusterMarks(marks []timeMark, gap int64) []timeMark {
	sorted := append([]timeMark(nil), marks...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At < sorted[j].At })
	var out []timeMark
	var lo, hi int
	num := func(l string) int { n, _ := strconv.Atoi(strings.TrimPrefix(l, "A")); return n }
	for i, m := range sorted {
		if i > 0 && m.At-out[len(out)-1].At <= gap {
			lo, hi = min(lo, num(m.Label)), max(hi, num(m.Label))
			out[len(out)-1].Label = fmt.Sprintf("A%d–A%d", lo, hi)
			continue
		}
		lo, hi = num(m.Label), num(m.Label)
		out = append(out, m)
	}
	return out
}

// maxMarks bounds the anomalies marked on the plots and timelines.
const maxMarks = 30

// timeMark is an anomaly's moment, for the plots and the timeline.
type timeMark struct {
	At    int64
	Label string
}

// rebuildWithMarks is the report's own timeline (see buildTimeline) with
// the anomalies' marks.
func rebuildWithMarks(t *opTable, faults []history.Fault, witness map[int64]bool, marks []timeMark) timelineView {
	center, why := timelineCenter(t, faults, witness)
	return buildTimelineAt(t, faults, witness, maxTimelineOps, center, why, marks)
}

// shiftToFirstOp returns the events with times counted from the first
// client operation's invoke (when the cluster was ready and the main
// phase began), and that offset: a recorder opens before the cluster
// starts, and seconds of empty plot say nothing.
func shiftToFirstOp(events []history.Event) ([]history.Event, int64) {
	var origin int64
	for _, e := range events {
		if !e.IsNemesis() {
			origin = e.Time
			break
		}
	}
	if origin <= 0 {
		return events, 0
	}
	out := make([]history.Event, len(events))
	for i, e := range events {
		e.Time -= origin
		out[i] = e
	}
	return out, origin
}

// nsInText finds times and durations checkers wrote in nanoseconds.
var nsInText = regexp.MustCompile(`\b(\d+) ns\b`)

// readableNS rewrites "9181234567 ns" in a checker's text as seconds on
// the page's clock (origin subtracted) or, for small numbers, as a
// duration.
func readableNS(s string, origin int64) string {
	return nsInText.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseInt(strings.TrimSuffix(m, " ns"), 10, 64)
		if err != nil {
			return m
		}
		if n >= origin && n > int64(time.Second) {
			return fmtTime(n - origin)
		}
		return fmtDur(n)
	})
}

// placeAnomaly says when a happened against the faults and where to
// mark it: an acknowledged add (a set's lost element) by its
// acknowledgement; anything else by the span of its witness ops that are
// not final reads (which all come after the faults healed).
func placeAnomaly(a *anomalyView, src checkers.Anomaly, t *opTable, faults []faultInfo) {
	if len(src.Ops) == 0 {
		return
	}
	if i, ok := t.byInvoke[src.Ops[0]]; ok {
		op := t.ops[i]
		if op.F == history.FAdd && op.Type == history.OK && t.done[i] >= 0 {
			a.at, a.marked = t.done[i], true
			a.When = relateToFaults(fmt.Sprintf("The add was acknowledged at %s,", fmtTime(t.done[i])), t.done[i], t.done[i], faults)
			return
		}
	}
	from, to := int64(-1), int64(-1)
	var finals []int
	nonFinal := 0
	for _, idx := range src.Ops {
		i, ok := t.byInvoke[idx]
		if !ok {
			continue
		}
		if t.ops[i].Final {
			finals = append(finals, i)
			continue
		}
		nonFinal++
		end := t.done[i]
		if end < 0 {
			end = t.ops[i].Call
		}
		if from < 0 || t.ops[i].Call < from {
			from = t.ops[i].Call
		}
		to = max(to, end)
	}
	if from < 0 {
		if len(finals) == 0 {
			return
		}
		from, to = t.ops[finals[0]].Call, t.ops[finals[0]].Call
		for _, i := range finals {
			to = max(to, t.done[i])
		}
		a.at, a.marked = from, true
		a.When = fmt.Sprintf("Seen in the final reads, %s to %s, after every fault was healed.", fmtTime(from), fmtTime(to))
		return
	}
	a.at, a.marked = from, true
	subject := "Its witness ops ran"
	if nonFinal == 1 {
		subject = "Its witness op ran"
	}
	what := fmt.Sprintf("%s from %s to %s,", subject, fmtTime(from), fmtTime(to))
	if from == to {
		what = fmt.Sprintf("%s at %s,", subject, fmtTime(from))
	}
	a.When = relateToFaults(what, from, to, faults)
}

// addWitnesses shrinks each non-linearizable key the checker listed to a
// minimal witness, until deadline.
func addWitnesses(ctx context.Context, cv *checkerView, events []history.Event, t *opTable, deadline time.Time) {
	for i := range cv.Anomalies {
		a := &cv.Anomalies[i]
		if a.Name != "nonlinearizable" || len(a.Keys) != 1 {
			continue
		}
		left := time.Until(deadline)
		if i >= maxWitnessKeys || left <= 0 {
			a.WitnessNote = "No minimal witness: the time the report gives to shrinking keys ran out."
			continue
		}
		var start []int64
		for _, o := range a.Ops {
			start = append(start, o.Index)
		}
		ops, why := minimalWitness(ctx, events, a.Keys[0], start, min(witnessBudget, left))
		if ops == nil {
			a.WitnessNote = "No minimal witness: " + why + "."
			continue
		}
		done := func(o history.Op) int64 {
			if j, ok := t.byInvoke[o.InvokeIndex]; ok && t.done[j] >= 0 {
				return t.done[j]
			}
			return o.Return
		}
		a.Witness, a.WitnessWhy = witnessStory(ops, done, fmtTime)
		for _, o := range ops {
			a.WitnessOps = append(a.WitnessOps, t.view(o.InvokeIndex))
		}
	}
}

func checkerViewOf(r checkers.Result, t *opTable) checkerView {
	cv := checkerView{Name: r.Checker, ID: "checker-" + r.Checker, Verdict: verdictOf(r.Valid), Reason: r.Reason,
		NumAnomalies: len(r.Anomalies), NumInfo: len(r.Info)}
	cv.Total = r.Total()
	if r.Checker == "set" {
		// The set checker counts what it stops listing by name too.
		cv.Total = max(cv.Total, r.Counts["lost"]+r.Counts["unexpected"])
	}
	cv.TotalInfo = r.TotalInfo()
	for i, a := range r.Anomalies {
		if i == maxAnomaliesShown {
			cv.MoreAnoms = len(r.Anomalies) - i
			break
		}
		cv.Anomalies = append(cv.Anomalies, anomalyViewOf(a, t))
	}
	for i, a := range r.Info {
		if i == maxAnomaliesShown {
			cv.MoreInfo = len(r.Info) - i
			break
		}
		cv.Info = append(cv.Info, anomalyViewOf(a, t))
	}
	for name, n := range r.Counts {
		cv.Counts = append(cv.Counts, countPair{name, n})
	}
	sort.Slice(cv.Counts, func(i, j int) bool { return cv.Counts[i].Name < cv.Counts[j].Name })
	if len(r.Extra) > 0 && !history.IsNull(r.Extra) {
		cv.Extra = truncate(history.Canonical(r.Extra), maxExtraChars)
	}
	return cv
}

func anomalyViewOf(a checkers.Anomaly, t *opTable) anomalyView {
	av := anomalyView{Name: a.Name, Guarantee: a.Guarantee, Explanation: readableNS(a.Explanation, t.origin), Keys: a.Keys}
	lostElem := ""
	if a.Name == "lost" && len(a.Ops) > 0 {
		if i, ok := t.byInvoke[a.Ops[0]]; ok && t.ops[i].F == history.FAdd {
			lostElem = history.Canonical(t.ops[i].Input)
		}
	}
	for i, idx := range a.Ops {
		if i == maxWitnessOps {
			av.MoreOps = len(a.Ops) - i
			break
		}
		ov := t.view(idx)
		if j, ok := t.byInvoke[idx]; ok && lostElem != "" && t.ops[j].F == history.FRead && t.ops[j].Type == history.OK {
			ov.Output = neighbourhood(t.ops[j].Output, lostElem)
		}
		av.Ops = append(av.Ops, ov)
	}
	return av
}

// view looks the op whose invoke has index idx up in the history.
func (t *opTable) view(idx int64) opView {
	i, ok := t.byInvoke[idx]
	if !ok {
		return opView{Index: idx, Missing: true}
	}
	op := t.ops[i]
	ov := opView{
		Index: idx, Process: op.Process, Node: op.Node, F: op.F, Key: op.Key,
		Input: shorten(valueText(op.Input)), Type: string(op.Type), Error: shorten(op.Error),
		Call: fmtTime(op.Call), Final: op.Final,
	}
	if op.Completed() {
		ov.Output = shorten(valueText(op.Output))
	}
	if t.done[i] >= 0 {
		ov.Return = fmtTime(t.done[i])
		ov.Latency = fmtDur(t.done[i] - op.Call)
	} else {
		ov.Return = "never"
	}
	return ov
}

// witnessOps is the set of op indices named by the anomalies of summary.
func witnessOps(s *checkers.Summary) map[int64]bool {
	out := map[int64]bool{}
	if s == nil {
		return out
	}
	for _, r := range s.Results {
		for _, a := range r.Anomalies {
			for _, i := range a.Ops {
				out[i] = true
			}
		}
	}
	return out
}

// firstWitness is the smallest op index named by an anomaly, or -1.
func firstWitness(w map[int64]bool) int64 {
	first := int64(-1)
	for i := range w {
		if first < 0 || i < first {
			first = i
		}
	}
	return first
}

func countOps(t *opTable) ([]countRow, countRow, []countPair) {
	rows := map[string]*countRow{}
	var order []string
	total := countRow{F: "all"}
	errs := map[string]int{}
	for _, op := range t.ops {
		r, ok := rows[op.F]
		if !ok {
			r = &countRow{F: op.F}
			rows[op.F] = r
			order = append(order, op.F)
		}
		for _, c := range []*countRow{r, &total} {
			switch op.Type {
			case history.OK:
				c.OK++
			case history.Fail:
				c.Fail++
			default:
				c.Info++
			}
			c.Total++
			if op.Final {
				c.Final++
			}
		}
		if op.Type != history.OK {
			e := op.Error
			if e == "" {
				e = "(no error recorded)"
			}
			errs[string(op.Type)+": "+e]++
		}
	}
	sort.Strings(order)
	out := make([]countRow, 0, len(order))
	for _, f := range order {
		out = append(out, *rows[f])
	}
	var top []countPair
	for e, n := range errs {
		top = append(top, countPair{shorten(e), n})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Count != top[j].Count {
			return top[i].Count > top[j].Count
		}
		return top[i].Name < top[j].Name
	})
	if len(top) > maxErrorsShown {
		top = top[:maxErrorsShown]
	}
	return out, total, top
}

// valueText is a recorded value as the page shows it: its canonical JSON
// (history.Canonical), where characters a JSON encoder escaped (\u003c
// for <, ...) stand as themselves: the page escapes them for HTML itself.
func valueText(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	return history.Canonical(v)
}

func shorten(s string) string { return truncate(s, maxValueChars) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes)", len(s)-cut)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// fmtTime formats a history time (ns since start) as seconds.
func fmtTime(ns int64) string {
	if ns == history.Never {
		return "never"
	}
	return fmt.Sprintf("%.3fs", float64(ns)/1e9)
}

// fmtDur formats a duration in ns compactly.
func fmtDur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	}
}

// keyList joins keys for display.
func keyList(keys []string) string { return strings.Join(keys, ", ") }

// cssColor is c as #rrggbbaa, its alpha multiplied by k (a swatch is
// drawn stronger than the shading it stands for).
func cssColor(c color.NRGBA, k float64) string {
	a := math.Min(255, float64(c.A)*k)
	return fmt.Sprintf("#%02x%02x%02x%02x", c.R, c.G, c.B, uint8(a))
}

func hasKind(kinds []faultView, name string) bool {
	for _, k := range kinds {
		if k.Name == name {
			return true
		}
	}
	return false
}
