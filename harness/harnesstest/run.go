package harnesstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/backends"
)

// RunsDirEnv names the environment variable that sets where Run keeps run
// directories. Unset, runs go to <tmp>/faultline-runs and the directory of
// a test that passes is removed when it ends.
const RunsDirEnv = "FAULTLINE_RUNS_DIR"

// Run runs test as a Go test: it runs it with harness.Run (on t's
// context, ended a little before the test's deadline so that what was
// recorded is still checked), logs the run directory with t.Log, and
// fails t — with the verdicts, anomaly counts and the first anomalies'
// explanations — when a verdict differs from want, when the harness or
// the cluster failed, when no operation succeeded (a verdict on
// nothing proves nothing), or when the run was interrupted (by the
// test's deadline, say: a verdict on part of a run never passes). A run whose cluster did not start is tried
// once more (nothing ran, so no verdict is replaced), and the retry is
// logged.
//
// test.System must be set (harness/reftest.Run sets it for the reference
// store); test.Backend nil means the one $FAULTLINE_BACKEND names (local
// or docker; harness/backends.FromEnv), else local. test.Seed 0 means: seed 1, so that a suite is
// reproducible; under -short the run is scaled down (harness.ShortFactor).
// The checkers run are those of harness.PrepareT. The logger, unless set,
// writes warnings and errors to t.Log.
func Run(t testing.TB, test harness.Test, want harness.Expect) harness.RunResult {
	t.Helper()
	if test.System == nil {
		t.Fatalf("harnesstest.Run: Test.System must be set (use harness/reftest.Run for the reference store)")
	}
	if test.Backend == nil {
		b, err := backends.FromEnv(context.Background(), "local", backends.Options{})
		if err != nil {
			t.Fatalf("harnesstest.Run: %v", err)
		}
		test.Backend = b
		if c, ok := b.(io.Closer); ok { // docker's holds a client of the daemon
			t.Cleanup(func() { c.Close() })
		}
	}
	if len(want) == 0 {
		t.Fatalf("harnesstest.Run: no expectation: say which checkers must be valid or invalid, e.g. harness.Expect{\"linearizable\": checkers.Valid}")
	}
	test = harness.PrepareT(test, want, testing.Short())
	known := slices.Clone(checkers.Names)
	for _, c := range test.Checkers {
		if !slices.Contains(known, c.Name()) {
			known = append(known, c.Name())
		}
	}
	for name := range want {
		if !slices.Contains(known, name) {
			t.Fatalf("harnesstest.Run: Expect names unknown checker %q: the checkers are %s", name, strings.Join(known, ", "))
		}
	}
	keep := test.RunsDir != ""
	if test.RunsDir == "" {
		if d := os.Getenv(RunsDirEnv); d != "" {
			test.RunsDir, keep = d, true
		} else {
			test.RunsDir = filepath.Join(os.TempDir(), "faultline-runs")
		}
	}
	logw := &tbWriter{t: t}
	t.Cleanup(logw.stop)
	if test.Logger == nil {
		test.Logger = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	ctx := context.Background()
	if c, ok := t.(interface{ Context() context.Context }); ok {
		ctx = c.Context()
	}
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, has := dl.Deadline(); has {
			// Leave time to stop the cluster and check the history.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Until(d)/10-30*time.Second))
			defer cancel()
		}
	}
	res, err := harness.Run(ctx, test)
	if err != nil && startFailed(res, err) && ctx.Err() == nil {
		// The cluster did not start (nothing ran, no verdict exists): a
		// port taken between the backend's pick and the node's bind, say.
		// Try once more; the failed attempt's directory shows why.
		t.Logf("the cluster did not start, retrying once: %v (run directory %s)", err, res.Dir)
		if !keep && res.Dir != "" {
			failedDir, runs := res.Dir, test.RunsDir
			t.Cleanup(func() {
				if !t.Failed() {
					removeRun(runs, failedDir)
				}
			})
		}
		res, err = harness.Run(ctx, test)
	}
	if res.Dir != "" {
		t.Logf("run directory: %s (%s backend, seed %d, %d ops invoked: %d ok, %d fail, %d info)",
			res.Dir, res.Backend, res.Seed, res.Invoked, res.OK, res.Fail, res.Info)
		if !keep {
			dir := res.Dir
			runs := test.RunsDir
			t.Cleanup(func() {
				if !t.Failed() {
					removeRun(runs, dir)
				}
			})
		}
	}
	if res.Interrupted {
		// Say who cut it short and what to do: the test's deadline (go
		// test -timeout, 10m by default) is the usual cause.
		why := "its context ended"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = "the test's deadline (Run stops it a little before, to check what was recorded)"
		}
		failed := ""
		if err != nil {
			failed = fmt.Sprintf("\nthe run also failed: %v", err)
		}
		t.Fatalf("%s: it was cut short by %s; raise go test -timeout or shorten the test (TimeLimit, the nemesis)%s\nrun directory: %s",
			Judge(res, want), why, failed, res.Dir)
	}
	if err != nil && res.Dir == "" {
		t.Fatalf("harnesstest.Run: the run did not start (nothing ran): %v", err)
	}
	if err != nil {
		t.Fatalf("harnesstest.Run: the run failed: %v", err)
	}
	for _, r := range res.Summary.Results {
		if _, named := want[r.Checker]; !named {
			line := fmt.Sprintf("%s: %s (not in Expect, not judged)", r.Checker, r.Valid)
			if len(r.Anomalies) > 0 {
				line += ": " + AnomalyCounts(r)
			}
			t.Log(line)
		}
	}
	if msg := Judge(res, want); msg != "" {
		t.Fatalf("%s\nrun directory: %s", msg, res.Dir)
	}
	return res
}

// startFailed reports whether harness.Run failed to start the cluster,
// before any operation.
func startFailed(res harness.RunResult, err error) bool {
	return res.Invoked == 0 && strings.HasPrefix(err.Error(), "start the cluster: ")
}

// removeRun removes the run directory dir, its test's directory when
// that is left empty, and runs/latest when it pointed at dir.
func removeRun(runs, dir string) {
	os.RemoveAll(dir)
	os.Remove(filepath.Dir(dir)) // only if empty
	latest := filepath.Join(runs, "latest")
	if target, err := os.Readlink(latest); err == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(runs, target)
		}
		if filepath.Clean(target) == filepath.Clean(dir) {
			os.Remove(latest)
		}
	}
}

// Judge compares res with want and returns "" when every expectation is
// met, else a message saying, for each checker, what was expected, what
// was found and why (anomaly counts by name and the first explanations).
//
// An interrupted run fails whatever its verdicts: its history is partial
// (the main phase cut short, no final reads), and a verdict on part of a
// run is not one on the run that was asked for.
func Judge(res harness.RunResult, want harness.Expect) string {
	if res.Interrupted {
		msg := fmt.Sprintf("the run was interrupted at %s of its %s TimeLimit, so its history is partial (%d ops invoked, %d ok) and no verdict on it counts",
			res.MainPhase.Round(100*time.Millisecond), res.TimeLimit.Round(100*time.Millisecond), res.Invoked, res.OK)
		if v := verdicts(res); v != "" {
			msg += "; the partial history's verdicts: " + v
		}
		return msg
	}
	if !res.Checked {
		why := "the history was not checked"
		if res.CheckErr != nil {
			why += ": " + res.CheckErr.Error()
		}
		return "verdict unknown: " + why
	}
	if res.OK == 0 {
		return fmt.Sprintf("no operation succeeded (%d invoked, %d fail, %d info): a verdict on such a history proves nothing", res.Invoked, res.Fail, res.Info)
	}
	var b strings.Builder
	found := map[string]bool{}
	for _, r := range res.Summary.Results {
		found[r.Checker] = true
		exp, named := want[r.Checker]
		if !named || r.Valid == exp {
			continue
		}
		fmt.Fprintf(&b, "%s: expected %s, got %s\n", r.Checker, exp, r.Valid)
		if r.Reason != "" {
			fmt.Fprintf(&b, "  reason: %s\n", r.Reason)
		}
		if len(r.Anomalies) > 0 {
			fmt.Fprintf(&b, "  anomalies: %s\n", AnomalyCounts(r))
			for i, a := range r.Anomalies {
				if i == 3 {
					fmt.Fprintf(&b, "  ... and %d more\n", len(r.Anomalies)-3)
					break
				}
				fmt.Fprintf(&b, "  - %s%s: %s\n", a.Name, keysText(a.Keys), truncateText(a.Explanation, 400))
			}
		}
	}
	for name, exp := range want {
		if !found[name] {
			fmt.Fprintf(&b, "%s: expected %s, but the checker did not run\n", name, exp)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// verdicts lists res's verdicts, "linearizable valid, causal invalid".
func verdicts(res harness.RunResult) string {
	if !res.Checked {
		return ""
	}
	parts := make([]string, len(res.Summary.Results))
	for i, r := range res.Summary.Results {
		parts[i] = fmt.Sprintf("%s %s", r.Checker, r.Valid)
	}
	return strings.Join(parts, ", ")
}

// AnomalyCounts formats a result's anomalies as "name×count, ..." sorted
// by name.
func AnomalyCounts(r checkers.Result) string {
	counts := map[string]int{}
	for _, a := range r.Anomalies {
		counts[a.Name]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s×%d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

func keysText(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return " (" + truncateText(strings.Join(keys, ", "), 80) + ")"
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// tbWriter writes log lines to t.Log until stop (t.Log after the test
// ends would panic).
type tbWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

var _ io.Writer = (*tbWriter)(nil)

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() { w.mu.Lock(); w.stopped = true; w.mu.Unlock() }
