package workloads

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
)

// drive asks w's generator for n ops per worker, completing each as ok
// (reads return null).
func drive(t *testing.T, w *Workload, workers, n int, seed int64) map[int][]generator.Op {
	t.Helper()
	g := w.Generator()
	out := map[int][]generator.Op{}
	rs := make([]*rand.Rand, workers)
	for i := range rs {
		rs[i] = generator.NewRand(seed, i)
	}
	for i := 0; i < n; i++ {
		for wk := 0; wk < workers; wk++ {
			ctx := generator.Context{Now: time.Duration(i) * time.Millisecond, Worker: wk, Workers: workers, Process: wk, Rand: rs[wk]}
			s := g.Next(ctx)
			require.Equal(t, generator.Emit, s.Kind)
			out[wk] = append(out[wk], s.Op)
			if u, ok := g.(generator.Updater); ok {
				u.Update(ctx, s.Op, generator.Completion{Type: "ok", Value: history.Null})
			}
		}
	}
	return out
}

// setUp returns the workload named name with opts, set up for env as
// harness.Run sets it up.
func setUp(t *testing.T, name string, opts Options, env harness.Env) (*Workload, error) {
	t.Helper()
	w, err := New(name, opts)
	if err != nil {
		return nil, err
	}
	hw, err := w.ForRun(env)
	if err != nil {
		return nil, err
	}
	return hw.(*Workload), nil
}

func TestBadNamesAndModelsAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name, model, want string
	}{
		{"queue", "linearizable", "valid workloads are register, kv, set"},
		{"kv", "strong", "valid models are linearizable, causal, causal+, eventual"},
		{"register", "", "no model to check against: set Test.Model"},
	} {
		_, err := setUp(t, tc.name, Options{}, harness.Env{Model: tc.model, Workers: 1, Nodes: 1})
		require.ErrorContains(t, err, tc.want, "%s/%s", tc.name, tc.model)
	}
}

func TestOneLineBuiltIns(t *testing.T) {
	for _, w := range []*Workload{Register(), KV(), Set(), Register(Options{KeyOps: 7})} {
		named, err := New(w.Name(), w.opts)
		require.NoError(t, err)
		assert.Equal(t, w, named, "%s: the one-liner is what New gives by name", w.Name())
	}
	assert.Equal(t, map[string]any{"sticky": false, "key_ops": 7, "key_unknown": DefaultKeyUnknown}, Register(Options{KeyOps: 7}).Meta())
	assert.Equal(t, map[string]any{"sticky": true}, KV(Options{Sticky: true}).Meta())
	assert.PanicsWithValue(t, "workloads: the kv workload is not set up for a run: call ForRun first (harness.Run does)", func() { KV().Generator() })
}

// One value describes many runs: each ForRun starts afresh, and the same
// seed draws the same ops.
func TestForRunStartsAfresh(t *testing.T) {
	spec := KV()
	env := harness.Env{Model: "linearizable", CAS: true, Workers: 4, Nodes: 3}
	a, err := spec.ForRun(env)
	require.NoError(t, err)
	opsA := drive(t, a.(*Workload), 4, 50, 3)
	b, err := spec.ForRun(env)
	require.NoError(t, err)
	assert.Empty(t, b.Keys(), "the second run touched no key yet")
	assert.Equal(t, opsA, drive(t, b.(*Workload), 4, 50, 3))
	assert.Equal(t, a.Keys(), b.Keys())
}

func TestCheckersFollowTheModel(t *testing.T) {
	tests := []struct{ workload, model, checker string }{
		{"register", "linearizable", "linearizable"},
		{"kv", "linearizable", "linearizable"},
		{"kv", "causal+", "causal+"},
		{"kv", "causal", "causal"},
		{"register", "eventual", "eventual"},
		{"set", "linearizable", "set"},
		{"set", "set", "set"},
		{"set", "", "set"},
	}
	for _, tc := range tests {
		w, err := setUp(t, tc.workload, Options{}, harness.Env{Model: tc.model, Workers: 3, Nodes: 3})
		require.NoError(t, err)
		require.Len(t, w.Checkers(), 1)
		assert.Equal(t, tc.checker, w.Checkers()[0].Name(), "%s/%s", tc.workload, tc.model)
		// The checker the workload picks is one it says fits it, before
		// and after ForRun (harness.Run refuses the others).
		var fitter harness.CheckerFitter = w
		fit := fitter.FitCheckers()
		assert.Contains(t, fit, tc.checker, "%s/%s", tc.workload, tc.model)
		before, err := New(tc.workload, Options{})
		require.NoError(t, err)
		assert.Equal(t, fit, before.FitCheckers())
	}
	assert.Equal(t, []string{"set"}, Set().FitCheckers())
	assert.Equal(t, RegisterModels, KV().FitCheckers())
}

func TestWrittenValuesAreUniquePerKey(t *testing.T) {
	for _, name := range []string{"register", "kv", "set"} {
		t.Run(name, func(t *testing.T) {
			w, err := setUp(t, name, Options{}, harness.Env{Model: "linearizable", CAS: true, Workers: 5, Nodes: 3})
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, ops := range drive(t, w, 5, 300, 1) {
				for _, op := range ops {
					v := op.Value
					switch op.F {
					case history.FWrite, history.FAdd:
					case history.FCAS:
						_, nv, err := history.SplitCAS(op.Value)
						require.NoError(t, err)
						v = nv
					default:
						continue
					}
					k := op.Key + "=" + string(v)
					assert.False(t, seen[k], "value written twice: %s", k)
					seen[k] = true
				}
			}
			assert.NotEmpty(t, seen)
		})
	}
}

func TestDeterministicUnderSeed(t *testing.T) {
	mk := func(seed int64) map[int][]generator.Op {
		w, err := setUp(t, "kv", Options{}, harness.Env{Model: "linearizable", CAS: true, Workers: 4, Nodes: 3})
		require.NoError(t, err)
		return drive(t, w, 4, 200, seed)
	}
	assert.Equal(t, mk(7), mk(7))
	assert.NotEqual(t, mk(7), mk(8))
}

func TestCASOnlyWhenTheSystemSupportsIt(t *testing.T) {
	for _, want := range []bool{true, false} {
		w, err := setUp(t, "register", Options{}, harness.Env{Model: "linearizable", CAS: want, Workers: 2, Nodes: 1})
		require.NoError(t, err)
		cas := false
		for _, ops := range drive(t, w, 2, 200, 1) {
			for _, op := range ops {
				cas = cas || op.F == history.FCAS
			}
		}
		assert.Equal(t, want, cas)
	}
}

func TestCASExpectsLastSeenValue(t *testing.T) {
	w, err := setUp(t, "register", Options{}, harness.Env{Model: "linearizable", CAS: true, Workers: 1, Nodes: 1})
	require.NoError(t, err)
	last := map[string]int64{} // key -> last value written; 0 on a fresh key
	for _, op := range drive(t, w, 1, 300, 3)[0] {
		switch op.F {
		case history.FWrite:
			last[op.Key], _ = strconv.ParseInt(string(op.Value), 10, 64)
		case history.FCAS:
			exp, nv, err := history.SplitCAS(op.Value)
			require.NoError(t, err)
			assert.Equal(t, strconv.FormatInt(last[op.Key], 10), string(exp), "cas expects the worker's last ok value on its key")
			last[op.Key], _ = strconv.ParseInt(string(nv), 10, 64)
		}
	}
	assert.Len(t, last, (300+DefaultKeyOps-1)/DefaultKeyOps, "300 ops on keys of DefaultKeyOps")
}

func TestKVGroupsWorkersAndRotatesKeys(t *testing.T) {
	w, err := setUp(t, "kv", Options{PerKey: 3, OpsPerKey: 10}, harness.Env{Model: "linearizable", CAS: true, Workers: 6, Nodes: 3})
	require.NoError(t, err)
	ops := drive(t, w, 6, 25, 1)
	assert.Equal(t, "k0-0", ops[0][0].Key)
	assert.Equal(t, "k0-0", ops[2][0].Key, "workers 0..2 share a key")
	assert.Equal(t, "k1-0", ops[3][0].Key)
	assert.Equal(t, "k0-1", ops[0][10].Key, "after 10 ops a worker moves on")
	assert.Equal(t, "k0-2", ops[0][20].Key)
	assert.Equal(t, []string{"k0-0", "k0-1", "k0-2", "k1-0", "k1-1", "k1-2"}, w.Keys())
}

func TestFinalReadsEveryKeyOnEveryNode(t *testing.T) {
	w, err := setUp(t, "kv", Options{PerKey: 1, OpsPerKey: 5}, harness.Env{Model: "causal+", Workers: 2, Nodes: 3})
	require.NoError(t, err)
	drive(t, w, 2, 10, 1)
	keys := w.Keys()
	require.Len(t, keys, 4)
	g := w.FinalReads()
	got := map[string]bool{}
	for {
		s := g.Next(generator.Context{Workers: 1, Rand: generator.NewRand(1, 0)})
		if s.Kind == generator.Done {
			break
		}
		assert.True(t, s.Op.Final)
		assert.Equal(t, history.FRead, s.Op.F)
		got[fmt.Sprint(s.Op.Key, "@", s.Op.Node)] = true
	}
	assert.Len(t, got, 12)
}

func TestStickyNeverSwitches(t *testing.T) {
	for _, sticky := range []bool{true, false} {
		w, err := setUp(t, "register", Options{Sticky: sticky}, harness.Env{Model: "linearizable", CAS: true, Workers: 3, Nodes: 3})
		require.NoError(t, err)
		switched := 0
		for _, ops := range drive(t, w, 3, 200, 1) {
			for _, op := range ops {
				if op.Node >= 0 {
					switched++
				}
			}
		}
		if sticky {
			assert.Zero(t, switched)
		} else {
			assert.Greater(t, switched, 20, "about one op in ten switches")
		}
	}
	w, _ := setUp(t, "kv", Options{}, harness.Env{Model: "linearizable", CAS: true, Workers: 5, Nodes: 3})
	assert.Equal(t, []int{0, 1, 2, 0, 1}, []int{w.HomeNode(0), w.HomeNode(1), w.HomeNode(2), w.HomeNode(3), w.HomeNode(4)})
}

func TestSetReadsAreWholeSetReads(t *testing.T) {
	w, err := setUp(t, "set", Options{}, harness.Env{Model: "eventual", Workers: 2, Nodes: 2})
	require.NoError(t, err)
	n := map[string]int{}
	for _, ops := range drive(t, w, 2, 500, 1) {
		for _, op := range ops {
			assert.Equal(t, SetKey, op.Key)
			n[op.F]++
			if op.F == history.FRead {
				assert.Equal(t, "null", history.Canonical(op.Value))
			}
		}
	}
	assert.InDelta(t, 100, n[history.FRead], 40, "one op in ten reads")
	assert.Equal(t, 1000, n[history.FRead]+n[history.FAdd])
}

// driveWith is drive with the completion of each op chosen by complete
// (ok with a null value otherwise).
func driveWith(t *testing.T, w *Workload, workers, n int, complete func(i int, op generator.Op) history.Type) []generator.Op {
	t.Helper()
	g := w.Generator()
	var out []generator.Op
	rs := make([]*rand.Rand, workers)
	for i := range rs {
		rs[i] = generator.NewRand(1, i)
	}
	for i := 0; i < n; i++ {
		wk := i % workers
		ctx := generator.Context{Worker: wk, Workers: workers, Process: wk, Rand: rs[wk]}
		s := g.Next(ctx)
		require.Equal(t, generator.Emit, s.Kind)
		out = append(out, s.Op)
		g.(generator.Updater).Update(ctx, s.Op, generator.Completion{Type: history.Type(complete(i, s.Op)), Value: history.Null})
	}
	return out
}

// The register workload's key moves on after KeyOps ops or KeyUnknown
// unknown outcomes, whichever comes first; the final reads cover every
// key used.
func TestRegisterRotatesKeys(t *testing.T) {
	okAll := func(int, generator.Op) history.Type { return history.OK }
	for _, tc := range []struct {
		name               string
		keyOps, keyUnknown int
		complete           func(i int, op generator.Op) history.Type
		n                  int
		want               map[string]int // key -> ops
	}{
		{"by ops", 10, 4, okAll, 25, map[string]int{"r-0": 10, "r-1": 10, "r-2": 5}},
		{"by unknown outcomes", 100, 2, func(i int, _ generator.Op) history.Type {
			if i%3 == 2 {
				return history.Info
			}
			return history.OK
		}, 12, map[string]int{"r-0": 6, "r-1": 6}},
		{"fail is not unknown", 100, 1, func(int, generator.Op) history.Type { return history.Fail }, 30, map[string]int{"r-0": 30}},
		{"default bounds", 0, 0, okAll, 2*DefaultKeyOps + 50, map[string]int{"r-0": DefaultKeyOps, "r-1": DefaultKeyOps, "r-2": 50}},
		{"never", -1, -1, func(int, generator.Op) history.Type { return history.Info }, 300, map[string]int{"r-0": 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := setUp(t, "register", Options{KeyOps: tc.keyOps, KeyUnknown: tc.keyUnknown}, harness.Env{Model: "linearizable", CAS: true, Workers: 3, Nodes: 3})
			require.NoError(t, err)
			got := map[string]int{}
			for _, op := range driveWith(t, w, 3, tc.n, tc.complete) {
				got[op.Key]++
			}
			assert.Equal(t, tc.want, got)
			var keys []string
			for k := range tc.want {
				keys = append(keys, k)
			}
			assert.ElementsMatch(t, keys, w.Keys(), "final reads cover every key used")
		})
	}
}

// An unknown outcome on a key already left does not move the current key.
func TestRegisterUnknownOnAnOldKeyDoesNotCount(t *testing.T) {
	k := &rotatingKey{prefix: "r", maxOps: 2, maxUnknown: 1}
	ctx := generator.Context{}
	assert.Equal(t, "r-0", k.next(ctx))
	assert.Equal(t, "r-0", k.next(ctx))
	assert.Equal(t, "r-1", k.next(ctx))
	k.completed("r-0", history.Info)
	assert.Equal(t, "r-1", k.next(ctx))
	k.completed("r-1", history.Info)
	assert.Equal(t, "r-2", k.next(ctx))
}
