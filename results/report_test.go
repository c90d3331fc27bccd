package results

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

var twoFaults = []genFault{
	{Name: "partition", Start: 2 * time.Second, Stop: 4 * time.Second},
	{Name: "kill", Start: 6 * time.Second, Stop: 7 * time.Second},
}

// invalidRun writes a run with a stale read and a results.json naming it,
// as the linearizable checker would, and returns the stale read's index.
func invalidRun(t *testing.T, dir string) ([]history.Event, int64) {
	t.Helper()
	events, stale := genHistoryStale(genOpts{Seed: 7, Procs: 8, Keys: []string{"a", "b", "c"}, Duration: 8 * time.Second,
		StaleRead: true, Faults: twoFaults})
	require.GreaterOrEqual(t, stale, int64(0), "the generator must inject a stale read")
	op, ok := findOp(events, func(op history.Op) bool { return op.InvokeIndex == stale })
	require.True(t, ok)
	sum := &checkers.Summary{Valid: checkers.Invalid, Results: []checkers.Result{
		{Checker: "linearizable", Valid: checkers.Invalid, Anomalies: []checkers.Anomaly{{
			Name: "nonlinearizable", Keys: []string{op.Key}, Ops: []int64{stale},
			Explanation: "Key " + op.Key + ": the read at event " + itoa(stale) + " returned a value overwritten before it began.",
		}}},
		{Checker: "eventual", Valid: checkers.Valid, Counts: map[string]int{"final-reads": 3}},
	}}
	writeRun(t, dir, events, testOptions("register-partition", 7), sum)
	return events, stale
}

func itoa(i int64) string { b, _ := json.Marshal(i); return string(b) }

func readPage(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestWriteReportsInvalidRun(t *testing.T) {
	dir := t.TempDir()
	events, stale := invalidRun(t, dir)
	require.NoError(t, WriteReports(context.Background(), dir))

	page := readPage(t, filepath.Join(dir, ReportFile))
	assert.Contains(t, page, `id="verdict" class="badge big invalid">invalid<`)
	assert.Regexp(t, `<td>linearizable <span class="note" title="[^"]+">\(promised\)</span></td><td><span class="badge invalid">invalid</span>`, page, "the promised model is marked: invalid there is a bug")
	assert.Regexp(t, `<td>eventual</td><td><span class="badge valid">valid</span>`, page, "only the promised model is marked")
	assert.Contains(t, page, "final-reads: 3")
	// The anomaly, its explanation and its witness op looked up in the history.
	assert.Contains(t, page, "<strong>nonlinearizable</strong>")
	assert.Contains(t, page, "returned a value overwritten before it began")
	op, _ := findOp(events, func(op history.Op) bool { return op.InvokeIndex == stale })
	assert.Regexp(t, regexp.MustCompile(`<tr class="t-ok"><td class="num">`+itoa(stale)+`</td><td class="num">`+itoa(int64(op.Process))+`</td><td>`+op.Node+`</td><td>read</td><td class="mono">`+op.Key+`</td>`), page)
	// Every field of test.json, unknown ones too, and the seed.
	for _, f := range []string{"mode", "workload", "nemesis", "nodes", "concurrency", "rate", "time_limit", "seed", "backend", "checkers", "start_time", "some_future_field"} {
		assert.Contains(t, page, "<th>"+f+"</th>")
	}
	assert.Contains(t, page, `seed <code>7</code>`)
	// Two plots, drawn as inline SVG, with both faults labelled.
	assert.Equal(t, 2, strings.Count(page, "<svg"), "a latency and a throughput plot")
	assert.NotContains(t, page, "<?xml")
	latency := between(t, page, `id="latency-plot"`, `id="throughput-plot"`)
	for _, name := range []string{">partition #1", ">kill #1"} {
		assert.Contains(t, latency, name, "fault labels in the latency plot")
	}
	// Counts, faults table, timeline, links.
	assert.Contains(t, page, `<section id="counts">`)
	assert.Regexp(t, `<tr><td>read</td><td class="num">\d+</td>`, page)
	assert.Contains(t, page, `<td><span class="swatch" style="background:#`)
	assert.Contains(t, page, `class="op ok`)
	assert.Contains(t, page, `witness"`, "the witness op is outlined in the timeline")
	assert.Contains(t, page, `href="nodes/n1.log"`)
	assert.Contains(t, page, `href="linearizability.html"`)
	assert.NotContains(t, page, "<script", "report.html runs no script")
	assert.NotRegexp(t, `(src|href)="(https?:)?//`, page, "report.html loads nothing from the network")

	lin := readPage(t, filepath.Join(dir, LinearizationFile))
	assert.Contains(t, lin, "<html")
	assert.Contains(t, lin, "partition", "fault intervals are annotations in the linearizability view")
	assert.Contains(t, lin, "<title>register-partition — linearizability — faultline</title>", "Porcupine's page names the run")
	assert.Contains(t, lin, `<a href="report.html">back to the report</a>`)

	// The anomaly in time: in words, marked on both plots and the
	// timeline, with a window of its own.
	anomalies := between(t, page, `<section id="anomalies">`, `<section id="plots">`)
	assert.Regexp(t, `<p class="when"><strong>A1</strong> · Its witness op ran from \d+\.\d{3}s to \d+\.\d{3}s, (during (partition|kill) #1, [^<]+ after it started[^<]*|while no fault was active: [^<]+)\.`, anomalies)
	assert.Contains(t, anomalies, `<a class="win" href="timeline/anomaly-1.html">timeline window</a>`)
	assert.Contains(t, latency, ">A1</text>", "the anomaly is marked on the latency plot")
	assert.Contains(t, between(t, page, `id="throughput-plot"`, `<section id="faults">`), ">A1</text>")
	assert.Contains(t, page, `<div class="mark" style="top:`, "and on the timeline")
	win := readPage(t, filepath.Join(dir, WindowsDir, "anomaly-1.html"))
	assert.Contains(t, win, `href="../report.html#a1"`, "the window links back to its anomaly")
	assert.Contains(t, win, `witness"`, "the witness is in its window")
	assert.NotContains(t, win, "<script")
	// A window per fault, linked from the faults table, whose rows say
	// what each fault did.
	for _, f := range []string{"fault-1.html", "fault-2.html"} {
		assert.FileExists(t, filepath.Join(dir, WindowsDir, f))
		assert.Contains(t, page, `href="timeline/`+f+`"`)
	}
	// The minimal witness, found by shrinking the key with the checker.
	assert.Contains(t, anomalies, `<ol class="witness-story">`)
	assert.Contains(t, anomalies, "before it began")
	// Verdicts and anomalies come before the configuration.
	assert.Less(t, strings.Index(page, `<section id="anomalies">`), strings.Index(page, `<section id="test">`))
}

// setRun writes a set run checked by the real set checker: 15 elements
// added before a kill, of which the final reads on three nodes hold 2.
func setRun(t *testing.T, dir string) {
	t.Helper()
	b := checkertest.New()
	for i := 1; i <= 15; i++ {
		b.Add(i%4, "set", i)
	}
	b.Nemesis("start-kill", map[string]any{"nodes": []string{"n2"}}).Nemesis("stop-kill", map[string]any{"nodes": []string{"n2"}})
	for p, node := range []string{"n1", "n2", "n3"} {
		b.SetRead(10+p, "set", true, 1, 2, 16).Node(10+p, node)
	}
	events := b.Events()
	sum, err := checkers.CheckAll(context.Background(), events, []string{"set"}, checkers.Options{})
	require.NoError(t, err)
	require.Equal(t, checkers.Invalid, sum.Valid)
	test := testOptions("eventual-set-kill", 3)
	test["workload"] = "set"
	writeRun(t, dir, events, test, &sum)
}

func TestWriteReportsSetRun(t *testing.T) {
	dir := t.TempDir()
	setRun(t, dir)
	require.NoError(t, WriteReports(context.Background(), dir))
	page := readPage(t, filepath.Join(dir, ReportFile))
	anomalies := between(t, page, `<section id="anomalies">`, `<section id="plots">`)
	// Honest counts: every lost element listed, the anomalies cut at
	// what the checker lists, and said so.
	assert.Contains(t, anomalies, `<h4 id="lost">Lost elements <span class="showing">(13 of 13)</span>`)
	assert.Contains(t, anomalies, `(showing 10 of 14)`, "13 lost and 1 unexpected, 10 listed")
	assert.Equal(t, 13, strings.Count(anomalies, `<tr id="lost-`))
	// Each with its neighbourhood in the reads that missed it and its
	// moment against the kill.
	assert.Contains(t, anomalies, "1, 2, [3 missing], 16 — 3 elements")
	assert.Contains(t, anomalies, "all 3: n1 (event")
	assert.Contains(t, anomalies, "before kill #1 started — n2 killed")
	assert.NotContains(t, anomalies, "[1,2,16]", "reads are shown around the missing element, not from their first bytes")
	// No register view of a set.
	lin := readPage(t, filepath.Join(dir, LinearizationFile))
	assert.Contains(t, lin, "This is a set workload")
	assert.Less(t, len(lin), 2000)
}

// between returns page's text between the first from and the next to.
func between(t *testing.T, page, from, to string) string {
	t.Helper()
	i := strings.Index(page, from)
	require.GreaterOrEqual(t, i, 0, "page has %s", from)
	j := strings.Index(page[i:], to)
	require.GreaterOrEqual(t, j, 0, "page has %s after %s", to, from)
	return page[i : i+j]
}

func TestWriteReportsWithoutVerdict(t *testing.T) {
	cases := []struct {
		name    string
		results string // "" = no results.json
		want    string
	}{
		{"missing results.json", "", "results.json is missing: this history has not been checked"},
		{"malformed results.json", `{"valid": "maybe"}`, "results.json is not a checkers summary"},
		{"truncated results.json", `{"valid": tr`, "results.json is not a checkers summary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			genRun(t, dir, genOpts{Seed: 3, Procs: 3, Keys: []string{"x"}, Duration: time.Second}, testOptions("t", 3), nil)
			if tc.results != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, ResultsFile), []byte(tc.results), 0o644))
			}
			require.NoError(t, WriteReports(context.Background(), dir))
			page := readPage(t, filepath.Join(dir, ReportFile))
			assert.Contains(t, page, tc.want)
			assert.Contains(t, page, `class="badge big none">not checked<`)
			for _, v := range []string{">valid<", ">invalid<", ">unknown<"} {
				assert.NotContains(t, page, v, "no verdict is invented")
			}
			assert.FileExists(t, filepath.Join(dir, LinearizationFile))
		})
	}
}

func TestWriteReportsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		history string // "" = no history.jsonl
		want    []string
	}{
		{"no history", "", []string{"has no history.jsonl"}},
		{"malformed line", `{"index":0,"time":0,"process":0,"type":"invoke","f":"read","key":"a","value":null}` + "\n" + `{"index":1,"time":5,"process":0,"type":"done","f":"read"}` + "\n",
			[]string{"history.jsonl:2", `type "done" is not one of invoke, ok, fail, info`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.history != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, HistoryFile), []byte(tc.history), 0o644))
			}
			err := WriteReports(context.Background(), dir)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NoFileExists(t, filepath.Join(dir, ReportFile), "no page from a history that cannot be read")
			if tc.history != "" {
				b, _ := os.ReadFile(filepath.Join(dir, HistoryFile))
				assert.Equal(t, tc.history, string(b), "the input is left as it was")
			}
		})
	}
}

func TestWriteReportsTornLastLine(t *testing.T) {
	dir := t.TempDir()
	events := genHistory(genOpts{Seed: 5, Procs: 2, Keys: []string{"a"}, Duration: 500 * time.Millisecond})
	writeRun(t, dir, events, nil, nil)
	f, err := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"index":999999,"time":`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, WriteReports(context.Background(), dir))
	page := readPage(t, filepath.Join(dir, ReportFile))
	assert.Contains(t, page, "skipped a torn last line")
	assert.Contains(t, page, "test.json is missing")
	assert.Contains(t, page, "<h1>faultline run ", "a title without test.json")
}

func TestWriteReportsForBareHistory(t *testing.T) {
	dir := t.TempDir()
	events := genHistory(genOpts{Seed: 9, Procs: 3, Keys: []string{"a", "b"}, Duration: time.Second})
	path := filepath.Join(dir, "elsewhere.jsonl")
	writeHistory(t, path, events)
	require.NoError(t, WriteReportsForHistory(context.Background(), path))
	page := readPage(t, filepath.Join(dir, ReportFile))
	assert.Contains(t, page, `href="elsewhere.jsonl"`)
	assert.Contains(t, page, "not checked")
	assert.FileExists(t, filepath.Join(dir, LinearizationFile))
}

// hostile are recorded strings that would run script if not escaped.
var hostile = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(2)>`}

// hostileRun writes a run whose keys, values, errors, node names, fault
// names and test options carry markup, with an anomaly naming them.
func hostileRun(t *testing.T, dir string) {
	t.Helper()
	events := genHistory(genOpts{Seed: 11, Procs: 4, Keys: hostile, Duration: 3 * time.Second, Value: hostile[1],
		Faults: []genFault{
			{Name: `<script>alert(3)</script>`, Start: time.Second, Stop: 2 * time.Second, Value: history.MustValue(hostile[1])},
			{Name: "partition", Start: 1500 * time.Millisecond, Stop: 2500 * time.Millisecond, Value: history.MustValue(map[string]any{
				"topology": hostile[0], "grudge": map[string][]string{hostile[1]: {hostile[0]}, hostile[0]: {hostile[1]}}})},
			{Name: "kill", Start: 2600 * time.Millisecond, Stop: 2800 * time.Millisecond, Value: history.MustValue(map[string]any{"nodes": hostile})},
		}})
	for i := range events {
		if events[i].Process >= 0 {
			events[i].Node = hostile[1]
			if events[i].Type == history.Fail {
				events[i].Error = hostile[0]
			}
		}
	}
	test := testOptions(hostile[0], 11)
	test[hostile[1]] = hostile[0]
	var witnesses []int64
	for _, op := range history.Pair(events)[:3] {
		witnesses = append(witnesses, op.InvokeIndex)
	}
	sum := &checkers.Summary{Valid: checkers.Invalid, Results: []checkers.Result{{
		Checker: hostile[0], Valid: checkers.Invalid, Reason: hostile[1],
		Anomalies: []checkers.Anomaly{{Name: hostile[0], Keys: hostile, Guarantee: hostile[1], Ops: witnesses, Explanation: strings.Join(hostile, " ")}},
		Counts:    map[string]int{hostile[0]: 1},
		Extra:     history.MustValue(hostile),
	}}}
	writeRun(t, dir, events, test, sum)
}

func TestReportEscapesRecordedStrings(t *testing.T) {
	dir := t.TempDir()
	hostileRun(t, dir)
	require.NoError(t, WriteReports(context.Background(), dir))
	page := readPage(t, filepath.Join(dir, ReportFile))
	assert.NotContains(t, page, "<script", "no recorded string becomes a script element")
	assert.NotContains(t, page, "<img", "no recorded string becomes an element")
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;", "keys are shown, as text")
	assert.Contains(t, page, "&lt;img src=x onerror=alert(2)&gt;", "values and nodes are shown, as text")
	latency := between(t, page, `id="latency-plot"`, `id="throughput-plot"`)
	assert.Contains(t, latency, "&lt;script&gt;alert(3)&lt;/script&gt;", "the fault's name is an escaped label in the SVG")

	lin := readPage(t, filepath.Join(dir, LinearizationFile))
	assert.NotContains(t, lin, "<img src=x", "the linearizability view escapes recorded strings")
	assert.NotContains(t, lin, "<title><script", "the run's name in Porcupine's title is escaped")

	// Faults in words, the anomaly's moment and the timeline windows
	// carry recorded strings too.
	assert.Contains(t, page, "&lt;img src=x onerror=alert(2)&gt; cut off from &lt;script&gt;alert(1)&lt;/script&gt;")
	windows, err := filepath.Glob(filepath.Join(dir, WindowsDir, "*.html"))
	require.NoError(t, err)
	require.NotEmpty(t, windows)
	for _, w := range windows {
		win := readPage(t, w)
		assert.NotContains(t, win, "<script", w)
		assert.NotContains(t, win, "<img", w)
	}
}

func TestFailedPrefix(t *testing.T) {
	events, stale := genHistoryStale(genOpts{Seed: 21, Procs: 6, Keys: []string{"a", "b"}, Duration: 6 * time.Second,
		StaleRead: true, Faults: []genFault{{Name: "partition", Start: time.Second, Stop: 2 * time.Second}}})
	require.GreaterOrEqual(t, stale, int64(0))
	staleOp, _ := findOp(events, func(op history.Op) bool { return op.InvokeIndex == stale })
	var keyOps []history.Op
	for _, op := range history.Pair(events) {
		if op.Key == staleOp.Key && isRegister(op.F) {
			keyOps = append(keyOps, op)
		}
	}
	require.Greater(t, len(keyOps), 1000)
	ctx := context.Background()
	require.Equal(t, checkers.Invalid, linearizableOf(ctx, events), "the generated stale read is a real violation")

	t.Run("a long failed key is drawn up to a failing prefix holding the witness", func(t *testing.T) {
		limit, n := failedPrefix(ctx, events, keyOps, map[int64]bool{stale: true}, 100)
		require.GreaterOrEqual(t, limit, int64(0))
		assert.Greater(t, limit, stale, "the witness is drawn")
		assert.Less(t, n, len(keyOps))
		prefix := cutView(events, map[string]bool{staleOp.Key: true}, map[string]int64{staleOp.Key: limit})
		assert.Equal(t, checkers.Invalid, linearizableOf(ctx, prefix), "the drawn prefix fails on its own")
	})
	t.Run("a short key is drawn whole", func(t *testing.T) {
		limit, n := failedPrefix(ctx, events, keyOps, nil, len(keyOps))
		assert.Equal(t, int64(-1), limit)
		assert.Equal(t, len(keyOps), n)
	})
	t.Run("a key that does not fail is drawn whole", func(t *testing.T) {
		clean := genHistory(genOpts{Seed: 21, Procs: 6, Keys: []string{"a"}, Duration: 2 * time.Second})
		var ops []history.Op
		for _, op := range history.Pair(clean) {
			if isRegister(op.F) {
				ops = append(ops, op)
			}
		}
		limit, n := failedPrefix(ctx, clean, ops, nil, 100)
		assert.Equal(t, int64(-1), limit, "no prefix fails, so nothing is cut")
		assert.Equal(t, len(ops), n)
	})
}

func TestWriteReportsEdgeHistories(t *testing.T) {
	nem := func(i int64, tm int64, f string) string {
		return fmt.Sprintf(`{"index":%d,"time":%d,"process":-1,"type":"info","f":%q,"key":"","value":null}`+"\n", i, tm, f)
	}
	var many strings.Builder
	for i := int64(0); i < 600; i++ {
		many.WriteString(nem(2*i, 10*i, "start-kill"))
		many.WriteString(nem(2*i+1, 10*i+5, "stop-kill"))
	}
	long := strings.Repeat("v", 5000)
	cases := []struct {
		name    string
		history string
		want    []string
	}{
		{"empty", "", []string{"The history is empty", "The history has no client operations", "The nemesis recorded no faults"}},
		{"nemesis only", nem(0, 0, "start-partition") + nem(1, 1e9, "stop-partition"), []string{">partition #1</text>", "The history has no client operations"}},
		{"never completed, zero latency, long value",
			`{"index":0,"time":5,"process":0,"type":"invoke","f":"write","key":"k","value":"` + long + `"}` + "\n" +
				`{"index":1,"time":5,"process":1,"type":"invoke","f":"read","key":"k","value":null}` + "\n" +
				`{"index":2,"time":5,"process":1,"type":"ok","f":"read","key":"k","value":null}` + "\n",
			[]string{"more bytes)", `<th class="num">1</th><th class="num">0</th><th class="num">1</th><th class="num">2</th>`, `class="tick" style="top:180px">0.0005s<`}},
		{"many faults", many.String(), []string{"… and 400 more fault intervals"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, HistoryFile), []byte(tc.history), 0o644))
			require.NoError(t, WriteReports(context.Background(), dir))
			page := readPage(t, filepath.Join(dir, ReportFile))
			for _, w := range tc.want {
				assert.Contains(t, page, w)
			}
			assert.Equal(t, 2, strings.Count(page, "<svg"))
			assert.NotContains(t, page, long, "long values are truncated")
			assert.FileExists(t, filepath.Join(dir, LinearizationFile))
		})
	}
}

func TestLinearizabilityViewOfOneLongValidKey(t *testing.T) {
	events := genHistory(genOpts{Seed: 31, Procs: 8, Keys: []string{"r"}, Duration: 8 * time.Second})
	ops := 0
	for _, op := range history.Pair(events) {
		if isRegister(op.F) {
			ops++
		}
	}
	require.Greater(t, ops, MaxLinearizabilityOps, "one key too long to draw whole")
	valid := &checkers.Summary{Valid: checkers.Valid, Results: []checkers.Result{{Checker: "linearizable", Valid: checkers.Valid, Counts: map[string]int{"keys-unknown": 0}}}}
	cases := []struct {
		name    string
		summary *checkers.Summary
		want    string
	}{
		{"checked valid: a prefix is drawn", valid, `key &#34;r&#34;, which passed the check, is drawn up to event`},
		{"not checked: nothing is drawn", nil, fmt.Sprintf("Every key has more than %d register operations", MaxLinearizabilityOps)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRun(t, dir, events, nil, tc.summary)
			require.NoError(t, WriteReports(context.Background(), dir))
			assert.Contains(t, readPage(t, filepath.Join(dir, ReportFile)), tc.want)
			lin := readPage(t, filepath.Join(dir, LinearizationFile))
			if tc.summary != nil {
				assert.Less(t, len(lin), 1<<20, "the view is bounded")
				assert.Contains(t, lin, "<script")
			} else {
				assert.Contains(t, lin, "Every key has more than")
			}
		})
	}
}

// Of many failed keys, the first maxFailedKeysDrawn by first anomaly are
// drawn, and both pages say how many of how many.
func TestLinearizabilityViewOfManyFailedKeys(t *testing.T) {
	dir := t.TempDir()
	fk, _ := manyFailedRun(t, dir, 60, 45, 6*time.Second)
	require.Greater(t, len(fk), maxFailedKeysDrawn)
	run, err := LoadRun(context.Background(), dir)
	require.NoError(t, err)
	require.Equal(t, checkers.Invalid, linearizableOf(context.Background(), keepKeys(run.Events, fk[len(fk)-1:])),
		"the fixture's failed keys really fail")

	require.NoError(t, WriteReports(context.Background(), dir))
	showing := fmt.Sprintf("showing %d of %d failed keys", maxFailedKeysDrawn, len(fk))
	assert.Contains(t, readPage(t, filepath.Join(dir, ReportFile)), showing)
	lin := readPage(t, filepath.Join(dir, LinearizationFile))
	assert.Contains(t, lin, showing+" · <a href=\"report.html\">")
	assert.Less(t, len(lin), 1<<20, "the view is bounded")

	// Drawn: the 10 keys the anomalies name, then the other failed keys
	// by first operation.
	first := map[string]int{}
	for i, op := range history.Pair(run.Events) {
		if _, ok := first[op.Key]; !ok {
			first[op.Key] = i
		}
	}
	rest := append([]string(nil), fk[10:]...)
	sort.SliceStable(rest, func(i, j int) bool { return first[rest[i]] < first[rest[j]] })
	drawn := append(append([]string(nil), fk[:10]...), rest[:maxFailedKeysDrawn-10]...)
	isDrawn := map[string]bool{}
	for _, k := range drawn {
		isDrawn[k] = true
	}
	for _, k := range fk {
		assert.Equal(t, isDrawn[k], strings.Contains(lin, `"Description":"read(`+k+`)`), "key %s drawn", k)
	}
}
