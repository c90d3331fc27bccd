// Package workloads defines what the clients of a test do: the bundled
// workloads register (one key at a time shared by every worker: read,
// write, cas; a fresh key after a bounded number of ops or of unknown
// outcomes), kv (many independent keys, a few workers per key) and set (adds of unique elements and reads
// of the whole set), each as a generator of operations, the final reads
// that close a run, and the checkers that apply to it under each
// consistency model.
//
// Each is a harness.Workload value (Register, KV, Set; New by name) that
// harness.Run sets up for the run's model, system, workers and nodes.
// Workloads are pure: they build generators and say which checkers to run.
// How a set is stored is the system's business (see harness/refstore).
package workloads

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
)

// Names lists the bundled workloads, for usage messages.
var Names = []string{"register", "kv", "set"}

// Models maps a reference-store mode to the consistency model it promises.
var Models = map[string]string{"strong": "linearizable", "causal": "causal+", "eventual": "eventual"}

// RegisterModels are the models register and kv histories can be checked
// against (the set workload is checked by "set" whatever the model).
var RegisterModels = []string{"linearizable", "causal", "causal+", "eventual"}

// Options tune a workload. What a run knows only as it starts (the model,
// whether the system has cas, the workers, the nodes) reaches the
// workload through ForRun.
type Options struct {
	// Sticky keeps every process on one node (worker w on node w mod
	// Nodes); otherwise processes switch nodes at random (about one op in
	// SwitchEvery), carrying their session along.
	Sticky bool
	// SwitchEvery is the mean number of ops between node switches when
	// not Sticky (default 10).
	SwitchEvery int
	// PerKey is the number of workers per key in kv (default 3); OpsPerKey
	// the ops each worker does on a key before moving to the next
	// (default 100), which keeps per-key histories small enough to check.
	PerKey, OpsPerKey int
	// KeyOps and KeyUnknown bound the register workload's key: every
	// worker shares one key, and the workload moves to a fresh key after
	// KeyOps ops on it (default 100) or KeyUnknown ops of unknown outcome
	// (info, default 4), whichever comes first. An op of unknown outcome
	// stays concurrent with every later op on its key, so each one widens
	// the linearizability search of that key for good; bounding both keeps
	// every key's history small enough to decide (Jepsen's independent
	// keys). Negative: never move on (one key for the whole run).
	KeyOps, KeyUnknown int
	// Search bounds the linearizable checker's search (memory, time) when
	// the workload runs it.
	Search checkers.Options
}

// Default bounds of the register workload's keys. A key's check costs
// more per op the more ops it has (10 workers on a key, all faults, strong
// mode: about 0.03, 0.2, 0.5 and 0.7 ms per op at 50, 100, 200 and 400 ops
// per key; suites/README.md has the runs); 100 keeps about 10 ops per
// worker on each key, enough for a stale read or a lost write to show.
const (
	DefaultKeyOps     = 100
	DefaultKeyUnknown = 4
)

// Workload is one of the bundled workloads: a harness.Workload that
// harness.Run sets up for the run (ForRun).
type Workload struct {
	name string
	opts Options
	// Set by ForRun:
	env      harness.Env
	checkers []checkers.Checker
	gen      generator.Generator
	keys     *keySet
}

// Register is the register workload: every worker on one key at a time
// (reads, writes, and cas when the system has it), a fresh key after
// KeyOps ops or KeyUnknown ops of unknown outcome. Judged by the model's
// checker. opts: at most one.
func Register(opts ...Options) *Workload { return bundled("register", opts) }

// KV is the kv workload: many independent keys, PerKey workers on each,
// a fresh key after OpsPerKey ops. Judged by the model's checker.
func KV(opts ...Options) *Workload { return bundled("kv", opts) }

// Set is the set workload: adds of unique elements to one set and reads
// of the whole set, judged by the set checker whatever the model.
func Set(opts ...Options) *Workload { return bundled("set", opts) }

// New returns the workload named name (one of Names) with opts, or an
// error listing the valid names: the CLI's --workload.
func New(name string, opts Options) (*Workload, error) {
	if !slices.Contains(Names, name) {
		return nil, fmt.Errorf("unknown workload %q: valid workloads are %s", name, strings.Join(Names, ", "))
	}
	return bundled(name, []Options{opts}), nil
}

func bundled(name string, opts []Options) *Workload {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.SwitchEvery <= 0 {
		o.SwitchEvery = 10
	}
	if o.PerKey <= 0 {
		o.PerKey = 3
	}
	if o.OpsPerKey <= 0 {
		o.OpsPerKey = 100
	}
	if o.KeyOps == 0 {
		o.KeyOps = DefaultKeyOps
	}
	if o.KeyUnknown == 0 {
		o.KeyUnknown = DefaultKeyUnknown
	}
	return &Workload{name: name, opts: o}
}

// Name is the workload's name: register, kv or set.
func (w *Workload) Name() string { return w.name }

// FitCheckers names the bundled checkers that can judge w's histories:
// set for set (its ops add elements and read the whole set); for register
// and kv, the checker of each model in RegisterModels (their ops read,
// write and cas registers). harness.Run refuses any other bundled checker
// before the run starts: it would judge ops as something they are not.
func (w *Workload) FitCheckers() []string {
	if w.name == "set" {
		return []string{setChecker}
	}
	return slices.Clone(RegisterModels)
}

// setChecker is the checker that judges the set workload whatever the
// model.
const setChecker = "set"

// Meta is what test.json records of the workload's options.
func (w *Workload) Meta() map[string]any {
	m := map[string]any{"sticky": w.opts.Sticky}
	if w.name == "register" {
		m["key_ops"], m["key_unknown"] = w.opts.KeyOps, w.opts.KeyUnknown
	}
	return m
}

// ForRun returns w set up for a run: judged under env.Model (any model for
// set), with cas when env.CAS, for env.Workers workers on env.Nodes
// nodes. The model's checker needs a model: a register or kv run without
// one is an error saying how to give it.
func (w *Workload) ForRun(env harness.Env) (harness.Workload, error) {
	name, opts := w.name, w.opts
	if env.Workers <= 0 {
		return nil, fmt.Errorf("workload %s: concurrency must be at least 1, not %d", name, env.Workers)
	}
	if env.Nodes <= 0 {
		return nil, fmt.Errorf("workload %s: nodes must be at least 1, not %d", name, env.Nodes)
	}
	model := env.Model
	if name != "set" {
		if model == "" {
			return nil, fmt.Errorf("workload %s: no model to check against: set Test.Model to one of %s, or have the System promise one (harness.Promiser)",
				name, strings.Join(RegisterModels, ", "))
		}
		if !slices.Contains(RegisterModels, model) {
			return nil, fmt.Errorf("workload %s: unknown model %q: valid models are %s", name, model, strings.Join(RegisterModels, ", "))
		}
	}
	s := &Workload{name: name, opts: opts, env: env, keys: &keySet{seen: map[string]bool{}}}
	cas := env.CAS
	check := model
	switch name {
	case "register":
		k := &rotatingKey{prefix: "r", maxOps: opts.KeyOps, maxUnknown: opts.KeyUnknown}
		s.gen = s.route(k.wrap(registerGen(k.next, cas)))
	case "kv":
		per, n := opts.PerKey, opts.OpsPerKey
		s.gen = s.route(generator.EachWorker(func(worker int) generator.Generator {
			count := 0
			return registerGen(func(ctx generator.Context) string {
				count++
				// Workers of one group share a key; each moves on after n ops.
				return fmt.Sprintf("k%d-%d", worker/per, (count-1)/n)
			}, cas)
		}))
	case "set":
		check = setChecker
		s.gen = s.route(setGen())
	default:
		return nil, fmt.Errorf("unknown workload %q: valid workloads are %s", name, strings.Join(Names, ", "))
	}
	c, err := checkers.New(check, opts.Search)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", name, err)
	}
	s.checkers = []checkers.Checker{c}
	return s, nil
}

// setUp panics when w was not set up by ForRun: harness.Run always sets
// it up; a caller of its own must too.
func (w *Workload) setUp() {
	if w.gen == nil {
		panic(fmt.Sprintf("workloads: the %s workload is not set up for a run: call ForRun first (harness.Run does)", w.name))
	}
}

// Checkers are the checkers that judge the history under the run's model.
func (w *Workload) Checkers() []checkers.Checker { w.setUp(); return slices.Clone(w.checkers) }

// Generator is the workload's main-phase generator (unbounded: the runner
// bounds it by time). It records the keys it touches, for FinalReads.
func (w *Workload) Generator() generator.Generator { w.setUp(); return w.gen }

// HomeNode is the node worker starts on: workers spread round-robin.
func (w *Workload) HomeNode(worker int) int { w.setUp(); return worker % w.env.Nodes }

// Keys returns the keys touched so far, sorted.
func (w *Workload) Keys() []string { w.setUp(); return w.keys.list() }

// FinalReads returns a generator of the final reads: every key touched, on
// every node, each once (ops carry Final and Node).
func (w *Workload) FinalReads() generator.Generator {
	var ops []generator.Op
	for _, k := range w.Keys() {
		for n := 0; n < w.env.Nodes; n++ {
			ops = append(ops, generator.Op{F: history.FRead, Key: k, Value: history.Null, Node: n, Final: true})
		}
	}
	return generator.Ops(ops...)
}

// route records the keys of emitted ops and, unless sessions are sticky,
// sends about one op in SwitchEvery to a random node (the process stays
// there). Sticky processes go to their home node.
func (w *Workload) route(g generator.Generator) generator.Generator {
	return &router{w: w, g: g}
}

type router struct {
	w *Workload
	g generator.Generator
}

func (r *router) Next(ctx generator.Context) generator.Step {
	s := r.g.Next(ctx)
	if s.Kind != generator.Emit {
		return s
	}
	r.w.keys.add(s.Op.Key)
	if !r.w.opts.Sticky && r.w.env.Nodes > 1 && ctx.Rand.IntN(r.w.opts.SwitchEvery) == 0 {
		s.Op.Node = ctx.Rand.IntN(r.w.env.Nodes)
	}
	return s
}

func (r *router) Update(ctx generator.Context, op generator.Op, c generator.Completion) {
	if u, ok := r.g.(generator.Updater); ok {
		u.Update(ctx, op, c)
	}
}

type keySet struct {
	mu   sync.Mutex
	seen map[string]bool
	keys []string
}

func (k *keySet) add(key string) {
	k.mu.Lock()
	if !k.seen[key] {
		k.seen[key] = true
		k.keys = append(k.keys, key)
	}
	k.mu.Unlock()
}

func (k *keySet) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := append([]string(nil), k.keys...)
	sortStrings(out)
	return out
}
