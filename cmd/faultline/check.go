package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// newCheckCmd is `faultline check`: re-check a recorded history.
func newCheckCmd() *cobra.Command {
	var (
		models  string
		timeout time.Duration
		memory  = byteSize(checkers.DefaultSearchMemory)
		asJSON  bool
		format  string
	)
	cmd := &cobra.Command{
		Use:   "check [--model linearizable|causal|causal+|eventual|set[,...]] [--timeout D] [--search-memory SIZE] [--json] [--format jsonl|edn] <run-dir | history.jsonl | history.edn>",
		Short: "Check a recorded history against consistency models",
		Long: `check reads a history (a run directory's history.jsonl, or any history.jsonl)
and checks it against the named models, or, without --model, the checkers the
run's test.json names. A run directory gets its results.json updated.
A Jepsen history.edn (or a Jepsen store directory holding one) is read with
Knossos's meaning of each operation; the format is told from the content,
or given with --format.

Exit code: 0 valid, 1 invalid, 2 unknown, 3 the input could not be read,
130 interrupted (SIGINT, SIGTERM or SIGHUP: the check stops, prints what it has,
and leaves results.json as it was). A run whose test.json says it was
interrupted has a partial history: valid on it is unknown (exit 2), invalid
stays invalid.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("check takes one argument, a run directory or a history.jsonl file (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonNegative("--timeout", timeout, "no bound", "10m"); err != nil {
				return err
			}
			return runCheck(cmd, args[0], models, checkers.Options{Timeout: timeout, SearchMemory: int64(memory)}, asJSON, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&models, "model", "", "checkers to run, comma-separated: "+strings.Join(checkers.Names, ", ")+" (default: the run's test.json \"checkers\")")
	f.DurationVar(&timeout, "timeout", 0, "bound on the linearizability search (0 = none); a timeout gives unknown, never valid")
	f.Var(&memory, "search-memory", "bound on the linearizability search's memory; a key whose search would pass it is unknown, with the reason")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON (results.json's format)")
	f.StringVar(&format, "format", "", "the history's format, jsonl or edn (default: told from the content)")
	return cmd
}

// checkGCPercent is the garbage collector's target while check runs
// (GOGC, when set, wins). On checkbench's 75,000-event history the peak
// RSS of faultline check --model linearizable was 52 MiB at 100 and 48 MiB
// at 50, with the same CPU time within the noise (make bench-check).
const checkGCPercent = 50

// checkInputError is an input that cannot be read: exit 3.
func checkInputError(err error) error { return &exitError{code: 3, err: err} }

func runCheck(cmd *cobra.Command, arg, models string, opts checkers.Options, asJSON bool, format string) error {
	surviveBrokenPipe() // a closed stdout must not cost results.json
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if os.Getenv("GOGC") == "" {
		// check holds the whole history from start to end and builds each
		// key's search on top of it: collecting when the heap has grown
		// by half of what is live, not all of it, keeps the peak near
		// what is held, for a little more CPU (see checkGCPercent).
		defer debug.SetGCPercent(debug.SetGCPercent(checkGCPercent))
	}
	histPath, isRunDir, err := historyPath(arg)
	if err != nil {
		return checkInputError(err)
	}
	runDir := ""
	if isRunDir {
		runDir = arg
	}
	names, err := checkCheckerNames(models, filepath.Dir(histPath), runDir != "")
	if err != nil {
		return checkInputError(err)
	}
	rr, err := readHistory(histPath, format)
	if err != nil {
		var le *history.LineError
		if errors.As(err, &le) {
			return checkInputError(fmt.Errorf("malformed history: %w", err))
		}
		return checkInputError(err)
	}
	for _, w := range rr.Warnings {
		fmt.Fprintln(stderr, "faultline: warning:", w)
	}
	ctx, interrupted, stop := checkSignals(cmd.Context())
	defer stop()
	sum, err := checkers.CheckAll(ctx, rr.Events, names, opts)
	if err != nil {
		return checkInputError(err)
	}
	if sig := interrupted(); sig != "" {
		// A cancelled check proves nothing about what it did not finish:
		// say so, keep results.json as it was (an earlier, finished check
		// must not be replaced by a cut-short one), and never exit 0.
		msg := fmt.Sprintf("interrupted (%s): the check was cancelled, so what it did not finish is unknown; results.json not updated; exit code %d whatever the verdict", sig, exitInterrupted)
		if asJSON {
			// stdout stays JSON; the news goes to stderr.
			if err := printCheckJSON(stdout, sum); err != nil {
				fmt.Fprintln(stderr, "faultline:", err)
			}
			fmt.Fprintln(stderr, "faultline:", msg)
		} else {
			printCheckSummary(stdout, sum, len(rr.Events))
			fmt.Fprintln(stdout, msg)
		}
		return &exitError{code: exitInterrupted}
	}
	if testJSONInterrupted(filepath.Dir(histPath)) {
		// A stopped run's history is partial (no final reads, perhaps a
		// fault never healed): valid on it says nothing of the run asked
		// for, so it is unknown; an anomaly found in it is real.
		sum = partialVerdict(sum)
		msg := "the run was interrupted (test.json): its history is partial, so a valid verdict on it is unknown"
		if asJSON {
			fmt.Fprintln(stderr, "faultline:", msg)
		} else {
			fmt.Fprintln(stdout, msg)
		}
	}
	if runDir != "" {
		if err := checkUpdateResults(filepath.Join(runDir, "results.json"), sum); err != nil {
			// The verdict stands; say why results.json was left as it was.
			fmt.Fprintln(stderr, "faultline: warning:", err)
		}
	}
	if asJSON {
		if err := printCheckJSON(stdout, sum); err != nil {
			return checkInputError(err)
		}
	} else {
		printCheckSummary(stdout, sum, len(rr.Events))
	}
	if code := sum.Valid.ExitCode(); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// checkSignals returns a context that SIGINT, SIGTERM or SIGHUP cancels, as run
// does: the first signal stops the check (the search notices the context);
// after it, the signals are no longer caught, so a second one kills the
// process at once. interrupted names the signal that came ("" if none);
// stop releases the signals.
func checkSignals(parent context.Context) (ctx context.Context, interrupted func() string, stop func()) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	surviveBrokenPipe()
	signal.Notify(sigs, stopSignals...)
	var got atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case sig := <-sigs:
			got.Store(signalName(sig))
			signal.Stop(sigs)
			cancel()
		case <-ctx.Done():
		}
	}()
	interrupted = func() string {
		s, _ := got.Load().(string)
		return s
	}
	stop = func() {
		signal.Stop(sigs)
		cancel()
		<-done
	}
	return ctx, interrupted, stop
}

// partialReason is the reason of a verdict on an interrupted run's history.
const partialReason = "the run was interrupted: its history is partial"

// testJSONInterrupted reports whether dir's test.json says its run was
// interrupted (false when there is none, or it cannot be read: the
// checkers' names come from it and say what is wrong with it).
func testJSONInterrupted(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "test.json"))
	if err != nil {
		return false
	}
	var meta struct {
		Interrupted bool `json:"interrupted"`
	}
	return json.Unmarshal(b, &meta) == nil && meta.Interrupted
}

// partialVerdict is sum judged as a verdict on a partial history: valid
// becomes unknown, invalid and unknown stay as they are.
func partialVerdict(sum checkers.Summary) checkers.Summary {
	out := checkers.Summary{Valid: sum.Valid, Results: slices.Clone(sum.Results)}
	for i, r := range out.Results {
		if r.Valid == checkers.Valid {
			out.Results[i].Valid, out.Results[i].Reason = checkers.Unknown, partialReason
		}
	}
	if out.Valid == checkers.Valid {
		out.Valid = checkers.Unknown
	}
	return out
}

// printCheckJSON writes sum as results.json's JSON.
func printCheckJSON(w io.Writer, sum checkers.Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sum); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// checkCheckerNames are the checkers --model names, or else those test.json
// (in dir) names.
func checkCheckerNames(models, dir string, isRunDir bool) ([]string, error) {
	if models != "" {
		var names []string
		for _, n := range strings.Split(models, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if _, err := checkers.New(n, checkers.Options{}); err != nil {
				return nil, fmt.Errorf("--model: %w", err)
			}
			names = append(names, n)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("--model names no checker: give one or more of %s", strings.Join(checkers.Names, ", "))
		}
		return names, nil
	}
	path := filepath.Join(dir, "test.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		what := "this history has no test.json beside it"
		if isRunDir {
			what = "the run directory has no test.json"
		}
		return nil, fmt.Errorf("%s naming its checkers, so --model is needed: one or more of %s, comma-separated", what, strings.Join(checkers.Names, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("read test.json: %w", err)
	}
	var meta struct {
		Checkers []string `json:"checkers"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (%v); fix it, or pass --model", path, err)
	}
	if len(meta.Checkers) == 0 {
		return nil, fmt.Errorf("%s names no checkers (\"checkers\": [...]), so --model is needed: one or more of %s", path, strings.Join(checkers.Names, ", "))
	}
	for _, n := range meta.Checkers {
		if _, err := checkers.New(n, checkers.Options{}); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return meta.Checkers, nil
}

// checkUpdateResults merges sum into the results.json at path: the checkers
// just run replace their earlier results, the others are kept, and the
// combined verdict is recomputed. It writes atomically (temp file and
// rename), and never overwrites a results.json it cannot parse.
func checkUpdateResults(path string, sum checkers.Summary) error {
	merged := sum
	if b, err := os.ReadFile(path); err == nil {
		var old checkers.Summary
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s was not updated: it is not a valid results file (%v); move it away to let check write a new one", path, err)
		}
		ran := map[string]bool{}
		for _, r := range sum.Results {
			ran[r.Checker] = true
		}
		merged = checkers.Summary{}
		for _, r := range old.Results {
			if !ran[r.Checker] {
				merged.Results = append(merged.Results, r)
			}
		}
		merged.Results = append(merged.Results, sum.Results...)
		merged.Valid = checkers.Valid
		for _, r := range merged.Results {
			merged.Valid = merged.Valid.Merge(r.Valid)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	b, err := json.MarshalIndent(merged, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".results-*.json")
	if err != nil {
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s was not updated: %w", path, err)
	}
	return nil
}

// printCheckSummary writes a short human summary: per checker the verdict, the
// anomaly names with counts, and the first anomaly's explanation.
func printCheckSummary(w io.Writer, sum checkers.Summary, events int) {
	for _, r := range sum.Results {
		fmt.Fprintf(w, "%-13s %s", r.Checker, r.Valid)
		if len(r.Anomalies) > 0 {
			fmt.Fprintf(w, "  %s", checkAnomalyCounts(r.Anomalies, r.Counts))
		}
		fmt.Fprintln(w)
		switch {
		case len(r.Anomalies) > 0:
			a := r.Anomalies[0]
			fmt.Fprintf(w, "  %s", a.Name)
			if a.Guarantee != "" {
				fmt.Fprintf(w, " (%s)", a.Guarantee)
			}
			fmt.Fprintf(w, ": %s\n", a.Explanation)
			if len(a.Ops) > 0 {
				fmt.Fprintf(w, "  witness events: %s\n", checkJoinInts(a.Ops))
			}
		case r.Valid == checkers.Unknown:
			fmt.Fprintf(w, "  why: %s\n", r.Reason)
		}
		if len(r.Info) > 0 {
			fmt.Fprintf(w, "  info (not failures; counts of those listed): %s\n", checkAnomalyCounts(r.Info, nil))
		}
	}
	fmt.Fprintf(w, "overall: %s (%d events)\n", sum.Valid, events)
}

// checkAnomalyCounts is "WriteCORead ×3, ThinAirRead ×1", using the checker's
// totals where it counted more than it listed.
func checkAnomalyCounts(as []checkers.Anomaly, counts map[string]int) string {
	var order []string
	n := map[string]int{}
	for _, a := range as {
		if n[a.Name] == 0 {
			order = append(order, a.Name)
		}
		n[a.Name]++
	}
	parts := make([]string, len(order))
	for i, name := range order {
		c := n[name]
		if counts[name] > c {
			c = counts[name]
		}
		parts[i] = fmt.Sprintf("%s ×%d", name, c)
	}
	return strings.Join(parts, ", ")
}

func checkJoinInts(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " ")
}
