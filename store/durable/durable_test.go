package durable

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func open(t *testing.T, path string, opt Options) *DB {
	t.Helper()
	opt.Buckets = []string{"kv"}
	db, err := Open(path, opt)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSubmitIsDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	db := open(t, path, Options{})
	applied := false
	p := db.Submit([]Op{Put("kv", []byte("a"), []byte("1")), Put("kv", []byte("b"), []byte("2"))}, func() { applied = true })
	require.NoError(t, p.Wait(context.Background()))
	assert.True(t, applied, "apply runs before the waiter is released")
	v, ok, err := db.Get("kv", []byte("a"))
	require.NoError(t, err)
	require.True(t, ok, "an acknowledged write is in the file right after the ack")
	assert.Equal(t, "1", string(v))
	require.NoError(t, db.Submit([]Op{Delete("kv", []byte("b"))}, nil).Wait(context.Background()))
	require.NoError(t, db.Close())

	db2 := open(t, path, Options{})
	got := map[string]string{}
	require.NoError(t, db2.ForEach("kv", func(k, v []byte) error { got[string(k)] = string(v); return nil }))
	assert.Equal(t, map[string]string{"a": "1"}, got)
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "data.db"), Options{})
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				k := []byte(fmt.Sprintf("w%d-%d", w, i))
				assert.NoError(t, db.Submit([]Op{Put("kv", k, k)}, nil).Wait(context.Background()))
			}
		}()
	}
	wg.Wait()
	st := db.Stats()
	assert.EqualValues(t, writers*each, st.Ops)
	assert.Less(t, st.Commits, uint64(writers*each/4), "concurrent writes must share commits: %+v", st)
	t.Logf("%d writes in %d fsynced commits", st.Ops, st.Commits)
}

func TestApplyRunsInSubmissionOrder(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "data.db"), Options{})
	var mu sync.Mutex
	var order []int
	var ps []*Pending
	for i := 0; i < 200; i++ {
		ps = append(ps, db.Submit([]Op{Put("kv", []byte{byte(i)}, []byte{1})}, func() {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}))
	}
	for _, p := range ps {
		require.NoError(t, p.Wait(context.Background()))
	}
	for i, v := range order {
		require.Equal(t, i, v)
	}
	require.Len(t, order, 200)
}

func TestAckBeforeFsyncLeavesAckedWritesInMemory(t *testing.T) {
	for _, fault := range []bool{false, true} {
		t.Run(fmt.Sprintf("fault=%v", fault), func(t *testing.T) {
			db := open(t, filepath.Join(t.TempDir(), "data.db"), Options{AckBeforeFsync: fault, LateFlush: 300 * time.Millisecond})
			require.NoError(t, db.Submit([]Op{Put("kv", []byte("k"), []byte("v"))}, nil).Wait(context.Background()))
			_, inFile, err := db.Get("kv", []byte("k"))
			require.NoError(t, err)
			assert.Equal(t, !fault, inFile, "right after the ack the write is in the file iff the fault is off")
			if fault {
				// It is written out late, so a graceful run still keeps it.
				require.Eventually(t, func() bool {
					_, ok, _ := db.Get("kv", []byte("k"))
					return ok
				}, 3*time.Second, 20*time.Millisecond)
			}
		})
	}
}

func TestUnknownBucketFailsThatSubmissionOnly(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "data.db"), Options{})
	err := db.Submit([]Op{Put("kv", []byte("k"), []byte("v")), Put("nope", []byte("k"), []byte("v"))}, func() { t.Error("apply must not run on a refused submission") }).Wait(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown bucket "nope"`)
	require.NoError(t, db.Submit([]Op{Put("kv", []byte("k2"), []byte("v"))}, nil).Wait(context.Background()), "other submissions go on")
	_, ok, err := db.Get("kv", []byte("k"))
	require.NoError(t, err)
	assert.False(t, ok, "no op of a refused submission is written")
}

func TestReservedBucketNameIsRefused(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "data.db"), Options{Buckets: []string{metaBucket}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reserved")
}

func TestSubmitAfterCloseFails(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "data.db"), Options{})
	require.NoError(t, db.Close())
	assert.ErrorIs(t, db.Submit(nil, nil).Wait(context.Background()), ErrClosed)
}

func BenchmarkSubmitParallel(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "data.db"), Options{Buckets: []string{"kv"}})
	require.NoError(b, err)
	defer db.Close()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			k := []byte(fmt.Sprintf("k%d", i))
			if err := db.Submit([]Op{Put("kv", k, k)}, nil).Wait(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	st := db.Stats()
	b.ReportMetric(float64(st.Commits)/float64(b.N), "commits/op")
	b.ReportMetric(float64(st.CommitTime.Microseconds())/float64(st.Commits), "µs/commit")
}

func TestOnDurableRunsWhenDataIsOnDisk(t *testing.T) {
	for _, fault := range []bool{false, true} {
		t.Run(fmt.Sprintf("fault=%v", fault), func(t *testing.T) {
			db := open(t, filepath.Join(t.TempDir(), "data.db"), Options{AckBeforeFsync: fault, LateFlush: 300 * time.Millisecond})
			var mu sync.Mutex
			var order []string
			note := func(s string) func() {
				return func() { mu.Lock(); order = append(order, s); mu.Unlock() }
			}
			var inFileWhenDurable bool
			p1 := db.SubmitThen([]Op{Put("kv", []byte("a"), []byte("1"))}, note("apply1"), note("durable1"))
			p2 := db.SubmitThen([]Op{Put("kv", []byte("b"), []byte("2"))}, note("apply2"), func() {
				_, inFileWhenDurable, _ = db.Get("kv", []byte("b"))
				note("durable2")()
			})
			require.NoError(t, p1.Wait(context.Background()))
			require.NoError(t, p2.Wait(context.Background()))
			mu.Lock()
			atAck := append([]string(nil), order...)
			mu.Unlock()
			if !fault {
				assert.Equal(t, []string{"apply1", "durable1", "apply2", "durable2"}, atAck)
				assert.True(t, inFileWhenDurable)
				return
			}
			assert.Equal(t, []string{"apply1", "apply2"}, atAck, "under the fault, not durable at the ack")
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(order) == 4
			}, 3*time.Second, 10*time.Millisecond)
			assert.Equal(t, []string{"apply1", "apply2", "durable1", "durable2"}, order)
			assert.True(t, inFileWhenDurable, "onDurable runs once the data is in the file")
		})
	}
}
