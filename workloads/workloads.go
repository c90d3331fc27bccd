// Package workloads defines what the clients of a test do: the bundled
// workloads register (one key at a time shared by every worker: read,
// write, cas; a fresh key after a bounded number of ops or of unknown
// outcomes), kv (many independent keys, a few workers per key) and set (adds of unique elements and reads
// of the whole set), each as a generator of operations, the final reads
// that close a run, and the checkers that apply to it under each
// consistency model.
//
// Workloads are pure: they build generators and say which checkers to run.
// How a set is stored is the system's business (see harness/refstore).
package workloads

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
)

// Names lists the bundled workloads, for usage messages.
var Names = []string{"register", "kv", "set"}

// Models maps a reference-store mode to the consistency model it promises.
var Models = map[string]string{"strong": "linearizable", "causal": "causal+", "eventual": "eventual"}

// RegisterModels are the models register and kv histories can be checked
// against (the set workload is checked by "set" whatever the model).
var RegisterModels = []string{"linearizable", "causal", "causal+", "eventual"}

// Options tune a workload.
type Options struct {
	// Model is the consistency model the history is checked against (one
	// of RegisterModels): register and kv are judged by that checker.
	Model string
	// CAS makes register and kv issue cas as well as reads and writes.
	// Only a system that says it supports cas (harness.Promise) gets it:
	// the causal checkers give cas no meaning, and a system without one
	// would fail every cas.
	CAS bool
	// Workers is the test's concurrency.
	Workers int
	// Nodes is the cluster size.
	Nodes int
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

// Workload is one of the bundled workloads, set up for a run.
type Workload struct {
	Name string
	opts Options
	// Checkers are the checkers that judge the history under the model.
	Checkers []string
	gen      generator.Generator
	keys     *keySet
}

// New returns the workload named name, set up with opts, or an error
// listing the valid names.
func New(name string, opts Options) (*Workload, error) {
	if opts.Workers <= 0 {
		return nil, fmt.Errorf("workload %s: concurrency must be at least 1, not %d", name, opts.Workers)
	}
	if opts.Nodes <= 0 {
		return nil, fmt.Errorf("workload %s: nodes must be at least 1, not %d", name, opts.Nodes)
	}
	model := opts.Model
	if name != "set" && !slices.Contains(RegisterModels, model) {
		return nil, fmt.Errorf("workload %s: unknown model %q: valid models are %s", name, model, strings.Join(RegisterModels, ", "))
	}
	if opts.SwitchEvery <= 0 {
		opts.SwitchEvery = 10
	}
	if opts.PerKey <= 0 {
		opts.PerKey = 3
	}
	if opts.OpsPerKey <= 0 {
		opts.OpsPerKey = 100
	}
	if opts.KeyOps == 0 {
		opts.KeyOps = DefaultKeyOps
	}
	if opts.KeyUnknown == 0 {
		opts.KeyUnknown = DefaultKeyUnknown
	}
	w := &Workload{Name: name, opts: opts, keys: &keySet{seen: map[string]bool{}}}
	cas := opts.CAS
	switch name {
	case "register":
		w.Checkers = []string{model}
		k := &rotatingKey{prefix: "r", maxOps: opts.KeyOps, maxUnknown: opts.KeyUnknown}
		w.gen = w.route(k.wrap(registerGen(k.next, cas)))
	case "kv":
		w.Checkers = []string{model}
		per, n := opts.PerKey, opts.OpsPerKey
		w.gen = w.route(generator.EachWorker(func(worker int) generator.Generator {
			count := 0
			return registerGen(func(ctx generator.Context) string {
				count++
				// Workers of one group share a key; each moves on after n ops.
				return fmt.Sprintf("k%d-%d", worker/per, (count-1)/n)
			}, cas)
		}))
	case "set":
		w.Checkers = []string{"set"}
		w.gen = w.route(setGen())
	default:
		return nil, fmt.Errorf("unknown workload %q: valid workloads are %s", name, strings.Join(Names, ", "))
	}
	return w, nil
}

// Generator is the workload's main-phase generator (unbounded: the runner
// bounds it by time). It records the keys it touches, for FinalReads.
func (w *Workload) Generator() generator.Generator { return w.gen }

// HomeNode is the node worker starts on: workers spread round-robin.
func (w *Workload) HomeNode(worker int) int { return worker % w.opts.Nodes }

// Keys returns the keys touched so far, sorted.
func (w *Workload) Keys() []string { return w.keys.list() }

// FinalReads returns a generator of the final reads: every key touched, on
// every node, each once (ops carry Final and Node).
func (w *Workload) FinalReads() generator.Generator {
	var ops []generator.Op
	for _, k := range w.Keys() {
		for n := 0; n < w.opts.Nodes; n++ {
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
	if !r.w.opts.Sticky && r.w.opts.Nodes > 1 && ctx.Rand.IntN(r.w.opts.SwitchEvery) == 0 {
		s.Op.Node = ctx.Rand.IntN(r.w.opts.Nodes)
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
