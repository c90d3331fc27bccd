package results

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// The comparison of consistency modes (faultline compare): one cell per
// mode × nemesis × workload, each the run of that test with every model's
// checker applied to its history, whatever the mode promised. Building
// cells from a history is pure (CellStats, VerdictsOf); WriteCompare and
// the table writers only format what they are given.

// CompareModels are the models every cell is checked against, strongest
// first.
var CompareModels = []string{"linearizable", "causal+", "causal", "eventual"}

// Names of the comparison's files in its directory.
const (
	CompareHTMLFile = "compare.html"
	CompareJSONFile = "compare.json"
)

// ModelVerdict is one model's verdict on a cell's history.
type ModelVerdict struct {
	Model string            `json:"model"`
	Valid checkers.Validity `json:"valid"`
	// Reason says why the verdict is unknown.
	Reason string `json:"reason,omitempty"`
	// Anomalies counts the anomalies by name (all of them: the checkers'
	// Counts, not only the few they list).
	Anomalies map[string]int `json:"anomalies,omitempty"`
}

// CompareCell is one run of the comparison.
type CompareCell struct {
	Mode     string `json:"mode"`
	Nemesis  string `json:"nemesis"`
	Workload string `json:"workload"`
	// Promised is the model the system promises in this configuration
	// (the strong mode: linearizable): a verdict in another model's
	// column tells what the configuration gives up, not a bug.
	Promised string `json:"promised,omitempty"`
	// Dir is the run directory; Report the link to its report.html,
	// relative to compare.html.
	Dir     string `json:"dir,omitempty"`
	Report  string `json:"report,omitempty"`
	Backend string `json:"backend,omitempty"`
	Seed    int64  `json:"seed"`
	// Verdicts are in Comparison.Models order.
	Verdicts []ModelVerdict `json:"verdicts"`
	// OK, Fail and Info count the main phase's client operations (final
	// reads excluded).
	OK   int64 `json:"ok"`
	Fail int64 `json:"fail"`
	Info int64 `json:"info"`
	// OpsPerSec is ok operations per second of the main phase.
	OpsPerSec float64 `json:"ops_per_sec"`
	// P50 and P99 are latencies of the main phase's ok operations.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	// Err says why the cell has no (or only a partial) verdict: the run
	// or the check failed.
	Err string `json:"error,omitempty"`
}

// Comparison is the whole matrix: the content of compare.json.
type Comparison struct {
	Models    []string      `json:"models"`
	Cells     []CompareCell `json:"cells"`
	Command   string        `json:"command,omitempty"`
	Generated time.Time     `json:"generated"`
}

// VerdictsOf returns the verdict of each of models in sum (unknown, with
// the reason "not checked", for a model sum lacks).
func VerdictsOf(sum checkers.Summary, models []string) []ModelVerdict {
	out := make([]ModelVerdict, 0, len(models))
	for _, m := range models {
		v := ModelVerdict{Model: m, Valid: checkers.Unknown, Reason: "not checked"}
		for _, r := range sum.Results {
			if r.Checker != m {
				continue
			}
			v.Valid, v.Reason = r.Valid, r.Reason
			for _, a := range r.Anomalies {
				if v.Anomalies == nil {
					v.Anomalies = map[string]int{}
				}
				v.Anomalies[a.Name]++
			}
			// Checkers list a few anomalies of each name and count them
			// all in Counts (the linearizable checker counts keys).
			for name, n := range v.Anomalies {
				full := r.Counts[name]
				if name == "nonlinearizable" {
					full = max(full, r.Counts["keys-nonlinearizable"])
				}
				v.Anomalies[name] = max(n, full)
			}
		}
		out = append(out, v)
	}
	return out
}

// CellStats counts a history's main-phase client operations (final reads
// and nemesis events excluded) and measures the throughput of the ok ones
// over the span from the first invocation to the last completion, and
// their latency percentiles (nearest rank).
func CellStats(events []history.Event) (ok, fail, info int64, opsPerSec float64, p50, p99 time.Duration) {
	var lats []int64
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, op := range history.Pair(events) {
		if op.Final {
			continue
		}
		first = min(first, op.Call)
		if op.Return != history.Never {
			last = max(last, op.Return)
		}
		switch op.Type {
		case history.OK:
			ok++
			lats = append(lats, op.Return-op.Call)
		case history.Fail:
			fail++
		default:
			info++
		}
	}
	if last > first && ok > 0 {
		opsPerSec = float64(ok) / (float64(last-first) / 1e9)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return ok, fail, info, opsPerSec, time.Duration(percentile(lats, 50)), time.Duration(percentile(lats, 99))
}

// percentile is the nearest-rank percentile of sorted xs (0 if empty).
func percentile(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[max(rank, 1)-1]
}

// SortCells orders cells by mode (strong, causal, eventual, then others by
// name), nemesis, workload.
func SortCells(cells []CompareCell) {
	rank := map[string]int{"strong": 0, "causal": 1, "eventual": 2}
	r := func(m string) int {
		if v, ok := rank[m]; ok {
			return v
		}
		return 3
	}
	sort.SliceStable(cells, func(i, j int) bool {
		a, b := cells[i], cells[j]
		if r(a.Mode) != r(b.Mode) {
			return r(a.Mode) < r(b.Mode)
		}
		if a.Mode != b.Mode {
			return a.Mode < b.Mode
		}
		if a.Nemesis != b.Nemesis {
			return nemesisRank(a.Nemesis) < nemesisRank(b.Nemesis) || (nemesisRank(a.Nemesis) == nemesisRank(b.Nemesis) && a.Nemesis < b.Nemesis)
		}
		return a.Workload < b.Workload
	})
}

func nemesisRank(n string) int {
	for i, x := range []string{"none", "partition", "kill", "pause", "clock", "packet", "all"} {
		if n == x {
			return i
		}
	}
	return 100
}

// verdictText is a verdict with its anomaly counts: "invalid
// (WriteCORead×10, CyclicCF×3)", most frequent first.
func verdictText(v ModelVerdict) string {
	s := v.Valid.String()
	if len(v.Anomalies) > 0 {
		s += " (" + anomalyList(v.Anomalies) + ")"
	}
	return s
}

func anomalyList(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s×%d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// fmtLatency prints a latency with two or three significant digits.
func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fmtRate(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", r)
}

// tableRows is the comparison as rows of text cells, the header first.
func (c Comparison) tableRows() [][]string {
	head := []string{"mode", "nemesis", "workload"}
	head = append(head, c.Models...)
	head = append(head, "ok/s", "p50", "p99")
	rows := [][]string{head}
	for _, cell := range c.Cells {
		row := []string{cell.Mode, cell.Nemesis, cell.Workload}
		for _, v := range cell.Verdicts {
			row = append(row, verdictText(v))
		}
		for len(row) < 3+len(c.Models) {
			row = append(row, "-")
		}
		if cell.Err != "" && len(cell.Verdicts) == 0 {
			for i := 3; i < len(row); i++ {
				row[i] = "error"
			}
		}
		row = append(row, fmtRate(cell.OpsPerSec), fmtLatency(cell.P50), fmtLatency(cell.P99))
		rows = append(rows, row)
	}
	return rows
}

// CompareLegend explains the table's columns.
const CompareLegend = `valid: the history satisfies the model. invalid: it violates it; the anomalies found, by name and count, follow. unknown: the checker could not decide (see the cell's report). Every model is checked on every cell's history, whatever the mode promises; the promised model's verdict is outlined and marked "promised": an invalid there is a bug, elsewhere it is what the mode gives up. ok/s: acknowledged operations per second in the main phase. p50/p99: latency of acknowledged operations. Anomalies: nonlinearizable (keys with no linearization), WriteCORead/WriteCOInitRead (a read returned a value causally overwritten before it: a session guarantee is broken), CyclicCO/CyclicCF (the causal or conflict order has a cycle), ThinAirRead (a value nobody wrote), divergence (final reads disagree).`

// WriteTable writes the comparison as a table: format "text" (aligned
// columns) or "markdown" (a GitHub table), followed by the legend and
// the errors of failed cells.
func (c Comparison) WriteTable(w io.Writer, format string) error {
	rows := c.tableRows()
	var b strings.Builder
	switch format {
	case "text", "":
		widths := make([]int, len(rows[0]))
		for _, r := range rows {
			for i, s := range r {
				widths[i] = max(widths[i], utf8.RuneCountInString(s))
			}
		}
		numeric := func(i int) bool { return i >= len(rows[0])-3 }
		for _, r := range rows {
			for i, s := range r {
				pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
				if numeric(i) {
					b.WriteString(pad + s)
				} else {
					b.WriteString(s + pad)
				}
				if i < len(r)-1 {
					b.WriteString("  ")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n" + wrap(CompareLegend, 100) + "\n")
	case "markdown":
		for i, r := range rows {
			cells := make([]string, len(r))
			for j, s := range r {
				s = strings.ReplaceAll(s, "|", `\|`)
				if i > 0 && j >= 3 && j < 3+len(c.Models) && strings.HasPrefix(s, "invalid") {
					s = "**invalid**" + strings.TrimPrefix(s, "invalid")
				}
				cells[j] = s
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
			if i == 0 {
				seps := make([]string, len(r))
				for j := range seps {
					seps[j] = "---"
					if j >= len(r)-3 {
						seps[j] = "---:"
					}
				}
				b.WriteString("| " + strings.Join(seps, " | ") + " |\n")
			}
		}
		b.WriteString("\n" + CompareLegend + "\n")
	default:
		return fmt.Errorf("unknown table format %q: valid formats are text and markdown", format)
	}
	for _, cell := range c.Cells {
		if cell.Err != "" {
			fmt.Fprintf(&b, "\n%s × %s × %s: %s", cell.Mode, cell.Nemesis, cell.Workload, cell.Err)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap breaks s into lines of at most width runes, at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		l := utf8.RuneCountInString(word)
		if i > 0 {
			if n+1+l > width {
				b.WriteString("\n")
				n = 0
			} else {
				b.WriteString(" ")
				n++
			}
		}
		b.WriteString(word)
		n += l
	}
	return b.String()
}

// WriteCompare writes compare.html and compare.json into dir (each
// through a temporary file renamed into place).
func WriteCompare(dir string, c Comparison) error {
	if err := writeAtomic(filepath.Join(dir, CompareJSONFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, CompareHTMLFile), func(w io.Writer) error {
		return WriteCompareHTML(w, c)
	})
}

type compareVerdictView struct {
	Text, Class, Anomalies, Reason string
	// Href links the cell's anomalies in the run's report; Promised
	// marks the model the row's configuration promises.
	Href     string
	Promised bool
}

// PromisedModel is the consistency model a mode of the reference store
// promises ("" for a mode it does not know): the column of the compare
// page that must stay valid.
func PromisedModel(mode string) string {
	switch mode {
	case "strong":
		return "linearizable"
	case "causal":
		return "causal+"
	case "eventual":
		return "eventual"
	}
	return ""
}

type compareRowView struct {
	Mode, Nemesis, Workload string
	FirstOfMode             bool
	ModeSpan                int
	Report, Dir             string
	Verdicts                []compareVerdictView
	OK, Fail, Info          int64
	Rate, P50, P99          string
	Backend                 string
	Seed                    int64
	Err                     string
}

type compareView struct {
	Models    []string
	Rows      []compareRowView
	Command   string
	Generated string
	Legend    string
}

// WriteCompareHTML writes the comparison as a self-contained page: the
// matrix with coloured verdicts and anomaly counts, a link to each cell's
// report.html, throughput and latency, and the legend. Every recorded
// string is escaped (html/template).
func WriteCompareHTML(w io.Writer, c Comparison) error {
	v := compareView{Models: c.Models, Command: c.Command, Legend: CompareLegend}
	if !c.Generated.IsZero() {
		v.Generated = c.Generated.UTC().Format(time.RFC3339)
	}
	span := map[string]int{}
	for _, cell := range c.Cells {
		span[cell.Mode]++
	}
	for i, cell := range c.Cells {
		r := compareRowView{
			Mode: cell.Mode, Nemesis: cell.Nemesis, Workload: cell.Workload,
			FirstOfMode: i == 0 || c.Cells[i-1].Mode != cell.Mode, ModeSpan: span[cell.Mode],
			Report: cell.Report, Dir: cell.Dir, OK: cell.OK, Fail: cell.Fail, Info: cell.Info,
			Rate: fmtRate(cell.OpsPerSec), P50: fmtLatency(cell.P50), P99: fmtLatency(cell.P99),
			Backend: cell.Backend, Seed: cell.Seed, Err: cell.Err,
		}
		promised := cell.Promised
		if promised == "" {
			promised = PromisedModel(cell.Mode)
		}
		for _, mv := range cell.Verdicts {
			cv := compareVerdictView{
				Text: mv.Valid.String(), Class: mv.Valid.String(),
				Anomalies: anomalyList(mv.Anomalies), Reason: mv.Reason,
				Promised: promised != "" && mv.Model == promised,
			}
			if cell.Report != "" {
				cv.Href = cell.Report + "#checker-" + mv.Model
			}
			r.Verdicts = append(r.Verdicts, cv)
		}
		for len(r.Verdicts) < len(c.Models) {
			r.Verdicts = append(r.Verdicts, compareVerdictView{Text: "-", Class: "none"})
		}
		v.Rows = append(v.Rows, r)
	}
	return compareTmpl.Execute(w, v)
}

var compareTmpl = template.Must(template.New("compare").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Consistency modes compared — faultline</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1400px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0}
table{border-collapse:collapse;font-size:13px;background:#fff}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mode{font-weight:600;font-size:15px;background:#f6f8fa}
td.v{min-width:8em}
td.valid{background:#dafbe1}td.invalid{background:#ffebe9}td.unknown{background:#fff8c5}td.none{background:#eaeef2}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff}
.badge.valid{background:#1a7f37}.badge.invalid{background:#cf222e}.badge.unknown{background:#bf8700}.badge.none{background:#6e7781}
.an{display:block;font-size:12px;color:#57606a;margin-top:2px}
.err{color:#cf222e;font-size:12px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.note{color:#57606a;font-size:12px;max-width:1000px}
td.promised{outline:3px solid #0969da;outline-offset:-3px}
.promise{display:inline-block;font-size:11px;color:#0969da;font-weight:600;margin-left:6px}
td.v a{color:inherit;text-decoration:none}td.v a:hover .badge{text-decoration:underline}
</style>
</head>
<body>
<main>
<h1>Consistency modes compared</h1>
<p class="note">Each row is one run of the reference store in a mode, under a nemesis, with a workload. Every model's checker is run on every row's history, whatever the mode promises: the columns say what each mode actually kept. The model each mode promises is outlined and marked <span class="promise">promised</span>: that cell must be valid. Each verdict links to its anomalies in the run's report.{{if .Generated}} Generated {{.Generated}}.{{end}}</p>
{{if .Command}}<p class="note">Command: <code>{{.Command}}</code></p>{{end}}
<table id="matrix">
<thead><tr><th>mode</th><th>nemesis</th><th>workload</th>{{range .Models}}<th>{{.}}</th>{{end}}<th>ok/s</th><th>p50</th><th>p99</th><th>ops ok / fail / info</th><th>run</th></tr></thead>
<tbody>
{{range .Rows}}<tr>{{if .FirstOfMode}}<td class="mode" rowspan="{{.ModeSpan}}">{{.Mode}}</td>{{end}}<td>{{.Nemesis}}</td><td>{{.Workload}}</td>{{range .Verdicts}}<td class="v {{.Class}}{{if .Promised}} promised{{end}}"{{if .Promised}} title="the model this configuration promises"{{end}}>{{if .Href}}<a href="{{.Href}}">{{end}}<span class="badge {{.Class}}">{{.Text}}</span>{{if .Promised}}<span class="promise">promised</span>{{end}}{{if .Anomalies}}<span class="an">{{.Anomalies}}</span>{{end}}{{if .Href}}</a>{{end}}{{if .Reason}}<span class="an">{{.Reason}}</span>{{end}}</td>{{end}}<td class="num">{{.Rate}}</td><td class="num">{{.P50}}</td><td class="num">{{.P99}}</td><td class="num">{{.OK}} / {{.Fail}} / {{.Info}}</td><td>{{if .Report}}<a href="{{.Report}}">report</a>{{end}}{{if .Backend}} <span class="an">{{.Backend}}, seed {{.Seed}}</span>{{end}}{{if .Err}}<span class="err">{{.Err}}</span>{{end}}</td></tr>
{{end}}</tbody>
</table>
<h2 style="font-size:16px">Legend</h2>
<p class="note" id="legend">{{.Legend}}</p>
</main>
</body>
</html>
`))
