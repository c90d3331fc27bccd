package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/backends"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/results"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/systems/etcd"
	"github.com/faultline/faultline/workloads"
)

type compareFlags struct {
	modes, workloads, nemeses, backend, out, from, storenode, format string
	timeLimit, nemesisInterval, checkTimeout                         time.Duration
	concurrency, nodes                                               int
	seed                                                             int64
	jsonOut                                                          bool
	systems                                                          string
	etcd                                                             etcdFlags
}

func newCompareCmd() *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Run every mode under every nemesis and compare what each model's checker says",
		Long: `compare runs the matrix mode × nemesis × workload against the reference store
(or, with --from, reads run directories made earlier), checks every cell's
history against every consistency model — linearizable, causal+, causal,
eventual — whatever the mode promises, and writes compare.html and
compare.json beside the runs plus a table on stdout: the verdict of each
model with its anomalies by name, throughput and latency p50/p99.

--nemeses is a comma list of cells: a fault (partition, kill, pause, clock,
packet), none, all, or faults joined with + (partition+kill). Seeds are
chosen so that the nemesis draws only packet faults the backend can apply
(local: delay and loss; docker: loss, as it may lack netem).

Exit codes: 0 the matrix ran (its verdicts are data, not failures), 3 a
cell's run failed or bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCompare(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.systems, "systems", "store", "systems to compare: comma list of store (the reference store, one row per --modes mode) and etcd (rows etcd-linearizable and etcd-serializable: linearizable and serializable reads)")
	fl.StringVar(&f.modes, "modes", "strong,causal,eventual", "modes of the reference store to compare")
	addEtcdFlags(fl, &f.etcd)
	fl.StringVar(&f.workloads, "workloads", "kv", "workloads: comma list of register, kv (the models check register histories)")
	fl.StringVar(&f.nemeses, "nemeses", "none,partition,kill,pause,clock,packet,all", "nemesis cells: comma list of a fault, none, all, or faults joined with +")
	fl.DurationVar(&f.timeLimit, "time-limit", 30*time.Second, "main phase of each run")
	fl.DurationVar(&f.nemesisInterval, "nemesis-interval", 5*time.Second, "mean time between fault changes")
	fl.IntVar(&f.concurrency, "concurrency", 10, "client workers per run")
	fl.IntVar(&f.nodes, "nodes", 3, "nodes per cluster")
	fl.Int64Var(&f.seed, "seed", 1, "seed the search for each cell's seed starts from")
	fl.StringVar(&f.backend, "backend", "", "docker or local (default: docker when a Docker daemon answers, else local)")
	fl.StringVar(&f.out, "out", "runs", "directory under which the comparison's directory (compare-<time>) is made")
	fl.StringVar(&f.from, "from", "", "compare the run directories under this directory instead of running (writes compare.html there)")
	fl.StringVar(&f.storenode, "storenode", "", "path of the storenode binary (default: next to faultline, then ./bin/storenode, then PATH)")
	fl.StringVar(&f.format, "format", "text", "table format on stdout: text or markdown")
	fl.BoolVar(&f.jsonOut, "json", false, "print compare.json to stdout instead of the table")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 2*time.Minute, "bound on each linearizability check (0: none; past it the verdict is unknown)")
	return cmd
}

// compareCellSpec is one cell to run.
type compareCellSpec struct {
	mode, workload, nemesis string
	// etcd cells run etcd (mode is then its row label) with linearizable
	// or serializable reads.
	etcd, serializable bool
}

func parseList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// parseCompareCells validates the flags and returns the matrix.
func parseCompareCells(f compareFlags) ([]compareCellSpec, error) {
	modes := parseList(f.modes)
	if len(modes) == 0 {
		return nil, usageErr("--modes: name at least one of strong, causal, eventual")
	}
	for _, m := range modes {
		if _, err := store.ParseMode(m); err != nil {
			return nil, usageErr("--modes: %w", err)
		}
	}
	wls := parseList(f.workloads)
	if len(wls) == 0 {
		return nil, usageErr("--workloads: name at least one of register, kv")
	}
	for _, w := range wls {
		if _, err := workloads.New(w, workloads.Options{}); err != nil {
			return nil, usageErr("--workloads: %w", err)
		}
		if w == "set" {
			return nil, usageErr("--workloads: the set workload has no register history for the consistency models to check: use register or kv")
		}
	}
	nems := parseList(f.nemeses)
	if len(nems) == 0 {
		return nil, usageErr("--nemeses: name at least one cell (none, all, a fault, or faults joined with +)")
	}
	systems := parseList(f.systems)
	if len(systems) == 0 {
		return nil, usageErr("--systems: name at least one of store, etcd")
	}
	for _, s := range systems {
		if err := checkSystem(s); err != nil {
			return nil, usageErr("--systems: unknown system %q: valid systems are store and etcd", s)
		}
	}
	if !slices.Contains(systems, "store") {
		modes = nil
	}
	var cells []compareCellSpec
	if slices.Contains(systems, "etcd") {
		for _, ser := range []bool{false, true} {
			for _, n := range nems {
				fs, err := nemesis.ParseSpec(strings.ReplaceAll(n, "+", ","))
				if err != nil {
					return nil, usageErr("--nemeses: cell %q: %w (join several faults with +, e.g. partition+kill)", n, err)
				}
				if n != "all" && slices.Contains(fs, "clock") {
					continue // etcd has no clock API (etcdFaults)
				}
				for _, w := range wls {
					cells = append(cells, compareCellSpec{mode: etcdModeLabel(ser), workload: w, nemesis: n, etcd: true, serializable: ser})
				}
			}
		}
	}
	for _, m := range modes {
		for _, n := range nems {
			if _, err := nemesis.ParseSpec(strings.ReplaceAll(n, "+", ",")); err != nil {
				return nil, usageErr("--nemeses: cell %q: %w (join several faults with +, e.g. partition+kill)", n, err)
			}
			for _, w := range wls {
				cells = append(cells, compareCellSpec{mode: m, workload: w, nemesis: n})
			}
		}
	}
	switch {
	case f.timeLimit <= 0:
		return nil, usageErr("--time-limit must be positive, like 30s, not %s", f.timeLimit)
	case f.nemesisInterval <= 0:
		return nil, usageErr("--nemesis-interval must be positive, like 5s, not %s", f.nemesisInterval)
	case f.concurrency < 1:
		return nil, usageErr("--concurrency must be at least 1, not %d", f.concurrency)
	case f.nodes < 1:
		return nil, usageErr("--nodes must be at least 1, not %d", f.nodes)
	case f.format != "text" && f.format != "markdown":
		return nil, usageErr("--format: unknown format %q: valid formats are text and markdown", f.format)
	case f.backend != "" && !slices.Contains(backends.Names, f.backend):
		return nil, usageErr("--backend: unknown backend %q: valid backends are %s", f.backend, strings.Join(backends.Names, ", "))
	}
	return cells, nil
}

func runCompare(cmd *cobra.Command, f compareFlags) error {
	stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	surviveBrokenPipe()
	ctx, stop := signal.NotifyContext(cmd.Context(), stopSignals...)
	defer stop()

	var (
		cmp    results.Comparison
		dir    string
		runErr error
	)
	if err := nonNegative("--check-timeout", f.checkTimeout, "no bound", "2m"); err != nil {
		return err // before either path: --from checks too
	}
	if f.from != "" {
		if f.format != "text" && f.format != "markdown" {
			return usageErr("--format: unknown format %q: valid formats are text and markdown", f.format)
		}
		st, err := os.Stat(f.from)
		if err != nil || !st.IsDir() {
			return usageErr("--from %q: not a directory (give a directory of run directories, e.g. runs/compare-...)", f.from)
		}
		dir = f.from
		cmp, err = compareFrom(ctx, f.from, f.checkTimeout, log)
		if err != nil {
			return &exitError{code: 3, err: err}
		}
	} else {
		cells, err := parseCompareCells(f)
		if err != nil {
			return err
		}
		var bin string
		var etcdBin etcd.Binary
		for _, c := range cells {
			if c.etcd && etcdBin.Path == "" {
				if etcdBin, err = etcdBinary(ctx, f.etcd, log); err != nil {
					return err
				}
			}
			if !c.etcd && bin == "" {
				if bin, err = findStorenode(f.storenode); err != nil {
					return &exitError{code: 3, err: err}
				}
			}
		}
		backend, err := compareBackend(ctx, f.backend, log)
		if err != nil {
			return err
		}
		dir = filepath.Join(f.out, "compare-"+time.Now().UTC().Format("20060102T150405Z"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &exitError{code: 3, err: fmt.Errorf("--out: create %s: %w", dir, err)}
		}
		cmp, runErr = compareRun(ctx, f, cells, bin, etcdBin, backend, dir, log)
	}
	cmp.Command = strings.Join(os.Args, " ")
	cmp.Generated = time.Now()
	results.SortCells(cmp.Cells)
	if err := results.WriteCompare(dir, cmp); err != nil {
		return &exitError{code: 3, err: err}
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cmp); err != nil {
			return err
		}
	} else {
		if err := cmp.WriteTable(stdout, f.format); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%s\n", filepath.Join(dir, results.CompareHTMLFile))
	}
	if ctx.Err() != nil {
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: the comparison is of the cells run so far (%w)", errors.Join(runErr, ctx.Err()))}
	}
	if runErr != nil {
		return &exitError{code: 3, err: runErr}
	}
	return nil
}

func compareBackend(ctx context.Context, name string, log *slog.Logger) (harness.Backend, error) {
	b, err := backends.New(ctx, name, backends.Options{Logger: log, Available: dockerAvailable,
		Hint: "use --backend local to run nodes as local processes"})
	if err != nil {
		return nil, &exitError{code: 3, err: err}
	}
	return b, nil
}

// compareRun runs every cell in turn and collects the comparison. A cell
// whose run fails keeps what it recorded, says why in its Err, and the
// matrix goes on; the error returned joins every cell's.
func compareRun(ctx context.Context, f compareFlags, cells []compareCellSpec, bin string, etcdBin etcd.Binary, backend harness.Backend, dir string, log *slog.Logger) (results.Comparison, error) {
	cmp := results.Comparison{Models: results.CompareModels}
	var errs []error
	for i, c := range cells {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("interrupted before %s × %s × %s", c.mode, c.nemesis, c.workload))
			break
		}
		var sys harness.System
		options := map[string]any{"mode": c.mode, "faults": []string{}, "storenode": bin, "compare": true}
		if c.etcd {
			es, err := newEtcdSystem(etcdBin, f.etcd, c.serializable)
			if err != nil {
				return cmp, err
			}
			sys, options = es, es.Options()
			options["compare"] = true
		} else {
			rs, err := refstore.New(bin, store.Mode(c.mode), nil)
			if err != nil {
				return cmp, err
			}
			sys = rs
		}
		nem, _ := nemesis.ParseSpec(strings.ReplaceAll(c.nemesis, "+", ","))
		if c.etcd {
			nem = etcdFaults(nem)
		}
		wl, err := workloads.New(c.workload, workloads.Options{})
		if err != nil {
			return cmp, err
		}
		cs, err := checkers.NewAll(results.CompareModels, checkers.Options{Timeout: f.checkTimeout})
		if err != nil {
			return cmp, err
		}
		t := harness.Test{
			Name:   fmt.Sprintf("%s-%s-%s", c.mode, c.workload, c.nemesis),
			System: sys, Backend: backend,
			Workload: wl, Nemesis: nemesis.New(nemesis.Config{Faults: nem, Interval: f.nemesisInterval}),
			Nodes: f.nodes, Concurrency: f.concurrency, TimeLimit: f.timeLimit,
			RunsDir: dir, Checkers: cs,
			Options: options,
			Logger:  log,
		}
		seed, err := harness.PickSeed(t, f.seed, harness.SupportedBy(backend.Name(), false))
		if err != nil {
			return cmp, err
		}
		t.Seed = seed
		log.Info("compare: running", "cell", fmt.Sprintf("%d/%d", i+1, len(cells)), "mode", c.mode, "nemesis", c.nemesis, "workload", c.workload, "seed", seed)
		res, err := harness.Run(ctx, t)
		cell := results.CompareCell{Mode: c.mode, Nemesis: c.nemesis, Workload: c.workload, Backend: res.Backend, Seed: seed,
			Promised: promisedBy(sys)}
		if err != nil {
			cell.Err = err.Error()
			errs = append(errs, fmt.Errorf("%s × %s × %s: %w", c.mode, c.nemesis, c.workload, err))
		}
		if res.Interrupted && cell.Err == "" {
			cell.Err = "interrupted: the verdicts are of what was recorded, without the final reads"
		}
		if res.Dir != "" {
			fillCell(context.WithoutCancel(ctx), &cell, dir, res.Dir, log)
		}
		if res.Checked {
			cell.Verdicts = results.VerdictsOf(res.Summary, results.CompareModels)
		} else if res.CheckErr != nil && cell.Err == "" {
			cell.Err = res.CheckErr.Error()
		}
		cmp.Cells = append(cmp.Cells, cell)
	}
	return cmp, errors.Join(errs...)
}

// promisedBy is the model sys promises ("" when it does not say).
func promisedBy(sys harness.System) string {
	if p, ok := sys.(harness.Promiser); ok {
		return p.Promise().Model
	}
	return ""
}

// promisedIn is the promised model a run's test.json records, else (runs
// recorded before test.json said) the one the store's mode promises.
func promisedIn(meta map[string]any) string {
	if p, ok := meta["promised"].(string); ok {
		return p
	}
	mode, _ := meta["mode"].(string)
	return workloads.Models[mode]
}

// fillCell measures the cell's history and writes its report.html.
func fillCell(ctx context.Context, cell *results.CompareCell, root, runDir string, log *slog.Logger) {
	cell.Dir = runDir
	if rel, err := filepath.Rel(root, filepath.Join(runDir, results.ReportFile)); err == nil {
		cell.Report = filepath.ToSlash(rel)
	}
	h, err := history.ReadFile(filepath.Join(runDir, results.HistoryFile))
	if err != nil {
		if cell.Err == "" {
			cell.Err = err.Error()
		}
		return
	}
	cell.OK, cell.Fail, cell.Info, cell.OpsPerSec, cell.P50, cell.P99 = results.CellStats(h.Events)
	if err := results.WriteReports(ctx, runDir); err != nil {
		log.Warn("compare: could not write the cell's report", "dir", runDir, "err", err)
	}
}

// compareFrom builds the comparison from the run directories under root:
// the latest run of each mode × nemesis × workload, checked against every
// model (results.json is used when it already holds them all).
func compareFrom(ctx context.Context, root string, timeout time.Duration, log *slog.Logger) (results.Comparison, error) {
	cmp := results.Comparison{Models: results.CompareModels}
	type found struct {
		dir  string
		meta map[string]any
	}
	latest := map[string]found{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if _, err := os.Stat(filepath.Join(p, results.HistoryFile)); err != nil {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, results.TestFile))
		if err != nil {
			log.Warn("compare: skipping a run without test.json", "dir", p)
			return filepath.SkipDir
		}
		var meta map[string]any
		if err := json.Unmarshal(b, &meta); err != nil {
			log.Warn("compare: skipping a run with a malformed test.json", "dir", p, "err", err)
			return filepath.SkipDir
		}
		key := cellKey(meta)
		if prev, ok := latest[key]; !ok || p > prev.dir {
			latest[key] = found{dir: p, meta: meta}
		}
		return filepath.SkipDir
	})
	if err != nil {
		return cmp, fmt.Errorf("--from: %w", err)
	}
	if len(latest) == 0 {
		return cmp, fmt.Errorf("--from %s: no run directories (with history.jsonl and test.json) under it", root)
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fd := latest[k]
		str := func(name string) string { s, _ := fd.meta[name].(string); return s }
		var nems []string
		if l, ok := fd.meta["nemesis"].([]any); ok {
			for _, x := range l {
				if s, ok := x.(string); ok {
					nems = append(nems, s)
				}
			}
		}
		seed, _ := fd.meta["seed"].(float64)
		cell := results.CompareCell{Mode: modeLabel(fd.meta), Workload: str("workload"), Nemesis: nemesisCell(nems), Backend: str("backend"), Seed: int64(seed),
			Promised: promisedIn(fd.meta)}
		fillCell(ctx, &cell, root, fd.dir, log)
		sum, err := summaryWithModels(ctx, fd.dir, timeout)
		if err != nil {
			cell.Err = err.Error()
		} else {
			cell.Verdicts = results.VerdictsOf(sum, results.CompareModels)
		}
		cmp.Cells = append(cmp.Cells, cell)
	}
	return cmp, nil
}

func cellKey(meta map[string]any) string {
	b, _ := json.Marshal([]any{modeLabel(meta), meta["nemesis"], meta["workload"], meta["faults"]})
	return string(b)
}

// modeLabel is a run's row on the compare page: the store's mode, or
// etcd's read mode.
func modeLabel(meta map[string]any) string {
	if r, ok := meta["etcd_reads"].(string); ok {
		return etcdModeLabel(r == "serializable")
	}
	m, _ := meta["mode"].(string)
	return m
}

// nemesisCell names a run's nemesis as a cell: none, all, or faults
// joined with +.
func nemesisCell(faults []string) string {
	switch {
	case len(faults) == 0:
		return "none"
	case len(faults) == len(nemesis.Faults):
		all := true
		for _, f := range nemesis.Faults {
			all = all && slices.Contains(faults, f)
		}
		if all {
			return "all"
		}
	}
	return strings.Join(faults, "+")
}

// summaryWithModels returns the run's results.json when it holds every
// model's verdict, else checks the history against every model.
func summaryWithModels(ctx context.Context, dir string, timeout time.Duration) (checkers.Summary, error) {
	path := filepath.Join(dir, results.ResultsFile)
	if b, err := os.ReadFile(path); err == nil {
		var sum checkers.Summary
		if err := json.Unmarshal(b, &sum); err != nil {
			return checkers.Summary{}, fmt.Errorf("%s: %w (check the run again with `faultline check %s`, or remove the file)", path, err, dir)
		}
		{
			have := map[string]bool{}
			for _, r := range sum.Results {
				have[r.Checker] = true
			}
			all := true
			for _, m := range results.CompareModels {
				all = all && have[m]
			}
			if all {
				return sum, nil
			}
		}
	}
	h, err := history.ReadFile(filepath.Join(dir, results.HistoryFile))
	if err != nil {
		return checkers.Summary{}, err
	}
	return checkers.CheckAll(ctx, h.Events, results.CompareModels, checkers.Options{Timeout: timeout})
}
