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
	"sync"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
)

// Test describes one run. Zero values take the defaults noted.
type Test struct {
	// Name names the test: the run goes to RunsDir/<Name>/<timestamp>/.
	// Default: <model>-<workload name>-<nemesis name or none>.
	Name    string
	System  System
	Backend Backend
	// Model is the consistency model the history is checked against
	// (linearizable, causal, causal+, eventual). Default: the model the
	// System promises (Promiser); a system that promises nothing needs it.
	Model string
	// Workload is what the clients do, e.g. workloads.KV().
	Workload Workload
	// Nemesis injects the faults, e.g. nemesis.New(nemesis.Config{Faults:
	// []string{"partition"}}); nil: none.
	Nemesis Nemesis
	// Checkers judge the history; nil: the workload's.
	Checkers []checkers.Checker
	// PowerStrictNames makes the power fault also lose every change of
	// names (create, rename, unlink, ...) whose directory was not fsynced
	// (strict POSIX). By default it loses un-fsynced file contents only,
	// keeping names (Jepsen lazyfs's model, near ext4 and xfs, which
	// commit a new name within seconds): under strict names a system that
	// never fsyncs a long-lived directory loses everything at every cut.
	PowerStrictNames bool
	Nodes            int // default 3
	Concurrency      int // default 10
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
	// Nemesis counts the fault changes, the clashes between faults
	// resolved by choosing other nodes or waiting, and the changes that
	// failed (also in test.json as nemesis_stats; zero for a nemesis
	// without a method Stats() nemesis.Stats).
	Nemesis nemesis.Stats
	// Interrupted is set when ctx ended before the run finished: the
	// history is partial (no final reads, perhaps no fault healed), so a
	// verdict on it must not be taken for one on the run asked for.
	Interrupted bool
	// CheckCancelled is set when ctx ended while the checkers ran (an
	// interrupt during the check): Summary holds what they returned (a
	// search cut short is unknown) and results.json is not written.
	CheckCancelled bool
	// InterruptedStarting is set (with Interrupted) when ctx ended while
	// the cluster started: no op ran, nothing was recorded or checked.
	InterruptedStarting bool
	// TimeLimit is the test's (with its default), MainPhase how long the
	// main phase ran: TimeLimit unless the run was interrupted or failed.
	TimeLimit, MainPhase time.Duration
}

func (t *Test) defaults() {
	if t.Model == "" && t.System != nil {
		if p, ok := t.System.(Promiser); ok {
			t.Model = p.Promise().Model
		}
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
	if n, ok := t.Nemesis.(*nemesis.Nemesis); ok && n == nil {
		t.Nemesis = nil // a typed nil means no faults too
	}
	if t.Name == "" && t.Workload != nil {
		t.Name = fmt.Sprintf("%s-%s-%s", t.Model, t.Workload.Name(), nemesisName(t.Nemesis))
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
// What cannot work is refused before any node starts: a checker that does
// not fit the workload (CheckerFitter), the clock fault for a system that
// is not a ClockSkewer, packet modes the backend cannot apply
// (PacketModer; with none named, the bundled nemesis draws only those).
//
// When ctx ends (Ctrl-C), the run stops early: ops in flight complete as
// info, the nodes are stopped with a fresh context, and what was recorded
// is kept and checked.
func Run(ctx context.Context, t Test) (RunResult, error) {
	r := &run{t: t}
	if err := r.prepare(); err != nil {
		return r.res, err
	}
	defer r.closeRecorder()
	defer r.stopCluster(ctx) // also when the start fails half-way
	if err := r.startCluster(ctx); err != nil {
		if !ended(ctx) {
			return r.res, err
		}
		// Interrupted while the nodes started: the start failed because it
		// was cancelled, not because of the cluster (its error and node
		// logs would mislead). No op ran, so there is nothing to check;
		// test.json says the run was interrupted and when it ended.
		r.res.Interrupted, r.res.InterruptedStarting = true, true
		r.fail(r.closeRecorder())
		r.fail(r.stopCluster(ctx))
		r.writeMeta()
		return r.res, errors.Join(r.errs...)
	}
	r.pool = newPool(r.t.Concurrency, r.nodes, r.wl.HomeNode, r.rec, func(first int) (Client, error) {
		return r.t.System.NewClient(r.nodes, first)
	}, r.t.OpTimeout, r.t.Seed, time.Now())
	defer r.pool.close()
	stopProgress := r.t.startProgress(r.pool.stats, &r.phase, r.nem, time.Now())
	defer stopProgress()

	healthy := r.mainPhase(ctx)
	if healthy {
		r.heal(ctx)
		r.quiet(ctx)
		r.finalReads(ctx)
	}
	r.res.Interrupted = ended(ctx)
	r.pool.close()
	st := r.pool.stats
	r.res.Invoked, r.res.OK, r.res.Fail, r.res.Info = st.Invoked.Load(), st.OK.Load(), st.Fail.Load(), st.Info.Load()
	if ns, ok := r.nem.(interface{ Stats() nemesis.Stats }); ok {
		r.res.Nemesis = ns.Stats()
	}
	r.fail(r.closeRecorder())
	r.phase.set("stopping")
	r.fail(r.stopCluster(ctx))
	stopProgress()

	// Check what was recorded, even after an interrupt or a failure: an
	// interrupt that came before the check must not cost it (its context
	// is detached then; the CLI kills at once on a second signal), but
	// one that comes while the check runs cancels it.
	checkParent := ctx
	if ended(ctx) {
		checkParent = context.WithoutCancel(ctx)
	}
	cctx, cancel := context.WithTimeout(checkParent, checkTimeout)
	defer cancel()
	r.check(cctx, ctx)
	r.writeMeta()
	if r.t.Report != nil {
		// The pages show what there is, a cancelled check included.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		defer cancel()
		if e := r.t.Report(rctx, r.res.Dir); e != nil {
			r.fail(fmt.Errorf("write the report: %w", e))
		}
	}
	return r.res, errors.Join(r.errs...)
}

// run is one Run in progress: each step below is one phase of it.
type run struct {
	t        Test
	res      RunResult
	start    time.Time
	wl       Workload
	nem      Nemesis
	checkers []checkers.Checker
	rec      *history.Recorder
	cl       Cluster
	nodes    []Node
	pool     *pool
	phase    phaseBox
	errs     []error // failures that do not stop the run

	recClosed, clStopped bool
}

func (r *run) fail(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// prepare validates the test, makes the run directory, writes test.json
// and opens the history recorder: a bad option or an unwritable directory
// fails here, before any node starts.
func (r *run) prepare() error {
	t := &r.t
	t.defaults()
	r.res.Seed, r.res.TimeLimit = t.Seed, t.TimeLimit
	if t.System == nil || t.Backend == nil {
		return errors.New("harness: a test needs a System and a Backend")
	}
	r.res.Backend = t.Backend.Name()
	if t.Workload == nil {
		return errors.New("harness: a test needs a Workload, e.g. workloads.KV()")
	}
	env := t.env()
	wl, err := workloadForRun(t.Workload, env)
	if err != nil {
		return err
	}
	r.wl, r.checkers = wl, t.Checkers
	if r.checkers == nil {
		r.checkers = wl.Checkers()
	}
	if err := checkFit(wl, r.checkers); err != nil {
		return err
	}
	if len(r.checkers) == 0 {
		return fmt.Errorf("harness: no checker judges workload %s: set Test.Checkers (checkers.New) or have the workload's Checkers return some", wl.Name())
	}
	r.res.Checkers = checkerNames(r.checkers)
	if err := fitNemesis(t); err != nil {
		return err
	}
	if r.nem, err = nemesisForRun(t.Nemesis, env); err != nil {
		return fmt.Errorf("nemesis: %w", err)
	}
	r.start = time.Now()
	dir, err := makeRunDir(t.RunsDir, t.Name, r.start)
	if err != nil {
		return err
	}
	r.res.Dir = dir
	if err := writeJSON(filepath.Join(dir, "test.json"), r.meta()); err != nil {
		return err
	}
	if err := linkLatest(t.RunsDir, dir); err != nil {
		t.Logger.Warn("could not link the latest run", "err", err) // err names the path
	}
	r.rec, err = history.NewRecorder(filepath.Join(dir, "history.jsonl"))
	return err
}

func (r *run) closeRecorder() error {
	if r.recClosed || r.rec == nil {
		return nil
	}
	r.recClosed = true
	return r.rec.Close()
}

// startCluster starts the nodes; the backend returns once each answers
// Ready.
func (r *run) startCluster(ctx context.Context) error {
	t := &r.t
	r.phase.set("starting")
	t.Logger.Info("starting cluster", "backend", r.res.Backend, "nodes", t.Nodes, "system", t.System.Name(), "dir", r.res.Dir)
	spec := ClusterSpec{RunID: runID(t.Name, r.start), Nodes: t.Nodes, Dir: r.res.Dir, LazyFS: needsLazyFS(t.Nemesis), LazyFSKeepNames: !t.PowerStrictNames}
	cl, err := t.Backend.Start(ctx, t.System, spec)
	if err != nil {
		return fmt.Errorf("start the cluster: %w", err)
	}
	r.cl, r.nodes = cl, cl.Nodes() // ready: Start waits for it
	t.Logger.Info("cluster ready", "nodes", len(r.nodes))
	if pr, ok := t.System.(Preparer); ok {
		pctx, cancel := context.WithTimeout(ctx, readyTimeout)
		err := pr.Prepare(pctx, r.nodes)
		cancel()
		if err != nil {
			return fmt.Errorf("prepare %s for the workload: %w", t.System.Name(), err)
		}
	}
	return nil
}

// stopCluster stops the nodes (once), with a fresh context so that it
// works after an interrupt.
func (r *run) stopCluster(ctx context.Context) error {
	if r.clStopped || r.cl == nil { // not started, or stopped already
		return nil
	}
	r.clStopped = true
	r.t.Logger.Info("stopping the cluster")
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if err := r.cl.Close(cctx); err != nil {
		return fmt.Errorf("stop the cluster: %w", err)
	}
	return nil
}

// mainPhase drives the workload for TimeLimit with the nemesis alongside.
// It reports whether the run may go on to heal and read (not interrupted,
// no harness failure).
func (r *run) mainPhase(ctx context.Context) bool {
	r.phase.set("main")
	mainCtx, cancelMain := context.WithCancel(ctx)
	defer cancelMain()
	nemCtx, stopNem := context.WithCancel(mainCtx)
	var nemErr error
	var nemWG sync.WaitGroup
	nemWG.Add(1)
	go func() {
		defer nemWG.Done()
		if e := r.nem.Run(nemCtx, r.target(), r.rec); e != nil && nemCtx.Err() == nil {
			nemErr = e // already says "nemesis: ..."
			r.t.Logger.Error("nemesis failed; stopping the run", "err", e)
			cancelMain()
		}
	}()
	gen := generator.TimeLimit(r.t.TimeLimit, generator.Rate(r.t.Rate, r.wl.Generator()))
	began := time.Now()
	poolErr := r.pool.run(mainCtx, gen)
	r.res.MainPhase = time.Since(began)
	stopNem()
	nemWG.Wait()
	r.fail(poolErr)
	r.fail(nemErr)
	return !ended(ctx) && poolErr == nil
}

func (r *run) target() target { return target{c: r.cl, sys: r.t.System} }

// heal ends every fault and waits until the nodes answer again (the heal
// restarted and resumed them).
func (r *run) heal(ctx context.Context) {
	r.phase.set("heal")
	r.t.Logger.Info("main phase done; healing", "ops", r.pool.stats.Invoked.Load())
	hctx, cancel := context.WithTimeout(ctx, healTimeout)
	if e := r.nem.Heal(hctx, r.target(), r.rec); e != nil {
		r.fail(fmt.Errorf("heal: %w", e))
	}
	cancel()
	if e := waitReady(ctx, r.t.System, r.nodes); e != nil && ctx.Err() == nil {
		r.t.Logger.Warn("cluster not fully recovered after heal; final reads go on", "err", e)
	}
}

// quiet gives replicas QuietPeriod to converge.
func (r *run) quiet(ctx context.Context) {
	r.phase.set("quiet")
	select {
	case <-ctx.Done():
	case <-time.After(r.t.QuietPeriod):
	}
}

// finalReads reads every key the workload touched on every node.
func (r *run) finalReads(ctx context.Context) {
	if ended(ctx) {
		return
	}
	t := &r.t
	r.phase.set("final")
	t.Logger.Info("final reads", "keys", len(r.wl.Keys()), "nodes", len(r.nodes))
	limit := t.OpTimeout*time.Duration(len(r.wl.Keys())*t.Nodes/t.Concurrency+2) + t.OpTimeout
	r.fail(r.pool.run(ctx, generator.TimeLimit(limit, r.wl.FinalReads())))
}

// check reads the history back (which validates the contract) and runs
// the checkers under ctx; results.json holds their verdicts. When runCtx
// ends while they run (an interrupt during the check), the check was
// cancelled: the result says so and results.json is not written (what
// the checkers did not finish is unknown; `faultline check` redoes it).
func (r *run) check(ctx, runCtx context.Context) {
	r.t.Logger.Info("checking", "checkers", r.res.Checkers)
	hist, err := history.ReadFile(filepath.Join(r.res.Dir, "history.jsonl"))
	for _, w := range hist.Warnings {
		r.t.Logger.Warn("history", "warning", w)
	}
	if err != nil {
		r.res.CheckErr = fmt.Errorf("read the history back: %w", err)
		r.fail(r.res.CheckErr)
		return
	}
	wasEnded := ended(runCtx)
	sum, err := checkers.Check(ctx, hist.Events, r.checkers)
	if err != nil {
		r.res.CheckErr = fmt.Errorf("check: %w", err)
		return
	}
	r.res.Summary, r.res.Checked = sum, true
	if !wasEnded && ended(runCtx) {
		r.res.CheckCancelled = true
		r.t.Logger.Warn("interrupted while checking: the check was cancelled; results.json not written")
		return
	}
	r.fail(writeJSON(filepath.Join(r.res.Dir, "results.json"), sum))
}

// writeMeta rewrites test.json with the end of the run.
func (r *run) writeMeta() {
	meta := r.meta()
	meta["end"] = time.Now().UTC().Format(time.RFC3339Nano)
	meta["interrupted"] = r.res.Interrupted
	if r.res.CheckCancelled {
		meta["check_cancelled"] = true
	}
	meta["nemesis_stats"] = r.res.Nemesis
	r.fail(writeJSON(filepath.Join(r.res.Dir, "test.json"), meta))
}

// env is what t's workload and nemesis learn as the run starts (t with
// its defaults).
func (t *Test) env() Env {
	env := Env{Model: t.Model, Workers: t.Concurrency, Nodes: t.Nodes, Seed: t.Seed}
	if p, ok := t.System.(Promiser); ok {
		env.CAS = p.Promise().CAS
	}
	return env
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
func (r *run) meta() map[string]any {
	t, res := &r.t, r.res
	m := map[string]any{}
	for k, v := range t.Options {
		m[k] = v
	}
	nem := nemesisNames(t.Nemesis)
	if nem == nil {
		nem = []string{}
	}
	interval := nemesis.DefaultInterval
	if cfg, ok := bundledNemesis(t.Nemesis); ok && cfg.Interval > 0 {
		interval = cfg.Interval
	}
	if p, ok := t.System.(Promiser); ok {
		m["promised"] = p.Promise().Model
	}
	if cfg, ok := bundledNemesis(t.Nemesis); ok && slices.Contains(cfg.Faults, "packet") {
		modes := cfg.Packets
		if len(modes) == 0 {
			modes = nemesis.PacketModes
		}
		m["packet_modes"] = modes // fitted to the backend (fitNemesis)
	}
	for k, v := range map[string]any{
		"name":              t.Name,
		"system":            t.System.Name(),
		"model":             t.Model,
		"workload":          r.wl.Name(),
		"sticky":            false,
		"checkers":          res.Checkers,
		"nemesis":           nem,
		"nemesis_interval":  interval.String(),
		"nodes":             t.Nodes,
		"power_keeps_names": !t.PowerStrictNames,
		"concurrency":       t.Concurrency,
		"rate":              t.Rate,
		"time_limit":        t.TimeLimit.String(),
		"op_timeout":        t.OpTimeout.String(),
		"quiet_period":      t.QuietPeriod.String(),
		"seed":              t.Seed,
		"backend":           res.Backend,
		"go_version":        runtime.Version(),
		"faultline_version": Version(),
		"start":             r.start.UTC().Format(time.RFC3339Nano),
	} {
		m[k] = v
	}
	if wm, ok := r.wl.(interface{ Meta() map[string]any }); ok {
		for k, v := range wm.Meta() {
			m[k] = v
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
func (t *Test) startProgress(st *stats, phase *phaseBox, nem Nemesis, zero time.Time) func() {
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
