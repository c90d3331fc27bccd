package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
)

// fakeClient is an in-process client: the runner's scheduling and
// recording are what these tests exercise, and no real system is needed
// for that (the refstore and local tests use real nodes). It returns info
// for every op whose value is a multiple of infoEvery, and checks that its
// process never has two ops outstanding.
type fakeClient struct {
	infoEvery int64
	busy      atomic.Bool
	overlaps  *atomic.Int64
	closed    *atomic.Int64
	delay     time.Duration
	node      int
}

func (c *fakeClient) Invoke(ctx context.Context, op Op) Completion {
	if !c.busy.CompareAndSwap(false, true) {
		c.overlaps.Add(1)
	}
	defer c.busy.Store(false)
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return Completion{Type: history.Info, Error: ctx.Err().Error()}
		}
	}
	var v int64
	switch op.F {
	case history.FWrite:
		json.Unmarshal(op.Value, &v)
	case history.FCAS:
		_, nv, _ := history.SplitCAS(op.Value)
		json.Unmarshal(nv, &v)
	}
	if c.infoEvery > 0 && v > 0 && v%c.infoEvery == 0 {
		return Completion{Type: history.Info, Error: "simulated unknown outcome"}
	}
	if op.F == history.FRead {
		return Completion{Type: history.OK, Value: history.IntValue(int64(c.node))}
	}
	return Completion{Type: history.OK}
}
func (c *fakeClient) Use(i int)    { c.node = i }
func (c *fakeClient) Close() error { c.closed.Add(1); return nil }

func counterGen(n int) generator.Generator {
	var i atomic.Int64
	return generator.Limit(n, generator.Func(func(ctx generator.Context) generator.Op {
		return generator.Op{F: history.FWrite, Key: "k", Value: history.IntValue(i.Add(1)), Node: -1}
	}))
}

func TestPoolRetiresProcessAfterInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	var overlaps, closed, made atomic.Int64
	const workers = 4
	p := newPool(workers, []Node{{ID: "n1"}, {ID: "n2"}}, func(w int) int { return w }, rec, func(first int) (Client, error) {
		made.Add(1)
		return &fakeClient{infoEvery: 7, overlaps: &overlaps, closed: &closed, delay: 100 * time.Microsecond, node: first}, nil
	}, time.Second, 1, time.Now())
	require.NoError(t, p.run(context.Background(), counterGen(700)))
	p.close()
	require.NoError(t, rec.Close())

	res, err := history.ReadFile(path) // validates: one outstanding op per process
	require.NoError(t, err)
	assert.Empty(t, res.Warnings)
	assert.Zero(t, overlaps.Load())
	ops := history.Pair(res.Events)
	require.Len(t, ops, 700)
	infos := 0
	procs := map[int]bool{}
	lastOp := map[int]history.Op{}
	for _, op := range ops {
		procs[op.Process] = true
		if prev, ok := lastOp[op.Process]; ok {
			assert.NotEqual(t, history.Info, prev.Type, "process %d went on after an info", op.Process)
		}
		lastOp[op.Process] = op
		if op.Type == history.Info {
			infos++
		}
	}
	assert.Equal(t, 100, infos, "every 7th of 700 values is info")
	// Each info retires a process: the next one of that worker is old+workers.
	assert.Equal(t, workers+infos, int(made.Load()), "a fresh client per new process")
	assert.Equal(t, int64(made.Load()), closed.Load(), "every client closed")
	for pr := range procs {
		if pr >= workers {
			assert.True(t, procs[pr-workers], "process %d follows retired process %d", pr, pr-workers)
		}
	}
	// nodes: worker w starts on node w%2 and records it.
	for _, e := range res.Events {
		assert.NotEmpty(t, e.Node)
	}
}

func TestPoolTimeoutIsInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	var overlaps, closed atomic.Int64
	p := newPool(2, []Node{{ID: "n1"}}, nil, rec, func(int) (Client, error) {
		return &fakeClient{overlaps: &overlaps, closed: &closed, delay: time.Hour}, nil
	}, 50*time.Millisecond, 1, time.Now())
	require.NoError(t, p.run(context.Background(), counterGen(4)))
	p.close()
	require.NoError(t, rec.Close())
	res, err := history.ReadFile(path)
	require.NoError(t, err)
	ops := history.Pair(res.Events)
	require.Len(t, ops, 4)
	for _, op := range ops {
		assert.Equal(t, history.Info, op.Type)
		assert.Contains(t, op.Error, "timeout after 50ms")
	}
	assert.Equal(t, 4, int(p.stats.Info.Load()))
}

func TestPoolStopsOnCancelWithInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	var overlaps, closed atomic.Int64
	p := newPool(3, []Node{{ID: "n1"}}, nil, rec, func(int) (Client, error) {
		return &fakeClient{overlaps: &overlaps, closed: &closed, delay: time.Hour}, nil
	}, time.Hour, 1, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, p.run(ctx, generator.Repeat(generator.Op{F: "read", Key: "k", Node: -1})))
	require.NoError(t, rec.Close())
	res, err := history.ReadFile(path)
	require.NoError(t, err)
	ops := history.Pair(res.Events)
	require.Len(t, ops, 3, "one op per worker, each cut off")
	for _, op := range ops {
		assert.True(t, op.Completed())
		assert.Equal(t, history.Info, op.Type)
		assert.Contains(t, op.Error, "interrupted")
	}
}

// lateCtx is a context whose deadline has passed but whose timer has not
// fired yet (Err still nil): what a loaded machine shows for a few
// milliseconds after a real deadline, long enough for workers whose
// client fails at once to invoke hundreds of ops.
type lateCtx struct {
	context.Context
	deadline time.Time
}

func (c lateCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// failClient fails every op at once, as a client does whose dial honours
// a deadline that has passed, and notes when it was last invoked.
type failClient struct{ last *atomic.Int64 }

func (c failClient) Invoke(context.Context, Op) Completion {
	c.last.Store(time.Now().UnixNano())
	return Completion{Type: history.Fail, Error: "not sent: dial tcp: i/o timeout"}
}
func (failClient) Use(int)      {}
func (failClient) Close() error { return nil }

func TestPoolStopsAtAPassedDeadlineWhoseTimerIsLate(t *testing.T) {
	rec, err := history.NewRecorder(filepath.Join(t.TempDir(), "history.jsonl"))
	require.NoError(t, err)
	defer rec.Close()
	var last atomic.Int64
	p := newPool(4, []Node{{ID: "n1"}}, nil, rec, func(int) (Client, error) { return failClient{&last}, nil }, time.Second, 1, time.Now())
	deadline := time.Now().Add(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- p.run(lateCtx{context.Background(), deadline}, counterGen(1_000_000)) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the pool went on invoking ops after its context's deadline")
	}
	// The last op may start a moment after the deadline (checked just
	// before the invoke is recorded), not the next second.
	assert.Less(t, time.Unix(0, last.Load()).Sub(deadline), 10*time.Millisecond, "ops were invoked after the deadline")
	assert.Less(t, p.stats.Invoked.Load(), int64(1_000_000), "the pool stopped at the deadline, not at the generator's end")
}

func TestPoolSwitchesNodesOnRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	var overlaps, closed atomic.Int64
	nodes := []Node{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}
	p := newPool(1, nodes, nil, rec, func(first int) (Client, error) {
		return &fakeClient{overlaps: &overlaps, closed: &closed, node: first}, nil
	}, time.Second, 1, time.Now())
	gen := generator.Ops(
		generator.Op{F: "read", Key: "k", Node: 2, Final: true},
		generator.Op{F: "read", Key: "k", Node: -1},
		generator.Op{F: "read", Key: "k", Node: 1, Final: true},
	)
	require.NoError(t, p.run(context.Background(), gen))
	require.NoError(t, rec.Close())
	res, err := history.ReadFile(path)
	require.NoError(t, err)
	ops := history.Pair(res.Events)
	require.Len(t, ops, 3)
	assert.Equal(t, []string{"n3", "n3", "n2"}, []string{ops[0].Node, ops[1].Node, ops[2].Node})
	assert.Equal(t, "2", string(ops[0].Output), "the client was switched to node index 2")
	assert.True(t, ops[0].Final)
	assert.False(t, ops[1].Final)
}

// noopClient completes every op at once.
type noopClient struct{}

func (noopClient) Invoke(ctx context.Context, op Op) Completion {
	if op.F == history.FRead {
		return Completion{Type: history.OK, Value: history.Null}
	}
	return Completion{Type: history.OK}
}
func (noopClient) Use(int)      {}
func (noopClient) Close() error { return nil }

// BenchmarkRunnerRecorder measures the harness alone: 10 workers, a
// register-like mix, the history recorder writing to a real file, a no-op
// client. b.N is the number of ops.
func BenchmarkRunnerRecorder(b *testing.B) {
	path := filepath.Join(b.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(b, err)
	p := newPool(10, []Node{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}, func(w int) int { return w }, rec,
		func(int) (Client, error) { return noopClient{}, nil }, 5*time.Second, 1, time.Now())
	var seq atomic.Int64
	gen := generator.Limit(b.N, generator.Mix(
		generator.Func(func(generator.Context) generator.Op {
			return generator.Op{F: history.FRead, Key: "k", Value: history.Null, Node: -1}
		}),
		generator.Func(func(generator.Context) generator.Op {
			return generator.Op{F: history.FWrite, Key: "k", Value: history.IntValue(seq.Add(1)), Node: -1}
		}),
	))
	b.ResetTimer()
	start := time.Now()
	require.NoError(b, p.run(context.Background(), gen))
	require.NoError(b, rec.Close())
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
	b.ReportMetric(0, "ns/op")
	st, _ := os.Stat(path)
	require.Greater(b, st.Size(), int64(b.N*60), "every op recorded")
}

// TestRecordingSurvivesKill records a history in a real child process (this
// test binary, re-executed), SIGKILLs it mid-run, and reads what it left.
func TestRecordingSurvivesKill(t *testing.T) {
	if path := os.Getenv("FAULTLINE_RECORD_CHILD"); path != "" {
		recordForever(path)
		return
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecordingSurvivesKill$")
	cmd.Env = append(os.Environ(), "FAULTLINE_RECORD_CHILD="+path)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Let it record for a while (more than one fsync interval).
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := os.Stat(path)
		if err == nil && st.Size() > 1<<20 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child did not record")
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	require.Error(t, err, "the child was killed, it did not finish")

	res, err := history.ReadFile(path)
	require.NoError(t, err, "a killed recorder leaves a readable history")
	assert.Greater(t, len(res.Events), 5000, "at least what was on disk when the kill came (1 MiB)")
	assert.LessOrEqual(t, len(res.Warnings), 1, "at most the torn last line is skipped")
	ops := history.Pair(res.Events)
	open := 0
	for _, op := range ops {
		if !op.Completed() {
			open++
		}
	}
	assert.LessOrEqual(t, open, 10, "at most one open op per worker")
}

func recordForever(path string) {
	rec, err := history.NewRecorder(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p := newPool(10, []Node{{ID: "n1"}}, nil, rec, func(int) (Client, error) { return slowNoop{}, nil }, time.Second, 1, time.Now())
	var i atomic.Int64
	p.run(context.Background(), generator.Func(func(generator.Context) generator.Op {
		return generator.Op{F: history.FWrite, Key: "k", Value: history.IntValue(i.Add(1)), Node: -1}
	}))
	os.Exit(0)
}

type slowNoop struct{ noopClient }

func (slowNoop) Invoke(ctx context.Context, op Op) Completion {
	time.Sleep(50 * time.Microsecond)
	return Completion{Type: history.OK}
}

// randomOps draws every op from the worker's generator.Context.Rand (as
// the bundled workloads do): a key, a read or a write, and now and then
// another node.
type randomOps struct{}

func (randomOps) Next(ctx generator.Context) generator.Step {
	op := generator.Op{F: history.FRead, Key: fmt.Sprint("k", ctx.Rand.IntN(4)), Value: history.Null, Node: -1}
	if ctx.Rand.IntN(2) == 0 {
		op.F, op.Value = history.FWrite, json.RawMessage(fmt.Sprint(ctx.Rand.IntN(1000)))
	}
	if ctx.Rand.IntN(10) == 0 {
		op.Node = ctx.Rand.IntN(3)
	}
	return generator.Emitting(op)
}

// TestSameSeedSameOpsPerProcess runs random ops twice through the
// runner with the same seed and a client whose completions depend only on
// the op: every process must see the same sequence of ops.
func TestSameSeedSameOpsPerProcess(t *testing.T) {
	run := func(seed int64) map[int][]string {
		path := filepath.Join(t.TempDir(), "history.jsonl")
		rec, err := history.NewRecorder(path)
		require.NoError(t, err)
		var overlaps, closed atomic.Int64
		p := newPool(6, []Node{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}, func(w int) int { return w % 3 }, rec, func(first int) (Client, error) {
			return &fakeClient{infoEvery: 11, overlaps: &overlaps, closed: &closed, node: first}, nil
		}, time.Second, seed, time.Now())
		require.NoError(t, p.run(context.Background(), &perWorkerLimit{n: 150, g: randomOps{}, done: map[int]int{}}))
		p.close()
		require.NoError(t, rec.Close())
		h, err := history.ReadFile(path)
		require.NoError(t, err)
		out := map[int][]string{}
		for _, op := range history.Pair(h.Events) {
			out[op.Process] = append(out[op.Process], fmt.Sprint(op.F, " ", op.Key, " ", string(op.Input), " @", op.Node, " ", op.Type))
		}
		return out
	}
	a, b := run(5), run(5)
	require.NotEmpty(t, a)
	assert.Equal(t, a, b, "same seed, same ops for every process")
	// Worker 0's ops over all its processes (0, 6, 12, ...).
	worker0 := func(m map[int][]string) []string {
		var out []string
		for p := 0; p < 100000; p += 6 {
			out = append(out, m[p]...)
		}
		return out
	}
	c := run(6)
	wa, wc := worker0(a), worker0(c)
	require.Len(t, wa, 150)
	require.Len(t, wc, 150)
	assert.NotEqual(t, wa, wc, "another seed, other ops")
}

// perWorkerLimit ends g for each worker after n ops (a count that does not
// depend on timing, unlike a time limit).
type perWorkerLimit struct {
	n    int
	g    generator.Generator
	mu   sync.Mutex
	done map[int]int
}

func (l *perWorkerLimit) Next(ctx generator.Context) generator.Step {
	l.mu.Lock()
	if l.done[ctx.Worker] >= l.n {
		l.mu.Unlock()
		return generator.Finished()
	}
	l.mu.Unlock()
	s := l.g.Next(ctx)
	if s.Kind == generator.Emit {
		l.mu.Lock()
		l.done[ctx.Worker]++
		l.mu.Unlock()
	}
	return s
}

func (l *perWorkerLimit) Update(ctx generator.Context, op generator.Op, c generator.Completion) {
	if u, ok := l.g.(generator.Updater); ok {
		u.Update(ctx, op, c)
	}
}
