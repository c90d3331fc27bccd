package results

import (
	"fmt"
	"html/template"
	"image/color"
	"math"
	"sort"
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
	end int64
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
}

type checkerView struct {
	Name string
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
	// FaultKinds is one entry per fault name, for the plots' legend.
	FaultKinds []faultView

	LatencySVG, ThroughputSVG template.HTML
	LatencyNote               string

	Counts    []countRow
	Totals    countRow
	TopErrors []countPair

	Timeline timelineView

	HistoryFile       string
	LinearizationFile string
	LinearizationNote string
	NodeLogs          []string
}

// buildReport computes the page's content from a loaded run. It is pure
// but for drawing the plots in memory.
func buildReport(run *Run, linNote string, now time.Time) (reportView, error) {
	t := newOpTable(run.Events)
	faults := history.Faults(run.Events)
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
		Events:            len(run.Events),
		Ops:               len(t.ops),
		Duration:          fmtDur(t.end),
		HistoryFile:       run.History,
		LinearizationFile: LinearizationFile,
		LinearizationNote: linNote,
		NodeLogs:          run.NodeLogs,
		Verdict:           notChecked,
	}
	if v.Title == "" {
		v.Title = "faultline run"
	}
	if run.Summary != nil {
		v.Verdict = verdictOf(run.Summary.Valid)
		promised := run.TestValue("promised")
		for _, r := range run.Summary.Results {
			cv := checkerViewOf(r, t)
			cv.Promised = promised != "" && r.Checker == promised
			v.Checkers = append(v.Checkers, cv)
		}
	}
	colors := faultColors(faults)
	for _, f := range faults {
		c := colors[f.Name]
		if len(v.FaultKinds) < len(colors) && !hasKind(v.FaultKinds, f.Name) {
			v.FaultKinds = append(v.FaultKinds, faultView{Name: f.Name, Color: cssColor(c, 1.5)})
		}
		if len(v.Faults) == maxFaultRows {
			v.MoreFaults++
			continue
		}
		v.Faults = append(v.Faults, faultView{
			Name: f.Name, Start: fmtTime(f.Start), Stop: fmtTime(f.Stop),
			Duration:   fmtDur(f.Stop - f.Start),
			StartValue: shorten(valueText(f.StartValue)), StopValue: shorten(valueText(f.StopValue)),
			Color: cssColor(c, 2),
		})
	}
	v.Counts, v.Totals, v.TopErrors = countOps(t)

	// Plots.
	end := secs(t.end)
	pts := make([]latPoint, 0, len(t.ops))
	times := make([]float64, 0, len(t.ops))
	typs := make([]history.Type, 0, len(t.ops))
	for i, op := range t.ops {
		lat, ok := t.latency(i)
		if !ok {
			continue
		}
		ms := float64(lat) / 1e6
		if ms < 1e-3 {
			ms = 1e-3 // log scale: a zero latency is drawn at 1µs
		}
		pts = append(pts, latPoint{T: secs(op.Call), Lat: ms, Typ: op.Type})
		times = append(times, secs(t.done[i]))
		typs = append(typs, op.Type)
	}
	shown := samplePoints(pts, MaxLatencyPoints)
	if len(shown) < len(pts) {
		v.LatencyNote = fmt.Sprintf("Showing %d of %d completed operations: every fail and info (or an even sample if they are too many), the slowest oks and an even sample of the other oks.", len(shown), len(pts))
	}
	var err error
	if v.LatencySVG, err = latencyPlot(shown, faults, end); err != nil {
		return v, err
	}
	w := bucketWidth(end)
	if v.ThroughputSVG, err = throughputPlot(throughput(times, typs, end, w), w, faults, end); err != nil {
		return v, err
	}
	v.Timeline = buildTimeline(t, faults, witnessOps(run.Summary), maxTimelineOps)
	return v, nil
}

func checkerViewOf(r checkers.Result, t *opTable) checkerView {
	cv := checkerView{Name: r.Checker, Verdict: verdictOf(r.Valid), Reason: r.Reason,
		NumAnomalies: len(r.Anomalies), NumInfo: len(r.Info)}
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
	av := anomalyView{Name: a.Name, Guarantee: a.Guarantee, Explanation: a.Explanation, Keys: a.Keys}
	for i, idx := range a.Ops {
		if i == maxWitnessOps {
			av.MoreOps = len(a.Ops) - i
			break
		}
		av.Ops = append(av.Ops, t.view(idx))
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
