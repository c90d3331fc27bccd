package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// Test describes one run. Zero values take the defaults noted.
type Test struct {
	// Name names the test: the run goes to RunsDir/<Name>/<timestamp>/.
	// Default: <model>-<workload>-<nemesis or none>.
	Name    string
	System  System
	Backend Backend
	// Model is the consistency model the history is checked against
	// (linearizable, causal, causal+, eventual). Default: the model the
	// System promises (Promiser); a system that promises nothing needs it.
	Model string
	// Workload is one of workloads.Names; Sticky keeps each process on one
	// node.
	Workload string
	Sticky   bool
	// KeyOps and KeyUnknown bound the register workload's keys: a fresh
	// key after that many ops, or ops of unknown outcome, on one key
	// (workloads.Options; 0: the defaults, negative: one key per run).
	KeyOps, KeyUnknown int
	// Nemesis lists the faults to inject (nemesis.ParseSpec); empty: none.
	Nemesis         []string
	NemesisInterval time.Duration // default 10s
	// Partitions and PacketModes restrict the partition topologies and
	// packet fault modes the nemesis draws from (empty: all of them; see
	// nemesis.Topologies and nemesis.PacketModes).
	Partitions, PacketModes []string
	// PowerKeepsNames makes the power fault lose only un-fsynced file
	// contents, keeping every change of names (lazyfs.Options.KeepNames:
	// Jepsen's lazyfs, and near ext4 and xfs); default: strict POSIX,
	// where a name is durable only once its directory is fsynced.
	PowerKeepsNames bool
	Nodes           int // default 3
	Concurrency     int // default 10
	// Rate is the total ops/s of all workers; 0 = as fast as possible.
	Rate      float64
	TimeLimit time.Duration // default 30s
	OpTimeout time.Duration // default 5s; an op that takes longer is info
	// QuietPeriod is the pause between healing and the final reads, for
	// replicas to converge. Default 3s.
	QuietPeriod time.Duration
	// Seed seeds the generators and the nemesis.
	Seed    int64
	RunsDir string // default "runs"
	// Checkers overrides the workload's checkers when set.
	Checkers       []string
	CheckerOptions checkers.Options
	// Options are recorded in test.json as they are (the store's mode and
	// faults, the binary's path, ...).
	Options map[string]any
	// Report, when set, is the last step: it writes the pages a person
	// reads into the run directory (the CLI passes results.WriteReports;
	// `faultline report <dir>` writes them later for a run without).
	Report func(ctx context.Context, dir string) error
	Logger *slog.Logger
	// Progress, when set, is called about once a second while the run goes.
	Progress func(Progress)
}

// Progress is a snapshot of a running test.
type Progress struct {
	Phase          string // starting, main, heal, quiet, final, checking
	Elapsed, Total time.Duration
	Invoked        int64
	OK, Fail, Info int64
	OpsPerSec      float64
	ActiveFault    string
}

// RunResult is what Run did.
type RunResult struct {
	// Dir is the run directory ("" if it could not be made).
	Dir     string
	Backend string
	Seed    int64
	// Checkers are the checkers run.
	Checkers []string
	// Summary is the checkers' verdict, valid when Checked.
	Summary checkers.Summary
	Checked bool
	// CheckErr is why the history could not be checked (the verdict is
	// then unknown).
	CheckErr error
	// Invoked, OK, Fail and Info count client operations.
	Invoked, OK, Fail, Info int64
	// Interrupted is set when ctx ended before the run finished.
	Interrupted bool
	// Nemesis counts the fault changes, the clashes between faults
	// resolved by choosing other nodes or waiting, and the changes that
	// failed (also in test.json as nemesis_stats).
	Nemesis nemesis.Stats
}

func (t *Test) defaults() {
	if t.Model == "" && t.System != nil {
		if p, ok := t.System.(Promiser); ok {
			t.Model = p.Promise().Model
		}
	}
	if t.NemesisInterval <= 0 {
		t.NemesisInterval = 10 * time.Second
	}
	if t.Nodes <= 0 {
		t.Nodes = 3
	}
	if t.Concurrency <= 0 {
		t.Concurrency = 10
	}
	if t.TimeLimit <= 0 {
		t.TimeLimit = 30 * time.Second
	}
	if t.OpTimeout <= 0 {
		t.OpTimeout = 5 * time.Second
	}
	if t.QuietPeriod <= 0 {
		t.QuietPeriod = 3 * time.Second
	}
	if t.RunsDir == "" {
		t.RunsDir = "runs"
	}
	if t.Name == "" {
		nem := "none"
		if len(t.Nemesis) > 0 {
			nem = strings.Join(t.Nemesis, "+")
		}
		t.Name = fmt.Sprintf("%s-%s-%s", t.Model, t.Workload, nem)
	}
	if t.Logger == nil {
		t.Logger = slog.New(slog.DiscardHandler)
	}
}

// Timeouts of the phases around the main one.
const (
	readyTimeout = 60 * time.Second
	healTimeout  = 2 * time.Minute
	closeTimeout = time.Minute
	checkTimeout = 10 * time.Minute
)

// Run runs t: it starts the cluster, drives the workload (and the nemesis)
// for t.TimeLimit, heals, waits t.QuietPeriod, reads every key on every
// node, stops the cluster and checks the history. The returned error is a
// failure of the harness or the cluster (the run directory, when made, is
// in the result even then); the verdict is in the result's Summary.
//
// When ctx ends (Ctrl-C), the run stops early: ops in flight complete as
// info, the nodes are stopped with a fresh context, and what was recorded
// is kept and checked.
func Run(ctx context.Context, t Test) (res RunResult, err error) {
	t.defaults()
	res.Seed = t.Seed
	log := t.Logger
	if t.System == nil || t.Backend == nil {
		return res, errors.New("harness: a test needs a System and a Backend")
	}
	res.Backend = t.Backend.Name()
	wl, err := t.workload()
	if err != nil {
		return res, err
	}
	res.Checkers = wl.Checkers
	if len(t.Checkers) > 0 {
		res.Checkers = t.Checkers
	}
	if _, err := nemesis.ParseSpec(strings.Join(t.Nemesis, ",")); err != nil {
		return res, err
	}
	nem, err := nemesis.New(nemesis.Config{Faults: t.Nemesis, Interval: t.NemesisInterval, Seed: t.Seed, Partitions: t.Partitions, Packets: t.PacketModes})
	if err != nil {
		return res, fmt.Errorf("nemesis: %w", err)
	}

	start := time.Now()
	dir, err := makeRunDir(t.RunsDir, t.Name, start)
	if err != nil {
		return res, err
	}
	res.Dir = dir
	meta := t.meta(res, start)
	if err := writeJSON(filepath.Join(dir, "test.json"), meta); err != nil {
		return res, err
	}
	if err := linkLatest(t.RunsDir, dir); err != nil {
		log.Warn("could not link runs/latest", "err", err)
	}
	rec, err := history.NewRecorder(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return res, err
	}
	recClosed := false
	closeRec := func() error {
		if recClosed {
			return nil
		}
		recClosed = true
		return rec.Close()
	}
	defer closeRec()

	log.Info("starting cluster", "backend", res.Backend, "nodes", t.Nodes, "system", t.System.Name(), "dir", dir)
	spec := ClusterSpec{RunID: runID(t.Name, start), Nodes: t.Nodes, Dir: dir, LazyFSKeepNames: t.PowerKeepsNames}
	for _, f := range t.Nemesis {
		spec.LazyFS = spec.LazyFS || slices.Contains(nemesis.NeedsLazyFS, f)
	}
	cl, err := t.Backend.Start(ctx, t.System, spec)
	if err != nil {
		return res, fmt.Errorf("start the cluster: %w", err)
	}
	clClosed := false
	closeCluster := func() error {
		if clClosed {
			return nil
		}
		clClosed = true
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		return cl.Close(cctx)
	}
	defer closeCluster()
	nodes := cl.Nodes()
	if err := waitReady(ctx, t.System, nodes); err != nil {
		return res, err
	}
	log.Info("cluster ready", "nodes", len(nodes))
	if pr, ok := t.System.(Preparer); ok {
		pctx, cancel := context.WithTimeout(ctx, readyTimeout)
		err := pr.Prepare(pctx, nodes)
		cancel()
		if err != nil {
			return res, fmt.Errorf("prepare %s for the workload: %w", t.System.Name(), err)
		}
	}

	p := newPool(t.Concurrency, nodes, wl.HomeNode, rec, func(first int) (Client, error) {
		return t.System.NewClient(nodes, first)
	}, t.OpTimeout, t.Seed, time.Now())
	defer p.close()

	// Progress.
	phase := &phaseBox{v: "main"}
	stopProgress := t.startProgress(p.stats, phase, nem, time.Now())
	defer stopProgress()

	// Main phase: the workload for TimeLimit, the nemesis alongside.
	mainCtx, cancelMain := context.WithCancel(ctx)
	defer cancelMain()
	nemCtx, stopNem := context.WithCancel(mainCtx)
	tgt := target{c: cl, sys: t.System}
	var nemErr error
	var nemWG sync.WaitGroup
	nemWG.Add(1)
	go func() {
		defer nemWG.Done()
		if e := nem.Run(nemCtx, tgt, rec); e != nil && nemCtx.Err() == nil {
			nemErr = e // already says "nemesis: ..."
			log.Error("nemesis failed; stopping the run", "err", e)
			cancelMain()
		}
	}()
	gen := generator.TimeLimit(t.TimeLimit, generator.Rate(t.Rate, wl.Generator()))
	poolErr := p.run(mainCtx, gen)
	stopNem()
	nemWG.Wait()
	var errs []error
	if poolErr != nil {
		errs = append(errs, poolErr)
	}
	if nemErr != nil {
		errs = append(errs, nemErr)
	}

	res.Interrupted = ctx.Err() != nil
	if !res.Interrupted && poolErr == nil {
		phase.set("heal")
		log.Info("main phase done; healing", "ops", p.stats.Invoked.Load())
		hctx, cancel := context.WithTimeout(ctx, healTimeout)
		if e := nem.Heal(hctx, tgt, rec); e != nil {
			errs = append(errs, fmt.Errorf("heal: %w", e))
		}
		cancel()
		// The heal restarted and resumed nodes: wait until they answer
		// again before the quiet period and the final reads.
		if e := waitReady(ctx, t.System, nodes); e != nil && ctx.Err() == nil {
			log.Warn("cluster not fully recovered after heal; final reads go on", "err", e)
		}
		phase.set("quiet")
		select {
		case <-ctx.Done():
		case <-time.After(t.QuietPeriod):
		}
		if ctx.Err() == nil {
			phase.set("final")
			log.Info("final reads", "keys", len(wl.Keys()), "nodes", len(nodes))
			finalLimit := t.OpTimeout*time.Duration(len(wl.Keys())*t.Nodes/t.Concurrency+2) + t.OpTimeout
			if e := p.run(ctx, generator.TimeLimit(finalLimit, wl.FinalReads())); e != nil {
				errs = append(errs, e)
			}
		}
		res.Interrupted = ctx.Err() != nil
	}
	p.close()
	res.Invoked, res.OK, res.Fail, res.Info = p.stats.Invoked.Load(), p.stats.OK.Load(), p.stats.Fail.Load(), p.stats.Info.Load()
	res.Nemesis = nem.Stats()
	if e := closeRec(); e != nil {
		errs = append(errs, e)
	}
	phase.set("stopping")
	log.Info("stopping the cluster")
	if e := closeCluster(); e != nil {
		errs = append(errs, fmt.Errorf("stop the cluster: %w", e))
	}
	stopProgress()

	// Check what was recorded, even after an interrupt or a failure.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
	defer cancel()
	log.Info("checking", "checkers", res.Checkers)
	hist, rerr := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	for _, w := range hist.Warnings {
		log.Warn("history", "warning", w)
	}
	switch {
	case rerr != nil:
		res.CheckErr = fmt.Errorf("read the history back: %w", rerr)
		errs = append(errs, res.CheckErr)
	default:
		sum, cerr := checkers.CheckAll(cctx, hist.Events, res.Checkers, t.CheckerOptions)
		if cerr != nil {
			res.CheckErr = fmt.Errorf("check: %w", cerr)
		} else {
			res.Summary, res.Checked = sum, true
			if e := writeJSON(filepath.Join(dir, "results.json"), sum); e != nil {
				errs = append(errs, e)
			}
		}
	}
	meta = t.meta(res, start)
	meta["end"] = time.Now().UTC().Format(time.RFC3339Nano)
	meta["interrupted"] = res.Interrupted
	meta["nemesis_stats"] = res.Nemesis
	if e := writeJSON(filepath.Join(dir, "test.json"), meta); e != nil {
		errs = append(errs, e)
	}
	if t.Report != nil {
		if e := t.Report(cctx, dir); e != nil {
			errs = append(errs, fmt.Errorf("write the report: %w", e))
		}
	}
	return res, errors.Join(errs...)
}

// workload sets up t's workload for its model, with cas when the system
// promises it.
func (t *Test) workload() (*workloads.Workload, error) {
	if t.Model == "" && t.Workload != "set" {
		return nil, fmt.Errorf("harness: Test.Model is empty and system %s promises no model (harness.Promiser): set it to one of %s",
			t.System.Name(), strings.Join(workloads.RegisterModels, ", "))
	}
	cas := false
	if p, ok := t.System.(Promiser); ok {
		cas = p.Promise().CAS
	}
	return workloads.New(t.Workload, workloads.Options{Model: t.Model, CAS: cas, Workers: t.Concurrency, Nodes: t.Nodes, Sticky: t.Sticky,
		KeyOps: t.KeyOps, KeyUnknown: t.KeyUnknown})
}

func waitReady(ctx context.Context, sys System, nodes []Node) error {
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, n := range nodes {
		if err := sys.Ready(rctx, n); err != nil {
			return fmt.Errorf("node %s (%s) did not become ready within %s: %w", n.ID, n.ClientAddr, readyTimeout, err)
		}
	}
	return nil
}

func runID(name string, at time.Time) string {
	return name + "-" + at.UTC().Format("20060102T150405.000Z")
}

// meta is the content of test.json: every option of the run.
func (t *Test) meta(res RunResult, start time.Time) map[string]any {
	m := map[string]any{}
	for k, v := range t.Options {
		m[k] = v
	}
	nem := t.Nemesis
	if nem == nil {
		nem = []string{}
	}
	for k, v := range map[string]any{
		"name":              t.Name,
		"system":            t.System.Name(),
		"model":             t.Model,
		"workload":          t.Workload,
		"sticky":            t.Sticky,
		"checkers":          res.Checkers,
		"nemesis":           nem,
		"nemesis_interval":  t.NemesisInterval.String(),
		"power_keeps_names": t.PowerKeepsNames,
		"nodes":             t.Nodes,
		"concurrency":       t.Concurrency,
		"rate":              t.Rate,
		"time_limit":        t.TimeLimit.String(),
		"op_timeout":        t.OpTimeout.String(),
		"quiet_period":      t.QuietPeriod.String(),
		"seed":              t.Seed,
		"backend":           res.Backend,
		"go_version":        runtime.Version(),
		"faultline_version": Version(),
		"start":             start.UTC().Format(time.RFC3339Nano),
	} {
		m[k] = v
	}
	if t.Workload == "register" {
		m["key_ops"], m["key_unknown"] = t.KeyOps, t.KeyUnknown
		if t.KeyOps == 0 {
			m["key_ops"] = workloads.DefaultKeyOps
		}
		if t.KeyUnknown == 0 {
			m["key_unknown"] = workloads.DefaultKeyUnknown
		}
	}
	return m
}

// Version is faultline's version: the module version, or the VCS revision
// the binary was built from, or "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = s.Value
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	return v
}

type phaseBox struct {
	mu sync.Mutex
	v  string
}

func (p *phaseBox) set(v string) { p.mu.Lock(); p.v = v; p.mu.Unlock() }
func (p *phaseBox) get() string  { p.mu.Lock(); defer p.mu.Unlock(); return p.v }

// startProgress calls t.Progress about once a second until the returned
// function is called (idempotent).
func (t *Test) startProgress(st *Stats, phase *phaseBox, nem *nemesis.Nemesis, zero time.Time) func() {
	if t.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		lastN, lastT := int64(0), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				n := st.OK.Load() + st.Fail.Load() + st.Info.Load()
				rate := float64(n-lastN) / now.Sub(lastT).Seconds()
				lastN, lastT = n, now
				t.Progress(Progress{
					Phase: phase.get(), Elapsed: time.Since(zero), Total: t.TimeLimit,
					Invoked: st.Invoked.Load(), OK: st.OK.Load(), Fail: st.Fail.Load(), Info: st.Info.Load(),
					OpsPerSec: rate, ActiveFault: nem.Active(),
				})
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
