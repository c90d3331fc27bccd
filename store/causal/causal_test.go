package causal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/enginetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var abc = []string{"a", "b", "c"}

func read(t *testing.T, e *Engine, key string, tok store.Token) (store.ReadResponse, error) {
	return e.Read(ctxT(t), store.ReadRequest{Key: key, Token: tok})
}

func eventuallyReads(t *testing.T, e *Engine, key, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		r, err := read(t, e, key, nil)
		return err == nil && r.Found && r.Value == want
	}, 5*time.Second, 10*time.Millisecond, "node %s never read %s=%s", e.id, key, want)
}

func TestReplicatesToEveryNode(t *testing.T) {
	c := newCluster(t, abc, nil)
	a := c.Nodes["a"].Eng
	w, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1", RequestID: "r1"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), w.Token["a"], "the token covers the write")
	for _, id := range []string{"b", "c"} {
		eventuallyReads(t, c.Nodes[id].Eng, "x", "1")
		assert.Equal(t, uint64(1), c.Nodes[id].Eng.Status().Vector["a"])
	}
	// The log is dropped once every peer has it.
	require.Eventually(t, func() bool { return a.Stats().Unacked == 0 }, 3*time.Second, 10*time.Millisecond)
}

func TestTokenGivesReadYourWritesAcrossNodes(t *testing.T) {
	old := tokenWait
	tokenWait = 300 * time.Millisecond
	t.Cleanup(func() { tokenWait = old })
	c := newCluster(t, abc, nil)
	a, b := c.Nodes["a"].Eng, c.Nodes["b"].Eng
	c.Links["a"]["b"].SetCut(true) // b cannot get a's writes

	w, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1"})
	require.NoError(t, err)

	// Without a token b answers at once, from its own state.
	r, err := read(t, b, "x", nil)
	require.NoError(t, err)
	assert.False(t, r.Found)

	// With the token b waits, then refuses cleanly: not applied, retryable.
	start := time.Now()
	_, err = read(t, b, "x", w.Token)
	require.Error(t, err)
	assert.True(t, isNotApplied(err), "got %v", err)
	assert.GreaterOrEqual(t, time.Since(start), tokenWait)
	_, err = b.Write(ctxT(t), store.WriteRequest{Key: "y", Value: "1", Token: w.Token})
	assert.True(t, isNotApplied(err), "a write with an uncovered token is refused too: %v", err)

	// Heal while b waits (as long as it does by default, longer than the
	// replicator's backoff): the read is served, with the value written on a.
	tokenWait = old
	time.AfterFunc(100*time.Millisecond, func() { c.Links["a"]["b"].SetCut(false) })
	r, err = read(t, b, "x", w.Token)
	require.NoError(t, err)
	assert.True(t, r.Found)
	assert.Equal(t, "1", r.Value)
	assert.GreaterOrEqual(t, r.Token["a"], uint64(1))
}

// post sends replication writes straight to a node's peer API, as a peer
// would, over loopback TCP.
func post(t *testing.T, n *node, writes ...*rec) store.Token {
	resp, err := http.Post("http://"+n.Ln.Addr().String()+pathReplicate, "application/octet-stream", bytes.NewReader(appendBatch(nil, "test", writes)))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out replicateResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Applied
}

func TestRemoteWriteWaitsForItsDependencies(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip-deps=%v", skip), func(t *testing.T) {
			// One node, no peers: the test plays nodes p and q.
			c := newCluster(t, []string{"n"}, store.Faults{store.SkipDeps: skip})
			n := c.Nodes["n"]
			dep := &rec{Key: "x", Value: "1", Origin: "p", Seq: 1, Lamport: 1}
			w := &rec{Key: "y", Value: "1", Origin: "q", Seq: 1, Lamport: 2, Deps: store.Token{"p": 1}}

			applied := post(t, n, w)
			r, err := read(t, n.Eng, "y", nil)
			require.NoError(t, err)
			if skip {
				assert.True(t, r.Found, "skip-deps applies at once")
				assert.Equal(t, 1, int(applied["q"]))
				assert.Equal(t, 0, n.Eng.Stats().Pending)
				return
			}
			assert.False(t, r.Found, "a write whose dependency is missing must not be visible")
			assert.Zero(t, applied["q"])
			assert.Equal(t, 1, n.Eng.Stats().Pending)
			// The origin's second write waits for its first too.
			applied = post(t, n, &rec{Key: "z", Value: "2", Origin: "q", Seq: 2, Lamport: 3, Deps: store.Token{"p": 1}})
			assert.Zero(t, applied["q"])
			assert.Equal(t, 2, n.Eng.Stats().Pending)

			applied = post(t, n, dep)
			assert.Equal(t, store.Token{"p": 1, "q": 2}, applied)
			assert.Equal(t, 0, n.Eng.Stats().Pending)
			for k, v := range map[string]string{"x": "1", "y": "1", "z": "2"} {
				r, err := read(t, n.Eng, k, nil)
				require.NoError(t, err)
				assert.Equal(t, v, r.Value)
			}
			// A duplicate is ignored.
			assert.Equal(t, store.Token{"p": 1, "q": 2}, post(t, n, dep, w))
		})
	}
}

func TestSkipDepsReordersReplication(t *testing.T) {
	// With the fault on, a reader on b must be able to see a's later
	// write without its earlier one: that is what the checker catches.
	c := newCluster(t, []string{"a", "b"}, store.Faults{store.SkipDeps: true})
	a, b := c.Nodes["a"].Eng, c.Nodes["b"].Eng
	sawGap := false
	for round := 0; round < 20 && !sawGap; round++ {
		c.Links["a"]["b"].SetCut(true)
		for i := 0; i < 8; i++ {
			_, err := a.Write(ctxT(t), store.WriteRequest{Key: fmt.Sprintf("k%d-%d", round, i), Value: "v"})
			require.NoError(t, err)
		}
		c.Links["a"]["b"].SetCut(false)
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			st := b.Stats()
			base := uint64(round * 8)
			got := 0
			first := false
			for i := 0; i < 8; i++ {
				r, _ := read(t, b, fmt.Sprintf("k%d-%d", round, i), nil)
				if r.Found {
					got++
					if i == 0 {
						first = true
					}
				}
			}
			if got > 0 && !first {
				sawGap = true
			}
			if st.Vector["a"] >= base+8 && got == 8 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	assert.True(t, sawGap, "with skip-deps a later write must become visible before an earlier one")
}

func TestConvergesAfterPartitionHeals(t *testing.T) {
	c := newCluster(t, abc, nil)
	c.Isolate("c", true)
	c.WriteFromEach(t, 50, 5)
	st := c.Nodes["c"].Eng.Status()
	assert.Zero(t, st.Vector["a"], "c was cut off")
	c.Isolate("c", false)
	require.Eventually(t, func() bool {
		for _, id := range abc {
			v := c.Nodes[id].Eng.Status().Vector
			if v["a"] != 50 || v["b"] != 50 || v["c"] != 50 {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	for i := 0; i < 5; i++ {
		k := fmt.Sprintf("k%d", i)
		want, err := read(t, c.Nodes["a"].Eng, k, nil)
		require.NoError(t, err)
		for _, id := range []string{"b", "c"} {
			got, err := read(t, c.Nodes[id].Eng, k, nil)
			require.NoError(t, err)
			assert.Equal(t, want.Value, got.Value, "key %s on %s", k, id)
		}
	}
}

func TestRestartRecoversAndKeepsReplicating(t *testing.T) {
	c := newCluster(t, []string{"a", "b"}, nil)
	a := c.Nodes["a"].Eng
	_, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1", RequestID: "r1"})
	require.NoError(t, err)
	eventuallyReads(t, c.Nodes["b"].Eng, "x", "1")

	// b goes away; a keeps writing; a restarts too.
	c.Stop("b")
	for i := 2; i <= 5; i++ {
		_, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	c.Stop("a")
	c.Start("a")
	a = c.Nodes["a"].Eng
	r, err := read(t, a, "x", nil)
	require.NoError(t, err)
	assert.Equal(t, "5", r.Value, "acknowledged writes survive a restart")
	assert.Equal(t, uint64(5), a.Status().Vector["a"])
	assert.Equal(t, 4, a.Stats().Unacked, "writes b lacks are still in the log")
	// The retried request id is remembered across the restart.
	_, err = a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1", RequestID: "r1"})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), a.Status().Vector["a"], "a retried request id is applied at most once")

	c.Start("b")
	eventuallyReads(t, c.Nodes["b"].Eng, "x", "5")
	// New writes keep flowing with new sequence numbers.
	w, err := a.Write(ctxT(t), store.WriteRequest{Key: "y", Value: "6"})
	require.NoError(t, err)
	assert.Equal(t, uint64(6), w.Token["a"])
	eventuallyReads(t, c.Nodes["b"].Eng, "y", "6")
}

func TestCAS(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	a := c.Nodes["a"].Eng
	_, err := a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "0", New: "1"})
	assert.ErrorIs(t, err, store.ErrMismatch, "absent key")
	_, err = a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "0"})
	require.NoError(t, err)
	_, err = a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "0", New: "1"})
	require.NoError(t, err)
	_, err = a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "0", New: "2"})
	assert.ErrorIs(t, err, store.ErrMismatch)
	r, err := read(t, a, "x", nil)
	require.NoError(t, err)
	assert.Equal(t, "1", r.Value)

	// Concurrent cas from one value: exactly one wins on a node.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "1", New: fmt.Sprint(i + 10)}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
}

func TestGroupCommitAndAckBeforeFsync(t *testing.T) {
	for _, fault := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack-before-fsync=%v", fault), func(t *testing.T) {
			c := newCluster(t, []string{"a"}, store.Faults{store.AckBeforeFsync: fault})
			a := c.Nodes["a"].Eng
			_, err := a.Write(ctxT(t), store.WriteRequest{Key: "k", Value: "v"})
			require.NoError(t, err)
			_, inFile, err := a.db.Get(bucketKV, []byte("k"))
			require.NoError(t, err)
			assert.Equal(t, !fault, inFile, "an acknowledged write is in the data file iff the fault is off")
			if fault {
				return
			}
			enginetest.WritesShareFsyncs(t, a, func() uint64 { return a.Stats().Disk.Commits })
		})
	}
}

func TestBadInput(t *testing.T) {
	_, err := New(store.Env{NodeID: "a", DataDir: t.TempDir(), Peers: map[string]string{"a": "127.0.0.1:1"}})
	assert.ErrorContains(t, err, "itself")
	_, err = New(store.Env{DataDir: t.TempDir()})
	assert.ErrorContains(t, err, "node id")

	c := newCluster(t, []string{"a"}, nil)
	good := appendBatch(nil, "b", []*rec{{Key: "x", Value: "1", Origin: "b", Seq: 1, Lamport: 1}})
	for name, body := range map[string][]byte{
		"json":         []byte(`{"writes":[{"k":"x"}]}`),
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte(nil), good...), 0),
		"no origin":    appendBatch(nil, "b", []*rec{{Key: "x", Seq: 1}}),
		"seq 0":        appendBatch(nil, "b", []*rec{{Key: "x", Origin: "b"}}),
		"huge count":   []byte{1, 'b', 0xff, 0xff, 0xff, 0xff, 0x0f},
		"wrong format": []byte{1, 'b', 1, 9},
	} {
		resp, err := http.Post("http://"+c.Nodes["a"].Ln.Addr().String()+pathReplicate, "application/octet-stream", bytes.NewReader(body))
		require.NoError(t, err, name)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", name, msg)
	}
	st := c.Nodes["a"].Eng.Stats()
	assert.Zero(t, st.Pending, "nothing of a refused batch is kept")
	assert.Empty(t, st.Vector)
}

func TestRecordEncodingRoundTripsAndReadsOldJSON(t *testing.T) {
	for _, r := range []*rec{
		{Key: "k", Value: "v", Origin: "a", Seq: 1, Lamport: 3},
		{Key: "", Value: "\x00\"<>", Origin: "n2", Seq: 1 << 40, Lamport: 9, Deps: store.Token{"n1": 4, "n3": 1 << 33}},
	} {
		got, err := decodeRec(appendRec(nil, r))
		require.NoError(t, err)
		assert.Equal(t, r, got)
		old, err := json.Marshal(r)
		require.NoError(t, err)
		got, err = decodeRec(old)
		require.NoError(t, err)
		assert.Equal(t, r, got, "a record written as JSON by an older version still reads")
	}
	req, err := decodeBatch(appendBatch(nil, "n1", []*rec{{Key: "a", Origin: "n1", Seq: 1}, {Key: "b", Origin: "n1", Seq: 2}}))
	require.NoError(t, err)
	assert.Equal(t, "n1", req.From)
	require.Len(t, req.Writes, 2)
	assert.Equal(t, "b", req.Writes[1].Key)
}

var _ = net.Listen

// The COPS scenario through real replication: y is written on b after its
// writer read x (written on a) there; c, cut off from a, gets y first and
// must hold it back until x arrives.
func TestDependentWriteWaitsAcrossNodes(t *testing.T) {
	old := stallResend
	stallResend = 100 * time.Millisecond
	t.Cleanup(func() { stallResend = old })
	c := newCluster(t, abc, nil)
	a, b, cc := c.Nodes["a"].Eng, c.Nodes["b"].Eng, c.Nodes["c"].Eng
	c.Links["a"]["c"].SetCut(true)

	w, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1"})
	require.NoError(t, err)
	r, err := read(t, b, "x", w.Token)
	require.NoError(t, err)
	require.Equal(t, "1", r.Value)
	_, err = b.Write(ctxT(t), store.WriteRequest{Key: "y", Value: "1", Token: r.Token})
	require.NoError(t, err)

	// c has received y (b -> c is up) but holds it back.
	require.Eventually(t, func() bool { return cc.Stats().Pending == 1 }, 5*time.Second, 10*time.Millisecond)
	for _, k := range []string{"x", "y"} {
		r, err := read(t, cc, k, nil)
		require.NoError(t, err)
		assert.False(t, r.Found, "%s must not be visible on c yet", k)
	}
	// b does not keep resending what c holds but cannot apply yet.
	time.Sleep(5 * stallResend)
	assert.Equal(t, uint64(2), b.Stats().Sent, "b sent y once to a and once to c")
	c.Links["a"]["c"].SetCut(false)
	eventuallyReads(t, cc, "y", "1")
	r, err = read(t, cc, "x", nil)
	require.NoError(t, err)
	assert.Equal(t, "1", r.Value, "once y is visible, x (its dependency) is too")
}

// Under ack-before-fsync a write is acknowledged before it is on disk,
// but replicated only once it is: a kill -9 then loses it everywhere.
func TestAckBeforeFsyncReplicatesOnlyWhatIsOnDisk(t *testing.T) {
	c := newCluster(t, []string{"a", "b"}, store.Faults{store.AckBeforeFsync: true})
	a, b := c.Nodes["a"].Eng, c.Nodes["b"].Eng
	_, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1"})
	require.NoError(t, err)
	_, inFile, err := a.db.Get(bucketKV, []byte("x"))
	require.NoError(t, err)
	require.False(t, inFile, "acknowledged before it is on disk")
	eventuallyReads(t, b, "x", "1")
	_, inFile, err = a.db.Get(bucketKV, []byte("x"))
	require.NoError(t, err)
	assert.True(t, inFile, "when a peer has the write, it is on the origin's disk")
}

func TestOwnEntryOfATokenIsNotWaitedFor(t *testing.T) {
	c := newCluster(t, []string{"a", "b"}, nil)
	a := c.Nodes["a"].Eng
	// Only a node that lost acknowledged writes sees such a token; it
	// serves (the loss then shows in the history) instead of waiting for
	// writes that only it could make.
	_, err := read(t, a, "x", store.Token{"a": 99})
	require.NoError(t, err)
	old := tokenWait
	tokenWait = 100 * time.Millisecond
	t.Cleanup(func() { tokenWait = old })
	_, err = read(t, a, "x", store.Token{"a": 99, "b": 1})
	assert.True(t, isNotApplied(err), "other nodes' entries are waited for: %v", err)
}

// Replication bodies come from the network: decoding any bytes must
// return an error or a batch that encodes back to the same records.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, "n1", []*rec{{Key: "k", Value: "v", Origin: "n1", Seq: 1, Lamport: 2, Deps: store.Token{"n2": 3}}}))
	f.Add([]byte{})
	f.Add([]byte{2, 'n', '1', 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeBatch(b)
		if err != nil {
			return
		}
		again, err := decodeBatch(appendBatch(nil, req.From, req.Writes))
		require.NoError(t, err)
		require.Equal(t, req, again)
	})
}
