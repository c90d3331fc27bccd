package harnesstest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/local"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/workloads"
)

func TestJudge(t *testing.T) {
	sum := checkers.Summary{Valid: checkers.Invalid, Results: []checkers.Result{
		{Checker: "linearizable", Valid: checkers.Invalid, Anomalies: []checkers.Anomaly{
			{Name: "nonlinearizable", Keys: []string{"k1"}, Explanation: "no order of these ops"},
			{Name: "nonlinearizable", Keys: []string{"k2"}, Explanation: "again"},
		}},
		{Checker: "causal", Valid: checkers.Valid},
		{Checker: "eventual", Valid: checkers.Unknown, Reason: "no final reads"},
	}}
	res := harness.RunResult{Checked: true, Summary: sum, Invoked: 10, OK: 8}
	tests := []struct {
		name string
		res  harness.RunResult
		want harness.Expect
		msg  []string // "" = met
	}{
		{"met", res, harness.Expect{"linearizable": checkers.Invalid, "causal": checkers.Valid}, nil},
		{"unnamed checkers are not judged", res, harness.Expect{"causal": checkers.Valid}, nil},
		{"invalid where valid expected", res, harness.Expect{"linearizable": checkers.Valid},
			[]string{"linearizable: expected valid, got invalid", "nonlinearizable×2", "nonlinearizable (k1): no order of these ops"}},
		{"valid where invalid expected", res, harness.Expect{"causal": checkers.Invalid}, []string{"causal: expected invalid, got valid"}},
		{"unknown meets neither", res, harness.Expect{"eventual": checkers.Invalid}, []string{"eventual: expected invalid, got unknown", "reason: no final reads"}},
		{"checker did not run", res, harness.Expect{"set": checkers.Valid}, []string{"set: expected valid, but the checker did not run"}},
		{"nothing succeeded", harness.RunResult{Checked: true, Summary: sum, Invoked: 5, Fail: 5}, harness.Expect{"causal": checkers.Valid}, []string{"no operation succeeded"}},
		{"not checked", harness.RunResult{CheckErr: fmt.Errorf("boom")}, harness.Expect{"causal": checkers.Valid}, []string{"verdict unknown", "boom"}},
		{"interrupted fails even where every expectation is met", harness.RunResult{Checked: true, Summary: sum, Invoked: 10, OK: 8, Interrupted: true,
			TimeLimit: 15 * time.Second, MainPhase: 5744 * time.Millisecond}, harness.Expect{"causal": checkers.Valid},
			[]string{"the run was interrupted at 5.7s of its 15s TimeLimit", "no verdict on it counts", "causal valid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := harnesstest.Judge(tc.res, tc.want)
			if tc.msg == nil {
				assert.Empty(t, msg)
				return
			}
			for _, m := range tc.msg {
				assert.Contains(t, msg, m)
			}
		})
	}
}

// fakeT records what Run reports, for the case where Run must fail the
// test (the real t must not fail then). Everything else goes to the real
// t. Fatal ends the goroutine, as testing does.
type fakeT struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Log(args ...any) {
	f.mu.Lock()
	f.msgs = append(f.msgs, fmt.Sprint(args...))
	f.mu.Unlock()
}
func (f *fakeT) Logf(format string, args ...any) { f.Log(fmt.Sprintf(format, args...)) }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
	f.Log(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *fakeT) Failed() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.failed }

func (f *fakeT) text() string { f.mu.Lock(); defer f.mu.Unlock(); return strings.Join(f.msgs, "\n") }

func runIn(f *fakeT, test harness.Test, want harness.Expect) (res harness.RunResult) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = harnesstest.Run(f, test, want)
	}()
	<-done
	return res
}

// Run on three real local strong-mode nodes: an expectation that holds
// passes and the run directory is removed with the test; one that does not
// fails with the verdicts, and the run directory stays.
func TestRunOnRealNodes(t *testing.T) {
	bin := testbin.Storenode(t)
	sys, err := refstore.New(bin, store.Strong, nil)
	require.NoError(t, err)
	runs := t.TempDir()
	t.Setenv(harnesstest.RunsDirEnv, "")
	test := harness.Test{System: sys, Backend: local.New(local.Options{}), Workload: workloads.KV(),
		TimeLimit: 2 * time.Second, QuietPeriod: 500 * time.Millisecond, Concurrency: 4}

	var passedDir string
	t.Run("expectation met", func(t *testing.T) {
		res := harnesstest.Run(t, test, harness.Expect{"linearizable": checkers.Valid, "causal": checkers.Valid})
		passedDir = res.Dir
		assert.Positive(t, res.OK)
		require.Len(t, res.Summary.Results, 2, "the workload's checker and the expected one")
		assert.DirExists(t, res.Dir)
	})
	require.NotEmpty(t, passedDir)
	assert.NoDirExists(t, passedDir, "a passing test's run directory is removed when it ends")

	f := &fakeT{TB: t}
	test.RunsDir = runs
	runIn(f, test, harness.Expect{"linearizable": checkers.Invalid})
	assert.True(t, f.Failed(), "a verdict that differs from the expectation fails the test")
	out := f.text()
	assert.Contains(t, out, "linearizable: expected invalid, got valid")
	m := regexp.MustCompile(`run directory: (\S+) \(local backend, seed 1`).FindStringSubmatch(out)
	require.NotNil(t, m, "the run directory is logged: %s", out)
	assert.True(t, strings.HasPrefix(m[1], runs))
	assert.FileExists(t, filepath.Join(m[1], "history.jsonl"), "a failed test's run directory stays")

	f = &fakeT{TB: t}
	runIn(f, harness.Test{Workload: workloads.KV()}, harness.Expect{"linearizable": checkers.Valid})
	assert.True(t, f.Failed())
	assert.Contains(t, f.text(), "Test.System must be set")

	f = &fakeT{TB: t}
	runIn(f, test, harness.Expect{"linearisable": checkers.Valid})
	assert.True(t, f.Failed())
	assert.Contains(t, f.text(), `unknown checker "linearisable": the checkers are linearizable, causal, causal+, eventual, set`)
	entries, _ := os.ReadDir(runs + "/linearizable-kv-none")
	assert.Len(t, entries, 1, "a bad expectation starts nothing")

	f = &fakeT{TB: t}
	set := test
	set.Workload = workloads.Set()
	runIn(f, set, harness.Expect{"linearizable": checkers.Valid})
	assert.True(t, f.Failed(), "a checker that does not fit the workload is refused")
	assert.Contains(t, f.text(), `checker "linearizable" cannot judge workload set's histories`)
	assert.NoDirExists(t, runs+"/linearizable-set-none", "and nothing started")
}

// deadlineT is a fakeT with a test deadline, as `go test -timeout` sets.
type deadlineT struct {
	*fakeT
	deadline time.Time
}

func (d deadlineT) Deadline() (time.Time, bool) { return d.deadline, true }

// A run that the test's deadline cuts short fails the test and says so,
// though the partial history meets the expectation (the strong store is
// linearizable): a verdict on part of a run must not pass.
func TestRunCutShortByTheTestDeadlineFails(t *testing.T) {
	bin := testbin.Storenode(t)
	sys, err := refstore.New(bin, store.Strong, nil)
	require.NoError(t, err)
	// Run ends its context a tenth of the time left plus 30s before the
	// deadline: this deadline leaves the run about 4s of its 60s (20s
	// under -short).
	f := deadlineT{fakeT: &fakeT{TB: t}, deadline: time.Now().Add(37*time.Second + 800*time.Millisecond)}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		harnesstest.Run(f, harness.Test{System: sys, Backend: local.New(local.Options{}), Workload: workloads.KV(),
			TimeLimit: time.Minute, Concurrency: 3, RunsDir: t.TempDir()}, harness.Expect{"linearizable": checkers.Valid})
	}()
	<-done
	assert.Less(t, time.Since(start), 15*time.Second, "the run stopped at the context's deadline")
	assert.True(t, f.Failed(), "an interrupted run fails the test")
	out := f.text()
	assert.Regexp(t, `the run was interrupted at \d+(\.\d)?s of its (1m0s|20s) TimeLimit`, out)
	assert.Contains(t, out, "cut short by the test's deadline")
	assert.Contains(t, out, "raise go test -timeout or shorten the test")
	t.Log(out)
}

// With no Backend, Run takes the one $FAULTLINE_BACKEND names (through
// harness/backends, as reftest and systemtest do), else local; a value
// that names no backend fails the test before anything starts.
func TestRunTakesTheBackendFromTheEnvironment(t *testing.T) {
	bin := testbin.Storenode(t)
	sys, err := refstore.New(bin, store.Strong, nil)
	require.NoError(t, err)
	test := harness.Test{System: sys, Workload: workloads.KV(), TimeLimit: time.Second,
		QuietPeriod: 300 * time.Millisecond, Concurrency: 3, RunsDir: t.TempDir()}

	t.Setenv("FAULTLINE_BACKEND", "k8s")
	f := &fakeT{TB: t}
	runIn(f, test, harness.Expect{"linearizable": checkers.Valid})
	assert.True(t, f.Failed())
	assert.Contains(t, f.text(), `harnesstest.Run: FAULTLINE_BACKEND="k8s": valid values are local and docker (unset: local)`)

	for _, env := range []string{"local", ""} {
		t.Setenv("FAULTLINE_BACKEND", env)
		res := harnesstest.Run(t, test, harness.Expect{"linearizable": checkers.Valid})
		assert.Equal(t, "local", res.Backend, "FAULTLINE_BACKEND=%q", env)
	}
}

// releasingBackend is the real local backend whose first Start meets a
// port held by the test (a real "address in use"); the port is released
// after that attempt.
type releasingBackend struct {
	*local.Backend
	hold   net.Listener
	starts int
}

func (b *releasingBackend) Start(ctx context.Context, sys harness.System, spec harness.ClusterSpec) (harness.Cluster, error) {
	b.starts++
	c, err := b.Backend.Start(ctx, sys, spec)
	if b.hold != nil {
		b.hold.Close()
		b.hold = nil
	}
	return c, err
}

func TestRunRetriesAClusterThatDidNotStart(t *testing.T) {
	bin := testbin.Storenode(t)
	sys, err := refstore.New(bin, store.Causal, nil)
	require.NoError(t, err)
	port, hold := freeBlock(t, 6)
	// Node n1's client port is the held one; the other five were free.
	b := &releasingBackend{Backend: local.New(local.Options{BasePort: port}), hold: hold}
	runs := t.TempDir()
	res := harnesstest.Run(t, harness.Test{System: sys, Backend: b, Workload: workloads.KV(),
		TimeLimit: time.Second, QuietPeriod: 300 * time.Millisecond, Concurrency: 3, RunsDir: runs},
		harness.Expect{"causal+": checkers.Valid})
	assert.Equal(t, 2, b.starts, "one failed start, one retry")
	assert.Positive(t, res.OK)
	entries, err := os.ReadDir(filepath.Join(runs, "causal+-kv-none"))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "the failed attempt's directory stays in an explicit runs dir")
}

// freeBlock finds n consecutive loopback ports that are free now, below
// the kernel's ephemeral range (so no outgoing connection or ":0"
// listener of a test running alongside can take one before the cluster
// binds it), and keeps the first one held.
func freeBlock(t *testing.T, n int) (int, net.Listener) {
	t.Helper()
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var l, h int
		if _, err := fmt.Sscan(string(b), &l, &h); err == nil && l > 11000 {
			lo = l
		}
	}
	for try := 0; try < 100; try++ {
		base := 10000 + rand.IntN(lo-10000-n)
		var held []net.Listener
		for i := 0; i < n; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		if len(held) == n {
			for _, l := range held[1:] {
				l.Close()
			}
			return base, held[0]
		}
		for _, l := range held {
			l.Close()
		}
	}
	t.Fatalf("no block of %d free ports below %d", n, lo)
	return 0, nil
}
