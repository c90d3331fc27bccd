package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

func TestVerdictsOf(t *testing.T) {
	sum := checkers.Summary{Valid: checkers.Invalid, Results: []checkers.Result{
		{Checker: "linearizable", Valid: checkers.Invalid,
			Anomalies: []checkers.Anomaly{{Name: "nonlinearizable"}, {Name: "nonlinearizable"}},
			Counts:    map[string]int{"keys-nonlinearizable": 7, "keys": 20}},
		{Checker: "causal", Valid: checkers.Invalid,
			Anomalies: []checkers.Anomaly{{Name: "WriteCORead"}, {Name: "CyclicCF"}},
			Counts:    map[string]int{"WriteCORead": 31, "ops": 900}},
		{Checker: "eventual", Valid: checkers.Unknown, Reason: "no final reads"},
	}}
	got := VerdictsOf(sum, CompareModels)
	require.Len(t, got, 4)
	assert.Equal(t, ModelVerdict{Model: "linearizable", Valid: checkers.Invalid, Anomalies: map[string]int{"nonlinearizable": 7}}, got[0])
	assert.Equal(t, ModelVerdict{Model: "causal+", Valid: checkers.Unknown, Reason: "not checked"}, got[1], "a model the summary lacks is unknown, never valid")
	assert.Equal(t, map[string]int{"WriteCORead": 31, "CyclicCF": 1}, got[2].Anomalies, "full counts, and no non-anomaly counts such as ops")
	assert.Equal(t, "no final reads", got[3].Reason)
}

func TestCellStats(t *testing.T) {
	ms := int64(time.Millisecond)
	var evs []history.Event
	add := func(p int, typ history.Type, at int64, final bool) {
		evs = append(evs, history.Event{Index: int64(len(evs)), Time: at, Process: p, Type: typ, F: "read", Key: "x", Value: history.Null, Final: final})
	}
	// 4 ok ops of 10, 20, 30, 40 ms, one fail, one info, between 0 and 2s;
	// a final read (excluded) much later.
	for i, lat := range []int64{10, 20, 30, 40} {
		add(i, history.Invoke, int64(i)*ms, false)
		add(i, history.OK, int64(i)*ms+lat*ms, false)
	}
	add(5, history.Invoke, 100*ms, false)
	add(5, history.Fail, 2000*ms, false)
	add(6, history.Invoke, 150*ms, false)
	add(6, history.Info, 160*ms, false)
	add(7, history.Invoke, 9000*ms, true)
	add(7, history.OK, 9001*ms, true)
	ok, fail, info, rate, p50, p99 := CellStats(evs)
	assert.Equal(t, []int64{4, 1, 1}, []int64{ok, fail, info})
	assert.InDelta(t, 2.0, rate, 0.001, "4 ok ops over the 2s from the first invoke to the last completion")
	assert.Equal(t, 20*time.Millisecond, p50)
	assert.Equal(t, 40*time.Millisecond, p99)

	ok, _, _, rate, p50, _ = CellStats(nil)
	assert.Zero(t, ok)
	assert.Zero(t, rate)
	assert.Zero(t, p50)
}

func sampleComparison() Comparison {
	return Comparison{
		Models:    CompareModels,
		Generated: time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC),
		Command:   "faultline compare --nemeses partition",
		Cells: []CompareCell{
			{Mode: "eventual", Nemesis: "partition", Workload: "kv", Report: "eventual-kv-partition/t/report.html", OpsPerSec: 812.4, P50: 7 * time.Millisecond, P99: 95 * time.Millisecond, OK: 8000,
				Verdicts: []ModelVerdict{
					{Model: "linearizable", Valid: checkers.Invalid, Anomalies: map[string]int{"nonlinearizable": 10}},
					{Model: "causal+", Valid: checkers.Invalid, Anomalies: map[string]int{"WriteCORead": 12, "CyclicCF": 3}},
					{Model: "causal", Valid: checkers.Invalid, Anomalies: map[string]int{"WriteCORead": 12}},
					{Model: "eventual", Valid: checkers.Valid},
				}},
			{Mode: "strong", Nemesis: "partition", Workload: "kv", Report: "strong-kv-partition/t/report.html", OpsPerSec: 150, P50: 23 * time.Millisecond, P99: 1200 * time.Millisecond,
				Verdicts: []ModelVerdict{
					{Model: "linearizable", Valid: checkers.Valid}, {Model: "causal+", Valid: checkers.Valid},
					{Model: "causal", Valid: checkers.Valid}, {Model: "eventual", Valid: checkers.Unknown, Reason: "timeout"},
				}},
			{Mode: "causal", Nemesis: "kill", Workload: "kv", Err: "start the cluster: port in use"},
		},
	}
}

func TestSortCells(t *testing.T) {
	c := sampleComparison()
	c.Cells = append(c.Cells, CompareCell{Mode: "strong", Nemesis: "none", Workload: "kv"}, CompareCell{Mode: "strong", Nemesis: "all", Workload: "kv"})
	SortCells(c.Cells)
	var got []string
	for _, cell := range c.Cells {
		got = append(got, cell.Mode+"/"+cell.Nemesis)
	}
	assert.Equal(t, []string{"strong/none", "strong/partition", "strong/all", "causal/kill", "eventual/partition"}, got)
}

func TestWriteTableText(t *testing.T) {
	c := sampleComparison()
	SortCells(c.Cells)
	var b bytes.Buffer
	require.NoError(t, c.WriteTable(&b, "text"))
	out := b.String()
	lines := strings.Split(out, "\n")
	// Header and 3 rows, every column aligned: same width on every line.
	require.GreaterOrEqual(t, len(lines), 4)
	w := utf8.RuneCountInString(lines[0])
	for _, l := range lines[1:4] {
		assert.Equal(t, w, utf8.RuneCountInString(l), "row %q", l)
	}
	runeIndex := func(s, sub string) int { return utf8.RuneCountInString(s[:strings.Index(s, sub)]) }
	assert.Equal(t, runeIndex(lines[0], "causal+"), runeIndex(lines[3], "invalid (WriteCORead×12, CyclicCF×3)"), "a column starts at the same place on every row")
	assert.Contains(t, lines[1], "strong")
	assert.Contains(t, lines[1], "unknown")
	assert.Contains(t, lines[1], "1.20s")
	assert.Contains(t, lines[2], "error")
	assert.Contains(t, lines[3], "invalid (nonlinearizable×10)")
	assert.Contains(t, lines[3], "812")
	assert.Contains(t, out, "valid: the history satisfies the model")
	assert.Contains(t, out, "causal × kill × kv: start the cluster: port in use")
}

func TestWriteTableMarkdown(t *testing.T) {
	c := sampleComparison()
	c.Cells[0].Workload = "a|b"
	var b bytes.Buffer
	require.NoError(t, c.WriteTable(&b, "markdown"))
	lines := strings.Split(b.String(), "\n")
	assert.Equal(t, "| mode | nemesis | workload | linearizable | causal+ | causal | eventual | ok/s | p50 | p99 |", lines[0])
	assert.Equal(t, "| --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |", lines[1])
	assert.Equal(t, "| eventual | partition | a\\|b | **invalid** (nonlinearizable×10) | **invalid** (WriteCORead×12, CyclicCF×3) | **invalid** (WriteCORead×12) | valid | 812 | 7.0ms | 95ms |", lines[2])
	for _, l := range lines[:5] {
		assert.Equal(t, 11, strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"), "row %q has 10 cells", l)
	}
	assert.Error(t, c.WriteTable(&b, "csv"))
}

func TestWriteCompareHTML(t *testing.T) {
	dir := t.TempDir()
	c := sampleComparison()
	SortCells(c.Cells)
	hostileText := `<script>alert(1)</script>`
	c.Cells[0].Nemesis = hostileText
	c.Cells[1].Err = `"><img src=x onerror=alert(2)>`
	c.Cells[2].Report = "javascript:alert(3)"
	require.NoError(t, WriteCompare(dir, c))

	b, err := os.ReadFile(filepath.Join(dir, CompareHTMLFile))
	require.NoError(t, err)
	page := string(b)
	assert.NotContains(t, page, "<script>")
	assert.NotContains(t, page, "<img")
	assert.NotContains(t, page, `href="javascript:`)
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, page, `<a href="strong-kv-partition/t/report.html">report</a>`)
	assert.Contains(t, page, `<span class="badge invalid">invalid</span><span class="an">WriteCORead×12, CyclicCF×3</span>`)
	assert.Regexp(t, `<span class="badge unknown">unknown</span>(</a>)?<span class="an">timeout</span>`, page)
	assert.Contains(t, page, `<a href="strong-kv-partition/t/report.html#checker-linearizable">`, "each cell links to its checker's anomalies")
	assert.Regexp(t, `<td class="v [a-z]+ promised"[^>]*><a href="strong-kv-partition/t/report.html#checker-linearizable">`, page, "a strong row promises linearizability")
	assert.Equal(t, len(c.Cells), strings.Count(page, `<span class="promise">promised</span>`), "one promised model per row")
	assert.Equal(t, 3, strings.Count(page, `<td class="mode"`), "one mode cell per mode")
	assert.NotContains(t, page, "http://", "self-contained: nothing loaded from elsewhere")
	assert.NotContains(t, page, "https://")

	var back Comparison
	b, err = os.ReadFile(filepath.Join(dir, CompareJSONFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, c.Cells[2].Verdicts, back.Cells[2].Verdicts)
	assert.Equal(t, c.Cells[2].P99, back.Cells[2].P99)
}
