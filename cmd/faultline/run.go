package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/backends"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/nodebin"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/results"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/systems/nats"
	"github.com/faultline/faultline/workloads"
)

// dockerAvailable reports whether a Docker daemon answers (the docker
// backend is the default then); tests replace it.
var dockerAvailable = docker.Available

type runFlags struct {
	mode, model, workload, nemesis, backend, out, storenode, faults string
	partitions, packetModes                                         string
	nemesisInterval, timeLimit, opTimeout, quiet                    time.Duration
	checkTimeout                                                    time.Duration
	searchMemory                                                    byteSize
	nodes, concurrency, basePort, keyOps, keyUnknown                int
	rate                                                            float64
	seed                                                            int64
	sticky                                                          bool
	system                                                          string
	serializable                                                    bool
	etcd                                                            etcdFlags
	nats                                                            natsFlags
	powerNames                                                      string
}

func newRunCmd() *cobra.Command {
	f := runFlags{searchMemory: checkers.DefaultSearchMemory}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a test: start a cluster, drive clients while faults happen, record the history, check it",
		Long: `run starts a cluster of the reference store (in Docker containers when a
Docker daemon answers, else as local processes), drives --concurrency client
processes against it for --time-limit while the nemesis injects faults,
heals, reads every key on every node, and checks the history with the
workload's checkers for the mode's consistency model.

--system nats tests a NATS JetStream cluster (set workload: publishes to one
stream, whole-stream reads); its nats-server is built statically from the Go
module proxy on first use and cached (--nats-version, --nats-binary);
--nats-sync always sets JetStream's sync_interval (default: the server's, 2m).

--system etcd tests a real etcd cluster instead (either backend), checked as
linearizable; its binary is built statically from the Go module proxy on
first use and cached by version (--etcd-version, or --etcd-binary for a
prebuilt one); --serializable makes its reads serializable.

It prints the run directory (runs/<test>/<timestamp>, linked as runs/latest)
and a verdict per checker. Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the
harness or the cluster failed (bad flags too), 130 interrupted (Ctrl-C,
SIGTERM or SIGHUP; what was recorded is still checked and its verdict
printed). A closed stdout or stderr (faultline run | head) does not stop
the run: it goes on, stops its cluster and checks, printing nothing more.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", "strong", "consistency mode of the store: strong, causal, eventual")
	fl.StringVar(&f.model, "model", "", "consistency model to check: "+strings.Join(workloads.RegisterModels, ", ")+" (default: the one the mode promises: strong linearizable, causal causal+, eventual eventual)")
	fl.StringVar(&f.workload, "workload", "kv", "workload: "+strings.Join(workloads.Names, ", "))
	fl.StringVar(&f.nemesis, "nemesis", "none", "faults to inject: comma list of "+strings.Join(nemesis.Faults, ", ")+"; all; none")
	fl.StringVar(&f.partitions, "partitions", "", "partition topologies the partition nemesis draws from: comma list of "+strings.Join(nemesis.Topologies, ", ")+" (default: all)")
	fl.StringVar(&f.packetModes, "packet-modes", "", "packet faults the packet nemesis draws from: comma list of "+strings.Join(nemesis.PacketModes, ", ")+", all (default: those the backend can apply: delay and loss on local; all on docker, loss alone on a kernel without netem)")
	fl.DurationVar(&f.nemesisInterval, "nemesis-interval", 10*time.Second, "mean time between fault changes")
	fl.IntVar(&f.nodes, "nodes", 3, "number of nodes")
	fl.IntVar(&f.concurrency, "concurrency", 10, "number of client workers")
	fl.Float64Var(&f.rate, "rate", 0, "total ops/s of all workers (0: as fast as possible)")
	fl.DurationVar(&f.timeLimit, "time-limit", 30*time.Second, "duration of the main phase")
	fl.Int64Var(&f.seed, "seed", 0, "seed of the generators and the nemesis (default: time-based; always recorded)")
	fl.StringVar(&f.backend, "backend", "", "cluster backend: docker or local (default: docker when a Docker daemon answers, else local)")
	fl.StringVar(&f.out, "out", "runs", "directory of run directories")
	fl.StringVar(&f.storenode, "storenode", "", "path of the storenode binary (default: next to faultline, then ./bin/storenode, then PATH)")
	fl.StringVar(&f.faults, "faults", "", "deliberate store faults passed to every node: "+faultNames())
	fl.DurationVar(&f.opTimeout, "op-timeout", 5*time.Second, "an op that takes longer completes as info")
	fl.DurationVar(&f.quiet, "quiet-period", 3*time.Second, "pause between healing and the final reads, for replicas to converge")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 0, "bound on the linearizability search (0: none but the run's own 10 minutes); past it the verdict is unknown")
	fl.Var(&f.searchMemory, "search-memory", "bound on the linearizability search's memory; a key whose search would pass it is unknown, with the reason")
	fl.IntVar(&f.keyOps, "key-ops", workloads.DefaultKeyOps, "register workload: ops on one key before every worker moves to a fresh key (-1: one key for the whole run)")
	fl.IntVar(&f.keyUnknown, "key-unknown", workloads.DefaultKeyUnknown, "register workload: ops of unknown outcome (info) on one key before the workload moves to a fresh key (-1: no bound)")
	fl.BoolVar(&f.sticky, "sticky", false, "keep each client process on one node (default: processes switch nodes)")
	fl.StringVar(&f.system, "system", "store", "system under test: store (the reference store) or etcd (built from the Go module proxy on first use)")
	fl.BoolVar(&f.serializable, "serializable", false, "etcd: serializable reads (a node answers from its own state, possibly stale) instead of linearizable")
	addEtcdFlags(fl, &f.etcd)
	addNatsFlags(fl, &f.nats)
	fl.StringVar(&f.powerNames, "power-names", "", "what the power fault loses: strict (un-fsynced contents, and names whose directory was not fsynced: strict POSIX) or kept (un-fsynced contents only: Jepsen's lazyfs, near ext4 and xfs); default: strict for the reference store, kept for other systems")
	fl.IntVar(&f.basePort, "base-port", 0, "local backend: node i listens on base+2i (client) and base+2i+1 (peer); 0 picks free ports")
	return cmd
}

func faultNames() string {
	var s []string
	for _, f := range store.AllFaults {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

func usageErr(format string, args ...any) error {
	return &exitError{code: 3, err: fmt.Errorf(format, args...)}
}

func runRun(cmd *cobra.Command, f runFlags) error {
	stderr := cmd.ErrOrStderr()
	stdout := cmd.OutOrStdout()
	progress := newProgressPrinter(stderr)
	log := slog.New(slog.NewTextHandler(progress.logWriter(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	progress.log = log

	// Validate everything before starting anything.
	mode, err := store.ParseMode(f.mode)
	if err != nil {
		return usageErr("--mode: %w", err)
	}
	if f.model != "" && !slices.Contains(workloads.RegisterModels, f.model) {
		return usageErr("--model: unknown model %q: valid models are %s", f.model, strings.Join(workloads.RegisterModels, ", "))
	}
	workload, err := workloads.New(f.workload, workloads.Options{Sticky: f.sticky, KeyOps: f.keyOps, KeyUnknown: f.keyUnknown,
		Search: checkers.Options{Timeout: f.checkTimeout, SearchMemory: int64(f.searchMemory)}})
	if err != nil {
		return usageErr("--workload: %w", err)
	}
	faultsList, err := nemesis.ParseSpec(f.nemesis)
	if err != nil {
		return usageErr("--nemesis: %w", err)
	}
	partitions, err := nemesis.ParseTopologies(f.partitions)
	if err != nil {
		return usageErr("--partitions: %w", err)
	}
	packetModes, err := nemesis.ParsePacketModes(f.packetModes)
	if err != nil {
		return usageErr("--packet-modes: %w", err)
	}
	if strings.TrimSpace(f.packetModes) == "" {
		packetModes = nil // the run draws what the backend can apply
	}
	storeFaults, err := store.ParseFaults(f.faults)
	if err != nil {
		return usageErr("--faults: %w", err)
	}
	if f.backend != "" && !slices.Contains(backends.Names, f.backend) {
		return usageErr("--backend: unknown backend %q: valid backends are %s", f.backend, strings.Join(backends.Names, ", "))
	}
	switch {
	case f.nodes < 1:
		return usageErr("--nodes must be at least 1, not %d", f.nodes)
	case f.concurrency < 1:
		return usageErr("--concurrency must be at least 1, not %d", f.concurrency)
	case f.timeLimit <= 0:
		return usageErr("--time-limit must be positive, like 30s, not %s", f.timeLimit)
	case f.opTimeout <= 0:
		return usageErr("--op-timeout must be positive, like 5s, not %s", f.opTimeout)
	case f.rate < 0:
		return usageErr("--rate must be >= 0 (0: as fast as possible), not %g", f.rate)
	case f.nemesisInterval <= 0:
		return usageErr("--nemesis-interval must be positive, like 10s, not %s", f.nemesisInterval)
	case f.checkTimeout < 0:
		return nonNegative("--check-timeout", f.checkTimeout, "none but the run's own 10 minutes", "10m")
	case f.keyOps == 0 || f.keyOps < -1:
		return usageErr("--key-ops must be at least 1 (or -1: one key for the whole run), not %d", f.keyOps)
	case f.keyUnknown == 0 || f.keyUnknown < -1:
		return usageErr("--key-unknown must be at least 1 (or -1: no bound), not %d", f.keyUnknown)
	}
	if err := checkSystem(f.system); err != nil {
		return err
	}
	if err := checkApplies(cmd, f, faultsList); err != nil {
		return err
	}
	isEtcd := f.system == "etcd"
	if isEtcd {
		switch {
		case cmd.Flags().Changed("mode"):
			return usageErr("--mode %s: --mode configures the reference store; etcd promises linearizable (--model chooses another model to check; with --serializable its reads may be stale, which the linearizable checker finds)", mode)
		case len(storeFaults) > 0:
			return usageErr("--faults: the deliberate faults are the reference store's; etcd has none")
		case slices.Contains(faultsList, "clock"):
			return usageErr("--nemesis %s: etcd has no API to skew a node's clock, so the clock nemesis cannot be applied to it; name the others (e.g. --nemesis %s)", f.nemesis, strings.Join(etcdFaults(faultsList), ","))
		}
	} else if f.serializable {
		return usageErr("--serializable is etcd's read option (--system etcd); the reference store's reads follow --mode")
	}
	isNats := f.system == "nats"
	if isNats {
		switch {
		case cmd.Flags().Changed("mode"):
			return usageErr("--mode %s: --mode configures the reference store; NATS is configured with --nats-sync", mode)
		case len(storeFaults) > 0:
			return usageErr("--faults: the deliberate faults are the reference store's; NATS has none")
		case f.workload != "set":
			return usageErr("--workload %s: --system nats runs the set workload only (publishes to one subject, whole-stream reads): use --workload set", f.workload)
		}
		if err := nats.CheckSync(f.nats.sync); err != nil {
			return usageErr("--nats-sync: %w", err)
		}
	} else if cmd.Flags().Changed("nats-sync") || cmd.Flags().Changed("nats-version") || cmd.Flags().Changed("nats-binary") {
		return usageErr("--nats-sync, --nats-version and --nats-binary configure NATS: use them with --system nats")
	}
	keepNames, err := powerNames(f.powerNames, !isEtcd && !isNats)
	if err != nil {
		return err
	}
	var bin string
	if !isEtcd && !isNats {
		if bin, err = findStorenode(f.storenode); err != nil {
			return &exitError{code: 3, err: err}
		}
	}
	seed := f.seed
	if !cmd.Flags().Changed("seed") {
		seed = time.Now().UnixNano()
	}

	surviveBrokenPipe()
	ctx, stop := signal.NotifyContext(cmd.Context(), stopSignals...)
	defer stop()
	go func() {
		// After the first Ctrl-C the run winds down (nodes stopped, what
		// was recorded checked); a second one kills faultline at once
		// (the nodes die with it: parent-death signal).
		<-ctx.Done()
		stop()
	}()

	backend, err := backends.New(ctx, f.backend, backends.Options{Logger: log, BasePort: f.basePort, Available: dockerAvailable,
		Hint: "use --backend local to run nodes as local processes"})
	if err != nil {
		return &exitError{code: 3, err: fmt.Errorf("--backend: %w", err)}
	}
	backendName := backend.Name()
	if backendName == "docker" && cmd.Flags().Changed("base-port") {
		// Refused here, not with the other flags: without --backend the
		// choice of docker is only known now (nothing has started yet).
		return usageErr("--base-port %d: it places the local backend's nodes; the docker backend gives each container its own address (drop --base-port, or use --backend local)", f.basePort)
	}

	var sys harness.System
	name := runName(string(mode), f.workload, faultsList)
	options := map[string]any{"mode": string(mode), "faults": storeFaults.List(), "storenode": bin, "command": strings.Join(os.Args, " ")}
	if isEtcd {
		eb, err := etcdBinary(ctx, f.etcd, log)
		if err != nil {
			return err
		}
		es, err := newEtcdSystem(eb, f.etcd, f.serializable)
		if err != nil {
			return err
		}
		sys, name = es, runName(etcdModeLabel(f.serializable), f.workload, faultsList)
		options = es.Options()
		options["command"] = strings.Join(os.Args, " ")
	} else if isNats {
		nb, err := natsBinary(ctx, f.nats, log)
		if err != nil {
			return err
		}
		ns, err := newNatsSystem(nb, f.nats)
		if err != nil {
			return err
		}
		sys, name = ns, runName(natsModeLabel(ns), f.workload, faultsList)
		options = ns.Options()
		options["command"] = strings.Join(os.Args, " ")
	} else {
		rs, err := refstore.New(bin, mode, storeFaults.List())
		if err != nil {
			return &exitError{code: 3, err: err}
		}
		sys = rs
		for k, v := range rs.Options() {
			options[k] = v
		}
	}
	t := harness.Test{
		System: sys, Backend: backend,
		Name:  name,
		Model: f.model, Workload: workload,
		Nemesis: nemesis.New(nemesis.Config{Faults: faultsList, Interval: f.nemesisInterval, Partitions: partitions, Packets: packetModes}),
		Nodes:   f.nodes, Concurrency: f.concurrency, Rate: f.rate,
		TimeLimit: f.timeLimit, OpTimeout: f.opTimeout, QuietPeriod: f.quiet,
		Seed: seed, RunsDir: f.out,
		Options: options,
		Logger:  log,
		Report:  results.WriteReports,
	}
	t.PowerStrictNames = !keepNames
	t.Progress = progress.print
	log.Info("run starting", "system", sys.Name(), "mode", mode, "workload", f.workload, "nemesis", f.nemesis, "nodes", f.nodes,
		"concurrency", f.concurrency, "time_limit", f.timeLimit, "seed", seed, "backend", backendName)

	res, runErr := harness.Run(ctx, t)
	progress.done()

	if res.Dir != "" {
		fmt.Fprintf(stdout, "run directory: %s\n", res.Dir)
	}
	if res.InterruptedStarting && runErr == nil {
		fmt.Fprintf(stdout, "interrupted while the cluster started: nothing was recorded, nothing checked; exit code %d\n", exitInterrupted)
		return &exitError{code: exitInterrupted}
	}
	fmt.Fprintf(stdout, "ops: %d invoked, %d ok, %d fail, %d info (seed %d, backend %s)\n", res.Invoked, res.OK, res.Fail, res.Info, res.Seed, res.Backend)
	if len(faultsList) > 0 {
		ns := res.Nemesis
		fmt.Fprintf(stdout, "nemesis: %d faults started, %d stopped, %d changes failed (fail events in the history); clashes resolved: %d by other nodes, %d by waiting\n",
			ns.Started, ns.Stopped, ns.Failed, ns.Moved, ns.Waited)
	}
	switch {
	case res.CheckCancelled:
		fmt.Fprintf(stdout, "interrupted while checking: the check was cancelled, so what it did not finish is unknown; results.json not written (faultline check %s redoes it); exit code %d\n", res.Dir, exitInterrupted)
	case res.Interrupted:
		fmt.Fprintf(stdout, "interrupted: checked what was recorded; exit code %d whatever its verdict\n", exitInterrupted)
	}
	code := 3 // neither checked nor a check error: the harness failed (runErr below)
	switch {
	case res.Checked:
		for _, r := range res.Summary.Results {
			line := fmt.Sprintf("%-13s %s", r.Checker+":", r.Valid)
			if r.Reason != "" {
				line += " (" + r.Reason + ")"
			}
			if len(r.Anomalies) > 0 {
				line += " — " + anomalyCounts(r) + ", first: " + r.Anomalies[0].Name
			}
			fmt.Fprintln(stdout, line)
			if len(r.Anomalies) > 0 && r.Anomalies[0].Explanation != "" {
				fmt.Fprintf(stdout, "  %s\n", r.Anomalies[0].Explanation)
			}
		}
		fmt.Fprintf(stdout, "verdict: %s\n", res.Summary.Valid)
		code = res.Summary.Valid.ExitCode()
	case res.CheckErr != nil:
		// Not a verdict: the harness could not check what it recorded.
		fmt.Fprintf(stdout, "verdict: none: the history could not be checked: %v\n", res.CheckErr)
		code = 3
	}
	if runErr != nil {
		return &exitError{code: 3, err: runErr}
	}
	if res.Interrupted || res.CheckCancelled {
		// A stopped run proves nothing about the time it did not run: it
		// must never look like a pass.
		return &exitError{code: exitInterrupted}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// checkApplies refuses a value no run can use and a flag set explicitly
// that the rest of the command line leaves without effect: silently
// ignoring it would record, and check, a run other than the one asked for.
func checkApplies(cmd *cobra.Command, f runFlags, faults []string) error {
	set := cmd.Flags().Changed
	switch {
	case f.quiet <= 0:
		return usageErr("--quiet-period must be positive, like 3s, not %s", f.quiet)
	case f.basePort < 0:
		return usageErr("--base-port must be 0 (free ports) or a port from 1 to %d for %d nodes, not %d", maxBasePort(f.nodes), f.nodes, f.basePort)
	case f.basePort > 0 && f.basePort > maxBasePort(f.nodes):
		return usageErr("--base-port %d: %d nodes listen on ports %d..%d, past 65535: give 0 (free ports) or a port from 1 to %d", f.basePort, f.nodes, f.basePort, f.basePort+2*f.nodes-1, maxBasePort(f.nodes))
	case f.model != "" && f.workload == "set":
		// The set workload is judged by the set checker whatever the
		// model: test.json would record a model nothing checked.
		return usageErr("--model %s: the set workload is judged by the set checker (lost and unexpected elements), not by a consistency model: drop --model, or use --workload register or kv to check %s", f.model, f.model)
	case slices.Contains(faults, "partition") && f.nodes < 2:
		return usageErr("--nemesis %s with --nodes %d: partition needs at least 2 nodes to split (with one it never starts a fault): use --nodes 2 or more, or name the other faults alone", f.nemesis, f.nodes)
	case set("partitions") && !slices.Contains(faults, "partition"):
		return usageErr("--partitions chooses the partition nemesis's topologies: use it with partition in --nemesis (now %q)", f.nemesis)
	case set("packet-modes") && !slices.Contains(faults, "packet"):
		return usageErr("--packet-modes chooses the packet nemesis's faults: use it with packet in --nemesis (now %q)", f.nemesis)
	case set("power-names") && !slices.Contains(faults, "power"):
		return usageErr("--power-names says what the power fault loses: use it with power in --nemesis (now %q)", f.nemesis)
	case (set("key-ops") || set("key-unknown")) && f.workload != "register":
		return usageErr("--key-ops and --key-unknown bound the register workload's keys: use them with --workload register (now %s)", f.workload)
	case f.system != "etcd" && (set("etcd-version") || set("etcd-binary") || set("etcd-heartbeat-interval") || set("etcd-election-timeout")):
		return usageErr("--etcd-version, --etcd-binary, --etcd-heartbeat-interval and --etcd-election-timeout configure etcd: use them with --system etcd")
	}
	return nil
}

// maxBasePort is the largest --base-port that keeps every port of nodes
// nodes (base .. base+2*nodes-1) at most 65535.
func maxBasePort(nodes int) int { return 65535 - 2*nodes + 1 }

// anomalyCounts says how many anomalies of each kind a result found: the
// checker's own count when it keeps one (the list of anomalies is capped),
// else the number listed; like "lost×2281".
func anomalyCounts(r checkers.Result) string {
	listed := map[string]int{}
	var names []string
	for _, a := range r.Anomalies {
		if listed[a.Name] == 0 {
			names = append(names, a.Name)
		}
		listed[a.Name]++
	}
	parts := make([]string, len(names))
	for i, n := range names {
		c := listed[n]
		if k, ok := r.Counts[n]; ok && k > c {
			c = k
		}
		parts[i] = fmt.Sprintf("%s×%d", n, c)
	}
	return strings.Join(parts, ", ")
}

// powerNames resolves --power-names: whether the power fault keeps names.
// Only the reference store defaults to strict: it fsyncs every directory
// it changes, and strict is the harder test of that. Other systems
// default to kept, Jepsen lazyfs's model: ext4 and xfs commit a new name
// within seconds, while strict never does without a directory fsync, so
// a system that never fsyncs a long-lived directory loses all of its
// data at every cut (nats-server and etcd 3.7.3 both do), which hides
// every other finding.
func powerNames(v string, isStore bool) (bool, error) {
	switch v {
	case "":
		return !isStore, nil
	case "kept":
		return true, nil
	case "strict":
		return false, nil
	}
	return false, usageErr("--power-names: %q: want strict (contents and names not made durable are lost) or kept (only contents)", v)
}

// runName names a run of the reference store <mode>-<workload>-<faults
// joined by + or none>, so its directory says what ran.
func runName(mode, workload string, faults []string) string {
	nem := "none"
	if len(faults) > 0 {
		nem = strings.Join(faults, "+")
	}
	return fmt.Sprintf("%s-%s-%s", mode, workload, nem)
}

// findStorenode finds the storenode binary: the flag, next to the
// faultline executable, ./bin/storenode, then PATH.
func findStorenode(flag string) (string, error) {
	return nodebin.Find(nodebin.Spec{Name: "storenode", Path: flag, Flag: "--storenode"})
}

// progressPrinter shows progress: a line redrawn in place on a terminal,
// plain log lines every few seconds otherwise. On a terminal, log lines
// written meanwhile clear the progress line first (logWriter).
type progressPrinter struct {
	w     io.Writer
	tty   bool
	log   *slog.Logger
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressPrinter{w: w, tty: tty}
}

// logWriter is where log lines go: through the printer, so that they do not
// land in the middle of the progress line.
func (p *progressPrinter) logWriter() io.Writer { return logWriter{p} }

type logWriter struct{ p *progressPrinter }

func (l logWriter) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	if l.p.drawn {
		io.WriteString(l.p.w, "\r\033[K")
		l.p.drawn = false
	}
	return l.p.w.Write(b)
}

func (p *progressPrinter) print(pr harness.Progress) {
	fault := pr.ActiveFault
	if fault == "" {
		fault = "none"
	}
	if p.tty {
		p.mu.Lock()
		fmt.Fprintf(p.w, "\r\033[K[%s] %s/%s  %.0f ops/s  ok %d  fail %d  info %d  fault: %s",
			pr.Phase, pr.Elapsed.Truncate(time.Second), pr.Total, pr.OpsPerSec, pr.OK, pr.Fail, pr.Info, fault)
		p.drawn = true
		p.mu.Unlock()
		return
	}
	if time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	p.log.Info("progress", "phase", pr.Phase, "elapsed", pr.Elapsed.Truncate(time.Second), "total", pr.Total,
		"ops_per_sec", int(pr.OpsPerSec), "ok", pr.OK, "fail", pr.Fail, "info", pr.Info, "fault", fault)
}

// done ends the progress line.
func (p *progressPrinter) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
