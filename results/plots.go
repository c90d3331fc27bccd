package results

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/faultline/faultline/history"
)

// Plot bounds: a page must open fast whatever the length of the run.
const (
	// MaxLatencyPoints bounds the points of the latency scatter; beyond
	// it the points are sampled (see samplePoints).
	MaxLatencyPoints = 5000
	// maxFaultLabels bounds the text labels drawn on fault intervals;
	// beyond it only the first interval of each fault is labelled.
	maxFaultLabels = 24
	plotWidth      = 10 * vg.Inch
	plotHeight     = 3.6 * vg.Inch
)

var (
	colorOK   = color.RGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff}
	colorFail = color.RGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
	colorInfo = color.RGBA{R: 0xef, G: 0x6c, B: 0x00, A: 0xff}
	// faultPalette shades fault intervals, one colour per fault name in
	// order of first appearance (see faultColors); translucent so points
	// show through (non-premultiplied: the alpha is the shading's opacity).
	faultPalette = []color.NRGBA{
		{R: 0x42, G: 0x85, B: 0xf4, A: 0x38},
		{R: 0x9c, G: 0x27, B: 0xb0, A: 0x38},
		{R: 0x00, G: 0x96, B: 0x88, A: 0x38},
		{R: 0x79, G: 0x55, B: 0x48, A: 0x38},
		{R: 0xff, G: 0xc1, B: 0x07, A: 0x48},
		{R: 0x60, G: 0x7d, B: 0x8b, A: 0x38},
		{R: 0xe9, G: 0x1e, B: 0x63, A: 0x30},
		{R: 0x8b, G: 0xc3, B: 0x4a, A: 0x38},
	}
)

func typeColor(t history.Type) color.Color {
	switch t {
	case history.OK:
		return colorOK
	case history.Fail:
		return colorFail
	}
	return colorInfo
}

// faultColors assigns each fault name a colour of the palette, in order of
// first appearance; names beyond the palette reuse it.
func faultColors(faults []history.Fault) map[string]color.NRGBA {
	out := map[string]color.NRGBA{}
	for _, f := range faults {
		if _, ok := out[f.Name]; !ok {
			out[f.Name] = faultPalette[len(out)%len(faultPalette)]
		}
	}
	return out
}

// Outcomes as the plots split them: a cas that failed with "mismatch"
// observed the key's value and is no error, so it is drawn apart.
const (
	outOK       = "ok"
	outMismatch = "mismatch"
	outError    = "error"
	outInfo     = "info"
)

func outcomeOf(op history.Op) string {
	switch op.Type {
	case history.OK:
		return outOK
	case history.Fail:
		if op.Error == history.ErrorMismatch {
			return outMismatch
		}
		return outError
	}
	return outInfo
}

// latPoint is one completed operation in the latency plot.
type latPoint struct {
	T   float64 // invoke time, seconds since the start
	Lat float64 // latency, milliseconds
	Typ history.Type
	// F is the op's function, Outcome one of outOK... ("" reads Typ).
	F, Outcome string
}

// bad reports whether a point is an error or an unknown outcome, which
// sampling keeps first.
func (p latPoint) bad() bool {
	if p.Outcome != "" {
		return p.Outcome == outError || p.Outcome == outInfo
	}
	return p.Typ != history.OK
}

// samplePoints returns at most limit of pts, in time order. When it must
// drop points, it keeps what a person looks for: every error and info (or
// an even sample of them if they alone exceed half the budget), the
// slowest of the others, and an even sample of the rest. It is
// deterministic.
func samplePoints(pts []latPoint, limit int) []latPoint {
	if len(pts) <= limit || limit <= 0 {
		return pts
	}
	var bad, ok []int
	for i, p := range pts {
		if !p.bad() {
			ok = append(ok, i)
		} else {
			bad = append(bad, i)
		}
	}
	keep := make([]int, 0, limit)
	keep = append(keep, stride(bad, limit/2)...)
	budget := limit - len(keep)
	// The slowest oks: a twentieth of the budget.
	slow := append([]int(nil), ok...)
	sort.SliceStable(slow, func(a, b int) bool { return pts[slow[a]].Lat > pts[slow[b]].Lat })
	nSlow := min(budget/20, len(slow))
	taken := make(map[int]bool, nSlow)
	for _, i := range slow[:nSlow] {
		taken[i] = true
		keep = append(keep, i)
	}
	rest := make([]int, 0, len(ok)-nSlow)
	for _, i := range ok {
		if !taken[i] {
			rest = append(rest, i)
		}
	}
	keep = append(keep, stride(rest, budget-nSlow)...)
	sort.Ints(keep)
	out := make([]latPoint, len(keep))
	for j, i := range keep {
		out[j] = pts[i]
	}
	return out
}

// stride returns n elements of idx evenly spread (all of them if n >= len).
func stride(idx []int, n int) []int {
	if n >= len(idx) {
		return idx
	}
	if n <= 0 {
		return nil
	}
	out := make([]int, n)
	for j := range out {
		out[j] = idx[j*len(idx)/n]
	}
	return out
}

// Colours of the op types; others are grey.
var fColors = map[string]color.RGBA{
	history.FRead:  {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	history.FWrite: {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	history.FCAS:   {R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	history.FAdd:   {R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
}

var colorOther = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}

func fColor(f string) color.RGBA {
	if c, ok := fColors[f]; ok {
		return c
	}
	return colorOther
}

// plotFs is the order op types are drawn and listed in.
func plotFs(fs map[string]bool) []string {
	var out []string
	for _, f := range []string{history.FRead, history.FWrite, history.FCAS, history.FAdd} {
		if fs[f] {
			out = append(out, f)
		}
	}
	var rest []string
	for f := range fs {
		if _, ok := fColors[f]; !ok {
			rest = append(rest, f)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// latencyPlot draws the latency scatter (log scale): one colour per op
// type, oks as squares, cas mismatches as rings, errors as red crosses,
// infos as orange triangles; faults shaded and labelled, anomalies marked.
func latencyPlot(pts []latPoint, faults []faultInfo, marks []timeMark, end float64) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = "Latency by invoke time"
	p.X.Label.Text = "time since the first operation (s)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())

	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		ymin, ymax = math.Min(ymin, q.Lat), math.Max(ymax, q.Lat)
	}
	if len(pts) == 0 {
		ymin, ymax = 1, 10
	}
	ymin, ymax = ymin/1.5, ymax*3
	p.X.Min, p.X.Max = 0, math.Max(end, 1e-3)
	p.Y.Min, p.Y.Max = ymin, ymax
	if err := addFaults(p, faults, ymin, ymax); err != nil {
		return "", err
	}
	fs := map[string]bool{}
	for _, q := range pts {
		fs[q.F] = true
	}
	type series struct {
		f, out string
	}
	groups := map[series]plotter.XYs{}
	for _, q := range pts {
		out := q.Outcome
		if out == "" {
			out = string(q.Typ)
		}
		k := series{q.F, out}
		if out == outError || out == outInfo {
			k.f = "" // errors and infos are drawn alike, whatever the op
		}
		groups[k] = append(groups[k], plotter.XY{X: q.T, Y: q.Lat})
	}
	order := []series{}
	for _, out := range []string{outOK, outMismatch} {
		for _, f := range plotFs(fs) {
			order = append(order, series{f, out})
		}
	}
	order = append(order, series{"", outError}, series{"", outInfo})
	for _, k := range order {
		xys := groups[k]
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return "", fmt.Errorf("latency plot: %w", err)
		}
		switch k.out {
		case outOK:
			s.GlyphStyle = draw.GlyphStyle{Color: fColor(k.f), Radius: vg.Points(1.2), Shape: draw.BoxGlyph{}}
		case outMismatch:
			s.GlyphStyle = draw.GlyphStyle{Color: fColor(k.f), Radius: vg.Points(1.6), Shape: draw.RingGlyph{}}
		case outError:
			s.GlyphStyle = draw.GlyphStyle{Color: colorFail, Radius: vg.Points(2), Shape: draw.CrossGlyph{}}
		default:
			s.GlyphStyle = draw.GlyphStyle{Color: colorInfo, Radius: vg.Points(2), Shape: draw.TriangleGlyph{}}
		}
		p.Add(s)
	}
	if err := addMarks(p, marks, ymin, ymax); err != nil {
		return "", err
	}
	return renderSVG(p)
}

// donePoint is one completion, for the throughput plot.
type donePoint struct {
	T          float64 // completion time, seconds
	F, Outcome string
}

// rateSeries is one line of the throughput plot: completions of op type
// F with an ok outcome, or (F "") of every op with Outcome.
type rateSeries struct {
	F, Outcome string
	Rates      []float64 // completions per second, one per bucket
}

// bucketWidth picks a round bucket width (seconds) giving about 150
// buckets over a run of length end seconds.
func bucketWidth(end float64) float64 {
	steps := []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600}
	want := end / 150
	for _, s := range steps {
		if s >= want {
			return s
		}
	}
	return steps[len(steps)-1] * math.Ceil(want/steps[len(steps)-1])
}

// throughput counts completions per second in buckets of width w
// seconds: oks by op type, then mismatches, errors and infos of all ops.
func throughput(pts []donePoint, end, w float64) []rateSeries {
	n := int(math.Floor(end/w)) + 1
	fs := map[string]bool{}
	for _, p := range pts {
		if p.Outcome == outOK {
			fs[p.F] = true
		}
	}
	var series []rateSeries
	idx := map[[2]string]int{}
	for _, f := range plotFs(fs) {
		idx[[2]string{f, outOK}] = len(series)
		series = append(series, rateSeries{F: f, Outcome: outOK})
	}
	for _, out := range []string{outMismatch, outError, outInfo} {
		idx[[2]string{"", out}] = len(series)
		series = append(series, rateSeries{Outcome: out})
	}
	for i := range series {
		series[i].Rates = make([]float64, n)
	}
	for _, p := range pts {
		b := int(math.Floor(p.T / w))
		if b < 0 || b >= n {
			continue
		}
		k := [2]string{p.F, p.Outcome}
		if p.Outcome != outOK {
			k[0] = ""
		}
		if s, ok := idx[k]; ok {
			series[s].Rates[b] += 1 / w
		}
	}
	return series
}

// throughputPlot draws completions per second over time, with the faults
// shaded and the anomalies marked.
func throughputPlot(series []rateSeries, w float64, faults []faultInfo, marks []timeMark, end float64) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Throughput (completions per second, %gs buckets)", w)
	p.X.Label.Text = "time since the first operation (s)"
	p.Y.Label.Text = "ops/s"
	p.Add(plotter.NewGrid())
	ymax := 1.0
	for _, s := range series {
		for _, r := range s.Rates {
			ymax = math.Max(ymax, r)
		}
	}
	ymax *= 1.25
	p.X.Min, p.X.Max = 0, math.Max(end, 1e-3)
	p.Y.Min, p.Y.Max = 0, ymax
	if err := addFaults(p, faults, 0, ymax); err != nil {
		return "", err
	}
	for _, s := range series {
		var total float64
		xys := make(plotter.XYs, len(s.Rates))
		for i, r := range s.Rates {
			xys[i] = plotter.XY{X: (float64(i) + 0.5) * w, Y: r}
			total += r
		}
		if total == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return "", fmt.Errorf("throughput plot: %w", err)
		}
		l.Width = vg.Points(1.2)
		switch s.Outcome {
		case outOK:
			l.Color = fColor(s.F)
		case outMismatch:
			l.Color = colorOther
			l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		case outError:
			l.Color = colorFail
		default:
			l.Color = colorInfo
		}
		p.Add(l)
	}
	if err := addMarks(p, marks, 0, ymax); err != nil {
		return "", err
	}
	return renderSVG(p)
}

// addMarks draws each anomaly's moment as a dashed black line with its
// label at the foot.
func addMarks(p *plot.Plot, marks []timeMark, ymin, ymax float64) error {
	if len(marks) == 0 {
		return nil
	}
	var labels plotter.XYLabels
	for _, m := range marks {
		x := secs(m.At)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
		if err != nil {
			return fmt.Errorf("mark anomaly %s: %w", m.Label, err)
		}
		l.Color = color.Black
		l.Width = vg.Points(0.8)
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: ymin})
		labels.Labels = append(labels.Labels, m.Label)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return fmt.Errorf("label anomalies: %w", err)
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Size = vg.Points(8)
		l.TextStyle[i].Color = color.Black
	}
	l.Offset = vg.Point{X: vg.Points(2), Y: vg.Points(2)}
	p.Add(l)
	return nil
}

// addFaults shades each fault interval from ymin to ymax in its fault's
// colour and labels the intervals with what they did ("partition #2: n3
// cut off"). (The legend is the page's, in HTML, so it never hides
// points.)
func addFaults(p *plot.Plot, faults []faultInfo, ymin, ymax float64) error {
	plain := make([]history.Fault, len(faults))
	for i, f := range faults {
		plain[i] = f.Fault
	}
	colors := faultColors(plain)
	labelled := map[string]bool{}
	var labels plotter.XYLabels
	for _, f := range faults {
		x0, x1 := secs(f.Start), secs(f.Stop)
		if x1 <= x0 {
			x1 = x0 + 1e-3
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: ymin}, {X: x1, Y: ymin}, {X: x1, Y: ymax}, {X: x0, Y: ymax}})
		if err != nil {
			return fmt.Errorf("shade fault %s: %w", f.Name, err)
		}
		poly.Color = colors[f.Name]
		poly.LineStyle.Width = 0
		p.Add(poly)
		if len(faults) <= maxFaultLabels || !labelled[f.Name] {
			labelled[f.Name] = true
			labels.XYs = append(labels.XYs, plotter.XY{X: x0, Y: ymax})
			labels.Labels = append(labels.Labels, f.Short)
		}
	}
	// Nearby faults' labels are staggered down the plot, three rows.
	for row := 0; row < 3; row++ {
		var part plotter.XYLabels
		for i := row; i < len(labels.Labels); i += 3 {
			part.XYs = append(part.XYs, labels.XYs[i])
			part.Labels = append(part.Labels, labels.Labels[i])
		}
		if len(part.Labels) == 0 {
			continue
		}
		l, err := plotter.NewLabels(part)
		if err != nil {
			return fmt.Errorf("label faults: %w", err)
		}
		for i := range l.TextStyle {
			l.TextStyle[i].YAlign = draw.YTop
			l.TextStyle[i].Font.Size = vg.Points(7)
		}
		l.Offset = vg.Point{X: vg.Points(2), Y: vg.Points(-2 - 9*float64(row))}
		p.Add(l)
	}
	return nil
}

// renderSVG draws p as an SVG element to inline in a page. The text of
// every label is escaped by the SVG canvas (html.EscapeString), so a
// recorded string drawn in a plot stays text.
func renderSVG(p *plot.Plot) (template.HTML, error) {
	c := vgsvg.New(plotWidth, plotHeight)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("write plot: %w", err)
	}
	b := buf.Bytes()
	// Drop the XML prolog and comment: the SVG is inlined in HTML.
	if i := bytes.Index(b, []byte("<svg")); i >= 0 {
		b = b[i:]
	}
	return template.HTML(b), nil // #nosec: produced by vgsvg, which escapes text
}

// secs converts history nanoseconds to seconds.
func secs(ns int64) float64 { return float64(ns) / 1e9 }
