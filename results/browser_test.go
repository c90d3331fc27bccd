package results

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser tests open the pages in a real headless Chromium (Debian
// package chromium), as a person would: they read the DOM after the page
// loaded (and, for Porcupine's view, after its script ran), check that the
// page logged nothing to the console, and save screenshots as artifacts.

// chromiumPath finds Chromium. Without it the tests skip, except on CI
// (CI=true), where a missing browser is a failure.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium is not installed, and CI=true: the browser tests must run on CI (apt-get install -y chromium)")
	}
	tb.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test")
	return ""
}

// artifactDir is where screenshots go: $FAULTLINE_ARTIFACTS, or a
// directory under the system's temporary directory. It is kept after the
// test, and printed.
func artifactDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("FAULTLINE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "faultline-artifacts")
	}
	dir = filepath.Join(dir, strings.ReplaceAll(tb.Name(), "/", "_"))
	require.NoError(tb, os.MkdirAll(dir, 0o755))
	tb.Logf("artifacts (screenshots) in %s", dir)
	return dir
}

// browserResult is what one headless Chromium invocation saw.
type browserResult struct {
	DOM     string   // the DOM after load (--dump-dom), if asked
	Console []string // console messages the page logged
}

var consoleLine = regexp.MustCompile(`:CONSOLE(?::\d+|\(\d+\))\] (.*)`)

// runChromium opens url in a fresh headless Chromium, with extra flags
// (e.g. --dump-dom, --screenshot=...), and returns the DOM it dumped and
// the console messages it logged. The browser's whole process group is
// killed when it is done or times out.
func runChromium(tb testing.TB, url string, flags ...string) browserResult {
	tb.Helper()
	bin := chromiumPath(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second) // generous: CI machines are shared
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + tb.TempDir(), "--enable-logging=stderr", "--v=0",
	}, flags...)
	args = append(args, url)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	require.NoError(tb, err)
	pid := cmd.Process.Pid
	tb.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }) // stragglers of our group only
	err = cmd.Wait()
	require.NoError(tb, err, "chromium failed: %s", tail(stderr.String(), 2000))
	res := browserResult{DOM: stdout.String()}
	for _, m := range consoleLine.FindAllStringSubmatch(stderr.String(), -1) {
		res.Console = append(res.Console, m[1])
	}
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// openPage loads url in Chromium, dumping its DOM after load (after
// budget of virtual time for pages whose script draws) and, when shot is
// not "", saving a w×h screenshot there, checked to be a real PNG.
func openPage(tb testing.TB, url, shot string, w, h int, budget time.Duration) browserResult {
	tb.Helper()
	flags := []string{"--dump-dom"}
	if budget > 0 {
		flags = append(flags, fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds()))
	}
	if shot != "" {
		flags = append(flags, fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+shot)
	}
	res := runChromium(tb, url, flags...)
	require.Contains(tb, res.DOM, "</html>", "chromium dumped the page")
	if shot != "" {
		f, err := os.Open(shot)
		require.NoError(tb, err, "chromium wrote no screenshot")
		defer f.Close()
		cfg, err := png.DecodeConfig(f)
		require.NoError(tb, err, "the screenshot is a PNG")
		assert.Equal(tb, w, cfg.Width)
		assert.Equal(tb, h, cfg.Height)
		tb.Logf("screenshot %s", shot)
	}
	return res
}

func fileURL(path string) string {
	abs, _ := filepath.Abs(path)
	return "file://" + abs
}

func TestBrowserReport(t *testing.T) {
	chromiumPath(t)
	art := artifactDir(t)
	dir := t.TempDir()
	_, stale := invalidRun(t, dir)
	require.NoError(t, WriteReports(context.Background(), dir))

	res := openPage(t, fileURL(filepath.Join(dir, ReportFile)), filepath.Join(art, "report.png"), 1400, 4200, 0)
	assert.Empty(t, res.Console, "report.html logs nothing to the console")
	dom := res.DOM
	assert.Regexp(t, `<span id="verdict" class="badge big invalid">invalid</span>`, dom)
	assert.Regexp(t, `<td>linearizable <span class="note" title="[^"]+">\(promised\)</span></td><td><span class="badge invalid">invalid</span></td>`, dom)
	assert.Regexp(t, `<td>eventual</td><td><span class="badge valid">valid</span></td>`, dom)
	// Both plots are SVG elements in the live DOM, with points and shading.
	latency := between(t, dom, `id="latency-plot"`, `id="throughput-plot"`)
	assert.Contains(t, latency, "<svg")
	assert.Greater(t, strings.Count(latency, "<path"), 1000, "the latency scatter has its points")
	assert.Regexp(t, `>partition #1[^<]*</text>`, latency, "faults are labelled by number and effect")
	throughput := between(t, dom, `id="throughput-plot"`, `<section id="faults">`)
	assert.Contains(t, throughput, "<svg")
	assert.Regexp(t, `>kill #1[^<]*</text>`, throughput)
	// The anomaly and its witness op.
	anomalies := between(t, dom, `<section id="anomalies">`, `<section id="plots">`)
	assert.Contains(t, anomalies, "<strong>nonlinearizable</strong>")
	assert.Contains(t, anomalies, `<table class="witness-ops">`)
	assert.Contains(t, anomalies, fmt.Sprintf(`<td class="num">%d</td>`, stale))
	assert.Contains(t, dom, `class="op ok witness"`)

	// The anomaly in time and its minimal witness, as rendered.
	assert.Regexp(t, `<p class="when"><strong>A1</strong> · Its witness op ran from [0-9.]+s to [0-9.]+s, `, anomalies)
	assert.Contains(t, anomalies, `<ol class="witness-story">`)
	assert.Contains(t, latency, ">A1</text>", "the anomaly is marked on the plot")
	assert.Contains(t, dom, `<div class="mark" style="top:`, "and on the timeline")

	// Porcupine's view: its script runs and draws, without console errors.
	lin := openPage(t, fileURL(filepath.Join(dir, LinearizationFile)), filepath.Join(art, "linearizability.png"), 1400, 1000, 5*time.Second)
	assert.Empty(t, lin.Console, "linearizability.html logs nothing to the console")
	assert.Contains(t, lin.DOM, "<svg", "Porcupine drew its view")
	assert.Contains(t, lin.DOM, `<a href="report.html">back to the report</a>`)
	assert.Contains(t, lin.DOM, "<title>register-partition — linearizability — faultline</title>")
	assert.Regexp(t, `<text[^>]*>p\d+ · [abc](, [abc])*</text>`, lin.DOM, "rows are labelled by process and keys")

	// The timeline windows around the anomaly and a fault.
	for _, w := range []string{"anomaly-1.html", "fault-1.html"} {
		res := openPage(t, fileURL(filepath.Join(dir, WindowsDir, w)), filepath.Join(art, "window-"+w+".png"), 1400, 1200, 0)
		assert.Empty(t, res.Console, "%s logs nothing to the console", w)
		assert.Contains(t, res.DOM, `<a href="../report.html#`, "a window links back to the report")
		assert.Contains(t, res.DOM, `class="op `)
		assert.NotContains(t, res.DOM, "<script")
	}
}

// A view of 20 of many failed keys opens and draws, and says so.
func TestBrowserManyFailedKeys(t *testing.T) {
	chromiumPath(t)
	dir := t.TempDir()
	fk, _ := manyFailedRun(t, dir, 60, 45, 6*time.Second)
	require.NoError(t, WriteReports(context.Background(), dir))
	lin := openPage(t, fileURL(filepath.Join(dir, LinearizationFile)), filepath.Join(artifactDir(t), "linearizability-many-failed.png"), 1400, 1000, 5*time.Second)
	assert.Empty(t, lin.Console, "linearizability.html logs nothing to the console")
	assert.Contains(t, lin.DOM, "<svg", "Porcupine drew its view")
	assert.Contains(t, lin.DOM, fmt.Sprintf("showing %d of %d failed keys · <a href=\"report.html\">back to the report</a>", maxFailedKeysDrawn, len(fk)))
}

func TestBrowserSetReport(t *testing.T) {
	chromiumPath(t)
	art := artifactDir(t)
	dir := t.TempDir()
	setRun(t, dir)
	require.NoError(t, WriteReports(context.Background(), dir))
	res := openPage(t, fileURL(filepath.Join(dir, ReportFile)), filepath.Join(art, "report.png"), 1400, 1600, 0)
	assert.Empty(t, res.Console)
	anomalies := between(t, res.DOM, `<section id="anomalies">`, `<section id="plots">`)
	assert.Contains(t, anomalies, `(13 of 13)`)
	assert.Contains(t, anomalies, `(showing 10 of 14)`)
	assert.Contains(t, anomalies, "[3 missing]")
	lin := openPage(t, fileURL(filepath.Join(dir, LinearizationFile)), "", 0, 0, 0)
	assert.Empty(t, lin.Console)
	assert.Contains(t, lin.DOM, "This is a set workload")
	assert.NotContains(t, lin.DOM, "<script", "no register view for a set")
}

func TestBrowserCompare(t *testing.T) {
	chromiumPath(t)
	art := artifactDir(t)
	dir := t.TempDir()
	c := sampleComparison()
	SortCells(c.Cells)
	c.Cells[0].Nemesis = `<img src=x onerror=alert(1)>`
	require.NoError(t, WriteCompare(dir, c))
	res := openPage(t, fileURL(filepath.Join(dir, CompareHTMLFile)), filepath.Join(art, "compare.png"), 1400, 800, 0)
	assert.Empty(t, res.Console, "compare.html logs nothing to the console")
	assert.NotRegexp(t, `<img[^>]*onerror`, res.DOM)
	assert.Equal(t, len(c.Cells), strings.Count(res.DOM, `<span class="promise">promised</span>`), "one promised model per row")
	assert.Contains(t, res.DOM, `#checker-linearizable"`, "cells link to their anomalies")
}

func TestBrowserHostileStringsStayInert(t *testing.T) {
	chromiumPath(t)
	art := artifactDir(t)
	dir := t.TempDir()
	hostileRun(t, dir)
	require.NoError(t, WriteReports(context.Background(), dir))

	for _, page := range []string{ReportFile, LinearizationFile, WindowsDir + "/fault-2.html", WindowsDir + "/anomaly-1.html"} {
		t.Run(strings.ReplaceAll(page, "/", "_"), func(t *testing.T) {
			shot, budget := filepath.Join(art, strings.ReplaceAll(page, "/", "_")+".png"), time.Duration(0)
			if page == LinearizationFile {
				shot, budget = "", 5*time.Second // Porcupine draws from script
			}
			res := openPage(t, fileURL(filepath.Join(dir, page)), shot, 1400, 2400, budget)
			assert.Empty(t, res.Console, "no script ran, no error was logged")
			assert.NotRegexp(t, `<img[^>]*onerror`, res.DOM, "a recorded string became an element")
			assert.NotContains(t, res.DOM, "<script>alert", "a recorded string became a script")
			if page == ReportFile {
				assert.NotContains(t, res.DOM, "<script", "report.html has no script at all")
				assert.Contains(t, res.DOM, "&lt;script&gt;alert(1)&lt;/script&gt;", "the key is shown as text")
				assert.Contains(t, res.DOM, "&lt;script&gt;alert(3)&lt;/script&gt; #1", "the fault is an SVG label, as text")
				assert.Contains(t, res.DOM, `"&gt;&lt;img src=x onerror=alert(2)&gt;`, "values and node names are shown as text")
			}
		})
	}
}

func TestBrowserServeIndex(t *testing.T) {
	chromiumPath(t)
	art := artifactDir(t)
	ts := startServer(t, runsFixture(t))

	res := openPage(t, ts.URL+"/", filepath.Join(art, "index.png"), 1400, 700, 0)
	assert.Empty(t, res.Console, "the index logs nothing to the console")
	assert.Equal(t, 3, strings.Count(res.DOM, `<tr class="run">`))
	assert.Contains(t, res.DOM, "<strong>stale-reads</strong>")
	assert.Contains(t, res.DOM, `compare.html">compare-`)
	for _, v := range []string{`class="badge invalid">invalid`, `class="badge valid">valid`, `class="badge none">not checked`} {
		assert.Contains(t, res.DOM, v)
	}
	// A report opened from the index, over HTTP, under the server's CSP.
	rep := openPage(t, ts.URL+"/runs/latest/report.html", "", 0, 0, 0)
	assert.Empty(t, rep.Console)
	assert.Contains(t, rep.DOM, `class="badge big invalid">invalid</span>`)
}
