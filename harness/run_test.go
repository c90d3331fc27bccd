package harness_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/local"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/workloads"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

// pidRecorder wraps the local backend to learn the node pids, so the test
// can check that none is left.
type pidBackend struct {
	*local.Backend
	clusters []*local.Cluster
}

func (b *pidBackend) Start(ctx context.Context, sys harness.System, spec harness.ClusterSpec) (harness.Cluster, error) {
	c, err := b.Backend.Start(ctx, sys, spec)
	if err == nil {
		b.clusters = append(b.clusters, c.(*local.Cluster))
	}
	return c, err
}

func newTest(t *testing.T, mode store.Mode, workload harness.Workload) (harness.Test, *pidBackend) {
	t.Helper()
	sys, err := refstore.New(testbin.Storenode(t), mode, nil)
	require.NoError(t, err)
	b := &pidBackend{Backend: local.New(local.Options{})}
	return harness.Test{
		System: sys, Backend: b, Workload: workload,
		Nodes: 3, Concurrency: 5, TimeLimit: 3 * time.Second, QuietPeriod: 500 * time.Millisecond,
		OpTimeout: 2 * time.Second, Seed: 42, RunsDir: t.TempDir(),
	}, b
}

func assertNoNodeLeft(t *testing.T, pids map[string]int) {
	t.Helper()
	for id, pid := range pids {
		assert.Error(t, syscall.Kill(pid, 0), "node %s (pid %d) still runs", id, pid)
	}
}

func TestRunStrongKV(t *testing.T) {
	tt, b := newTest(t, store.Strong, workloads.KV())
	var progress []harness.Progress
	var pids map[string]int
	tt.Progress = func(p harness.Progress) {
		progress = append(progress, p)
		if pids == nil {
			pids = b.clusters[0].Pids()
		}
	}
	res, err := harness.Run(context.Background(), tt)
	require.NoError(t, err)
	require.Len(t, b.clusters, 1)
	require.Len(t, pids, 3, "three node processes ran")
	assertNoNodeLeft(t, pids)

	assert.Equal(t, "local", res.Backend)
	assert.Equal(t, []string{"linearizable"}, res.Checkers)
	assert.Greater(t, res.OK, int64(50))
	assert.NotEmpty(t, progress)
	assert.DirExists(t, res.Dir)
	assert.Equal(t, filepath.Join(tt.RunsDir, "linearizable-kv-none"), filepath.Dir(res.Dir), "named by the model the system promises")
	link, err := os.Readlink(filepath.Join(tt.RunsDir, "latest"))
	require.NoError(t, err)
	assert.Equal(t, res.Dir, filepath.Join(tt.RunsDir, link))
	for _, f := range []string{"test.json", "history.jsonl", "nodes/n1.log", "nodes/n3.log"} {
		assert.FileExists(t, filepath.Join(res.Dir, f))
	}

	var meta map[string]any
	b1, err := os.ReadFile(filepath.Join(res.Dir, "test.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b1, &meta))
	assert.Equal(t, float64(42), meta["seed"])
	assert.Equal(t, "local", meta["backend"])
	assert.Equal(t, []any{"linearizable"}, meta["checkers"])
	assert.Equal(t, "kv", meta["workload"])
	assert.Equal(t, "linearizable", meta["model"], "the model strong mode promises")
	assert.Equal(t, "linearizable", meta["promised"])
	assert.NoFileExists(t, filepath.Join(res.Dir, "report.html"), "no report unless Test.Report asks")
	assert.NotEmpty(t, meta["go_version"])
	assert.NotEmpty(t, meta["start"])

	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	require.NoError(t, err, "the history follows the contract")
	assert.Empty(t, h.Warnings)
	ops := history.Pair(h.Events)
	final := map[string]bool{}
	keys := map[string]bool{}
	for _, op := range ops {
		assert.True(t, op.Completed(), "every op completed (no interrupt)")
		if op.Final {
			assert.Equal(t, history.FRead, op.F)
			assert.NotEmpty(t, op.Node)
			final[op.Key+"@"+op.Node] = true
		} else {
			keys[op.Key] = true
		}
	}
	assert.Len(t, final, len(keys)*3, "every key read finally on every node")

	if res.Checked {
		assert.FileExists(t, filepath.Join(res.Dir, "results.json"))
		assert.Equal(t, "valid", res.Summary.Valid.String(), "a fault-free strong run is linearizable: %+v", res.Summary)
	} else {
		t.Logf("checkers not available: %v", res.CheckErr)
	}
}

func TestRunInterruptedKeepsHistory(t *testing.T) {
	tt, b := newTest(t, store.Strong, workloads.Register())
	tt.TimeLimit = 5 * time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	tt.Progress = func(p harness.Progress) {
		if p.OK > 20 {
			cancel()
		}
	}
	start := time.Now()
	res, err := harness.Run(ctx, tt)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 60*time.Second, "the interrupt stopped the run (time limit: 5 min)")
	assert.True(t, res.Interrupted)
	require.Len(t, b.clusters, 1)
	assert.Empty(t, b.clusters[0].Pids(), "every node stopped")
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	require.NoError(t, err)
	assert.NotEmpty(t, h.Events)
	var meta map[string]any
	raw, _ := os.ReadFile(filepath.Join(res.Dir, "test.json"))
	require.NoError(t, json.Unmarshal(raw, &meta))
	assert.Equal(t, true, meta["interrupted"])
	for k, v := range map[string]any{"workload": "register", "sticky": false, "key_ops": float64(workloads.DefaultKeyOps),
		"key_unknown": float64(workloads.DefaultKeyUnknown), "nemesis": []any{}, "nemesis_interval": "10s", "checkers": []any{"linearizable"}} {
		assert.Equal(t, v, meta[k], "test.json %s", k)
	}
}

func TestRunsDirNotWritable(t *testing.T) {
	// Tests run as root, who writes anywhere: a path under a regular file
	// cannot be created by anyone.
	tt, b := newTest(t, store.Strong, workloads.KV())
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	tt.RunsDir = filepath.Join(f, "runs")
	_, err := harness.Run(context.Background(), tt)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--out")
	assert.Empty(t, b.clusters, "no node started")
}

func TestRunRejectsBadPartsBeforeStarting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		workload harness.Workload
		nemesis  harness.Nemesis
		checkers []string
		want     string
	}{
		{"no workload", nil, nil, nil, "needs a Workload"},
		{"no checker", &ownWorkload{}, nil, nil, "no checker judges workload one-key"},
		{"bad nemesis", workloads.KV(), nemesis.New(nemesis.Config{Faults: []string{"meteor"}}), nil, "valid names are partition"},
		{"register checker on a set", workloads.Set(), nil, []string{"set", "linearizable"},
			`checker "linearizable" cannot judge workload set's histories (it would judge its ops as something they are not): the checkers that fit set are set`},
		{"set checker on registers", workloads.Register(), nil, []string{"set"},
			`checker "set" cannot judge workload register's histories (it would judge its ops as something they are not): the checkers that fit register are linearizable, causal, causal+, eventual`},
		{"set checker on kv", workloads.KV(), nil, []string{"causal", "set"}, `checker "set" cannot judge workload kv's histories`},
	} {
		tt, b := newTest(t, store.Strong, tc.workload)
		tt.Nemesis = tc.nemesis
		for _, n := range tc.checkers {
			c, err := checkers.New(n, checkers.Options{})
			require.NoError(t, err)
			tt.Checkers = append(tt.Checkers, c)
		}
		_, err := harness.Run(context.Background(), tt)
		require.ErrorContains(t, err, tc.want, tc.name)
		assert.Empty(t, b.clusters, tc.name)
	}
}

func TestRunWithNemesisRecordsFaultsAndHeals(t *testing.T) {
	tt, _ := newTest(t, store.Strong, workloads.Register())
	tt.Nemesis = nemesis.New(nemesis.Config{Faults: []string{"kill", "partition"}, Interval: 700 * time.Millisecond})
	tt.TimeLimit = 5 * time.Second
	tt.QuietPeriod = 2 * time.Second
	res, err := harness.Run(context.Background(), tt)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(tt.RunsDir, "linearizable-register-kill+partition"), filepath.Dir(res.Dir))
	assert.Positive(t, res.Nemesis.Started, "the bundled nemesis's stats")
	var meta map[string]any
	raw, _ := os.ReadFile(filepath.Join(res.Dir, "test.json"))
	require.NoError(t, json.Unmarshal(raw, &meta))
	assert.Equal(t, []any{"kill", "partition"}, meta["nemesis"])
	assert.Equal(t, "700ms", meta["nemesis_interval"])
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	require.NoError(t, err)
	faults := history.Faults(h.Events)
	require.NotEmpty(t, faults, "the nemesis recorded its faults in the same history")
	for _, f := range faults {
		assert.Contains(t, []string{"kill", "partition"}, f.Name)
	}
	// After the heal every node answers the final reads.
	final := map[string]int{}
	for _, op := range history.Pair(h.Events) {
		if op.Final && op.Type == history.OK {
			final[op.Node]++
		}
	}
	assert.Len(t, final, 3, "final reads succeeded on every node after the heal: %v", final)
	if res.Checked {
		assert.Equal(t, "valid", res.Summary.Valid.String(), "the strong store is linearizable under kills and partitions: %+v", res.Summary)
	}
}

// plainSystem is a real system seen through harness.System alone: no
// ClockSkewer, no Promiser.
type plainSystem struct{ harness.System }

// A fault the system or the backend can never apply is refused before
// any node starts, instead of ending the run when the schedule draws it.
func TestRunRefusesFaultsTheSetupCannotApply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain bool
		cfg   nemesis.Config
		want  string
	}{
		{"clock without ClockSkewer", true, nemesis.Config{Faults: []string{"partition", "clock"}},
			"the clock fault needs a system whose nodes take a clock offset, and faultline-store does not implement harness.ClockSkewer"},
		{"packet modes the local backend cannot apply", false, nemesis.Config{Faults: []string{"packet"}, Packets: []string{"delay", "duplicate", "reorder"}},
			"the local backend cannot apply packet faults duplicate, reorder here (it can apply delay, loss)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt, b := newTest(t, store.Strong, workloads.Register())
			if tc.plain {
				tt.System, tt.Model = plainSystem{tt.System}, "linearizable"
			}
			tt.Nemesis = nemesis.New(tc.cfg)
			start := time.Now()
			_, err := harness.Run(context.Background(), tt)
			require.ErrorContains(t, err, tc.want)
			assert.Empty(t, b.clusters, "no node started")
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

// With no packet modes named, the packet fault on the local backend draws
// only delay and loss: a seed whose schedule drew duplicate first (which
// ended the run) now runs through, and test.json says what was drawn from.
func TestRunDrawsOnlyPacketModesTheBackendApplies(t *testing.T) {
	tt, _ := newTest(t, store.Strong, workloads.Register())
	tt.Nemesis = nemesis.New(nemesis.Config{Faults: []string{"packet"}, Interval: 500 * time.Millisecond})
	seed, err := harness.PickSeed(tt, 1, func(i int, st nemesis.Step) bool {
		return i > 0 || (st.Start && (st.Mode == "duplicate" || st.Mode == "reorder"))
	})
	require.NoError(t, err)
	tt.Seed = seed
	res, err := harness.Run(context.Background(), tt)
	require.NoError(t, err, "seed %d", seed)
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	require.NoError(t, err)
	faults := history.Faults(h.Events)
	require.NotEmpty(t, faults)
	for _, f := range faults {
		var v struct{ Mode string }
		require.NoError(t, json.Unmarshal(f.StartValue, &v))
		assert.Contains(t, []string{"delay", "loss"}, v.Mode, "seed %d", seed)
	}
	var meta map[string]any
	raw, _ := os.ReadFile(filepath.Join(res.Dir, "test.json"))
	require.NoError(t, json.Unmarshal(raw, &meta))
	assert.Equal(t, []any{"delay", "loss"}, meta["packet_modes"])
}

// blockingChecker stands for a long check: it calls onCheck, then waits
// for its context to end (at most wait) and says whether it did.
type blockingChecker struct {
	onCheck   func()
	wait      time.Duration
	cancelled bool
}

func (c *blockingChecker) Name() string { return "blocking" }

func (c *blockingChecker) Check(ctx context.Context, _ []history.Event) checkers.Result {
	c.onCheck()
	select {
	case <-ctx.Done():
		c.cancelled = true
		return checkers.Result{Checker: c.Name(), Valid: checkers.Unknown, Reason: "cancelled"}
	case <-time.After(c.wait):
		return checkers.Result{Checker: c.Name(), Valid: checkers.Valid}
	}
}

// An interrupt during the main phase still checks what was recorded (the
// check's context is detached); one that comes while the check runs
// cancels it at once: unknown, results.json not written, the result says
// the check was cancelled.
func TestRunInterruptDuringCheckCancelsIt(t *testing.T) {
	for _, tc := range []struct {
		name          string
		duringCheck   bool
		wantCancelled bool
	}{
		{"interrupt in the main phase: checked in full", false, false},
		{"interrupt during the check: cancelled", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt, _ := newTest(t, store.Strong, workloads.KV())
			tt.Nodes, tt.TimeLimit = 1, 2*time.Second
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &blockingChecker{wait: 3 * time.Second, onCheck: func() {
				if tc.duringCheck {
					cancel()
				}
			}}
			tt.Checkers = []checkers.Checker{c}
			if !tc.duringCheck {
				tt.TimeLimit = 5 * time.Minute
				tt.Progress = func(p harness.Progress) {
					if p.OK > 5 {
						cancel()
					}
				}
			}
			start := time.Now()
			res, err := harness.Run(ctx, tt)
			require.NoError(t, err)
			require.True(t, res.Checked)
			assert.Equal(t, tc.wantCancelled, c.cancelled, "the checker's context")
			assert.Equal(t, tc.wantCancelled, res.CheckCancelled)
			var meta map[string]any
			raw, _ := os.ReadFile(filepath.Join(res.Dir, "test.json"))
			require.NoError(t, json.Unmarshal(raw, &meta))
			if tc.wantCancelled {
				assert.Less(t, time.Since(start), 2*time.Second+c.wait, "the check did not run its course")
				assert.Equal(t, checkers.Unknown, res.Summary.Valid)
				assert.NoFileExists(t, filepath.Join(res.Dir, "results.json"), "a cancelled check writes no verdict")
				assert.Equal(t, true, meta["check_cancelled"])
				assert.Equal(t, false, meta["interrupted"], "the history is whole")
			} else {
				assert.True(t, res.Interrupted)
				assert.Equal(t, checkers.Valid, res.Summary.Valid)
				assert.FileExists(t, filepath.Join(res.Dir, "results.json"))
				assert.Nil(t, meta["check_cancelled"])
			}
		})
	}
}
