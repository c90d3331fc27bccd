package eventual

import (
	"fmt"
	"testing"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/enginetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var abc = []string{"a", "b", "c"}

func fastAntiEntropy(t *testing.T) {
	old := antiEntropyEvery
	antiEntropyEvery = 100 * time.Millisecond
	t.Cleanup(func() { antiEntropyEvery = old })
}

func read(t *testing.T, e *Engine, key string) (string, bool) {
	r, err := e.Read(ctxT(t), store.ReadRequest{Key: key})
	require.NoError(t, err)
	return r.Value, r.Found
}

func write(t *testing.T, e *Engine, key, value string) {
	t.Helper()
	_, err := e.Write(ctxT(t), store.WriteRequest{Key: key, Value: value})
	require.NoError(t, err)
}

func eventuallyReads(t *testing.T, e *Engine, key, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, ok := read(t, e, key)
		return ok && v == want
	}, 5*time.Second, 10*time.Millisecond, "node %s never read %s=%s", e.id, key, want)
}

func TestReplicatesToEveryNode(t *testing.T) {
	c := newCluster(t, abc, nil)
	write(t, c.Nodes["a"].Eng, "x", "1")
	for _, id := range []string{"b", "c"} {
		eventuallyReads(t, c.Nodes[id].Eng, "x", "1")
		assert.Equal(t, uint64(1), c.Nodes[id].Eng.Status().Vector["a"])
	}
	r, err := c.Nodes["a"].Eng.Read(ctxT(t), store.ReadRequest{Key: "x", Token: store.Token{"b": 99}})
	require.NoError(t, err, "tokens are ignored")
	assert.Nil(t, r.Token)
}

func TestAntiEntropyConvergesAfterPartition(t *testing.T) {
	fastAntiEntropy(t)
	oldCap := maxRepair
	maxRepair = 3 // answers are capped: the repair takes several rounds
	t.Cleanup(func() { maxRepair = oldCap })
	c := newCluster(t, abc, nil)
	c.Isolate("c", true)
	c.WriteFromEach(t, 40, 8)
	assert.Zero(t, c.Nodes["c"].Eng.Status().Vector["a"], "c was cut off")
	// Let the pushes to and from c fail and be dropped, so that only
	// anti-entropy can repair.
	require.Eventually(t, func() bool {
		for _, id := range abc {
			e := c.Nodes[id].Eng
			e.mu.Lock()
			n := 0
			for peer, ob := range e.outbox {
				if id == "c" || peer == "c" {
					n += len(ob)
				}
			}
			e.mu.Unlock()
			if n > 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond)
	c.Isolate("c", false)
	same := func() bool {
		for i := 0; i < 8; i++ {
			k := fmt.Sprintf("k%d", i)
			want, _ := read(t, c.Nodes["a"].Eng, k)
			for _, id := range []string{"b", "c"} {
				if got, _ := read(t, c.Nodes[id].Eng, k); got != want {
					return false
				}
			}
		}
		return true
	}
	require.Eventually(t, same, 10*time.Second, 20*time.Millisecond)
	pulled := uint64(0)
	for _, id := range abc {
		pulled += c.Nodes[id].Eng.Stats().Pulled
	}
	assert.Positive(t, pulled, "anti-entropy did the repair")
	// The winner is the greatest timestamp among all writes.
	for _, id := range abc {
		e := c.Nodes[id].Eng
		e.mu.Lock()
		for k, ent := range e.kv {
			assert.Equal(t, ent.vis, ent.sub, "%s: %s settled", id, k)
		}
		e.mu.Unlock()
	}
}

func TestLastWriterWinsByHLC(t *testing.T) {
	fastAntiEntropy(t)
	c := newCluster(t, []string{"a", "b"}, nil)
	a, b := c.Nodes["a"].Eng, c.Nodes["b"].Eng

	// Causally later writes win, even from a node whose clock is behind:
	// the HLC moves past what the node has seen.
	c.Nodes["b"].Clock.SetOffset(-time.Hour)
	write(t, a, "x", "a1")
	eventuallyReads(t, b, "x", "a1")
	write(t, b, "x", "b1")
	eventuallyReads(t, a, "x", "b1")

	// Concurrent writes: the slow clock loses, though its write came
	// later in real time and was acknowledged.
	c.Isolate("b", true)
	write(t, a, "y", "from-a")
	time.Sleep(5 * time.Millisecond)
	write(t, b, "y", "from-b (later, acknowledged, lost)")
	c.Isolate("b", false)
	eventuallyReads(t, b, "y", "from-a")
	v, _ := read(t, a, "y")
	assert.Equal(t, "from-a", v)

	// With correct clocks, the later write wins.
	c.Nodes["b"].Clock.SetOffset(0)
	c.Isolate("b", true)
	write(t, a, "z", "first")
	time.Sleep(5 * time.Millisecond)
	write(t, b, "z", "second")
	c.Isolate("b", false)
	eventuallyReads(t, a, "z", "second")
}

func TestTimestampOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b TS
		less bool
	}{
		{TS{1, 0, "a"}, TS{2, 0, "a"}, true},
		{TS{2, 0, "a"}, TS{1, 9, "z"}, false},
		{TS{1, 1, "a"}, TS{1, 2, "a"}, true},
		{TS{1, 1, "a"}, TS{1, 1, "b"}, true},
		{TS{1, 1, "b"}, TS{1, 1, "b"}, false},
	} {
		assert.Equal(t, tc.less, tc.a.Less(tc.b), "%v < %v", tc.a, tc.b)
	}
}

func TestHLCNeverGoesBackwards(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	n := c.Nodes["a"]
	n.Eng.mu.Lock()
	t1 := n.Eng.now()
	n.Clock.SetOffset(-time.Hour)
	t2 := n.Eng.now()
	n.Eng.observe(TS{Wall: t2.Wall + int64(time.Hour*2), Logical: 7, Node: "b"})
	t3 := n.Eng.now()
	n.Eng.mu.Unlock()
	assert.True(t, t1.Less(t2), "%v < %v", t1, t2)
	assert.True(t, t2.Less(t3), "%v < %v", t2, t3)
	assert.Equal(t, uint64(8), t3.Logical)
}

func TestRestartRecoversAndDedups(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	a := c.Nodes["a"].Eng
	_, err := a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1", RequestID: "r1"})
	require.NoError(t, err)
	_, err = a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "2"})
	require.NoError(t, err)
	before := a.Stats().HLC
	c.Stop("a")
	c.Start("a")
	a = c.Nodes["a"].Eng
	v, _ := read(t, a, "x")
	assert.Equal(t, "2", v, "acknowledged writes survive a restart")
	assert.False(t, a.Stats().HLC.Less(before), "the HLC does not go back after a restart")
	_, err = a.Write(ctxT(t), store.WriteRequest{Key: "x", Value: "1", RequestID: "r1"})
	require.NoError(t, err)
	v, _ = read(t, a, "x")
	assert.Equal(t, "2", v, "a retried request id is applied at most once, even after a restart")
	assert.Equal(t, uint64(2), a.Status().Vector["a"])
}

func TestCAS(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	a := c.Nodes["a"].Eng
	_, err := a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "0", New: "1"})
	assert.ErrorIs(t, err, store.ErrMismatch)
	write(t, a, "x", "0")
	_, err = a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "0", New: "1"})
	require.NoError(t, err)
	_, err = a.CAS(ctxT(t), store.CASRequest{Key: "x", Expected: "0", New: "2"})
	assert.ErrorIs(t, err, store.ErrMismatch)
}

func TestGroupCommitAndAckBeforeFsync(t *testing.T) {
	for _, fault := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack-before-fsync=%v", fault), func(t *testing.T) {
			c := newCluster(t, []string{"a"}, store.Faults{store.AckBeforeFsync: fault})
			a := c.Nodes["a"].Eng
			write(t, a, "k", "v")
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

// Under ack-before-fsync a write is acknowledged before it is on disk,
// but neither pushed nor handed out by anti-entropy until it is: a kill -9
// then loses it everywhere.
func TestAckBeforeFsyncReplicatesOnlyWhatIsOnDisk(t *testing.T) {
	fastAntiEntropy(t)
	c := newCluster(t, []string{"a", "b"}, store.Faults{store.AckBeforeFsync: true})
	a, b := c.Nodes["a"].Eng, c.Nodes["b"].Eng
	write(t, a, "x", "1")
	_, inFile, err := a.db.Get(bucketKV, []byte("x"))
	require.NoError(t, err)
	require.False(t, inFile, "acknowledged before it is on disk")
	eventuallyReads(t, b, "x", "1")
	_, inFile, err = a.db.Get(bucketKV, []byte("x"))
	require.NoError(t, err)
	assert.True(t, inFile, "when a peer has the write, it is on the origin's disk")
}
