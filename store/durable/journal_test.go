package durable

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// fileContents reads a bucket straight from the bbolt file (not through
// the journal), with the DB closed.
func fileContents(t *testing.T, path, bucket string) map[string]string {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	require.NoError(t, err)
	defer b.Close()
	got := map[string]string{}
	require.NoError(t, b.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucket)).ForEach(func(k, v []byte) error { got[string(k)] = string(v); return nil })
	}))
	return got
}

func all(t *testing.T, db *DB, bucket string) map[string]string {
	t.Helper()
	got := map[string]string{}
	require.NoError(t, db.ForEach(bucket, func(k, v []byte) error { got[string(k)] = string(v); return nil }))
	return got
}

// A journaled write that never reached a checkpoint is replayed into the
// file when the DB opens again: what a kill -9 between the two leaves.
func TestJournalIsReplayedIntoTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	db, err := Open(path, Options{Buckets: []string{"kv"}, CheckpointEvery: time.Hour})
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		require.NoError(t, db.Submit([]Op{Put("kv", []byte(fmt.Sprint(i)), []byte("v"))}, nil).Wait(context.Background()))
	}
	require.NoError(t, db.Submit([]Op{Delete("kv", []byte("7"))}, nil).Wait(context.Background()))
	require.Zero(t, db.Stats().Checkpoints, "nothing checkpointed yet")
	// Simulate the kill: release the files without Close's checkpoint.
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	close(db.stop)
	<-db.done
	<-db.ckptDone
	require.NoError(t, db.closeFiles())
	assert.Empty(t, fileContents(t, path, "kv"), "the file itself has none of it yet")

	db2, err := Open(path, Options{Buckets: []string{"kv"}})
	require.NoError(t, err)
	got := all(t, db2, "kv")
	assert.Len(t, got, 49)
	assert.NotContains(t, got, "7", "the delete is replayed too")
	require.NoError(t, db2.Close())
	assert.Len(t, fileContents(t, path, "kv"), 49, "replay wrote the file")
}

func TestCheckpointMovesOpsIntoTheFileAndDropsJournalSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	db, err := Open(path, Options{Buckets: []string{"kv"}, CheckpointEvery: time.Hour})
	require.NoError(t, err)
	defer db.Close()
	big := make([]byte, 64<<10)
	// Enough to fill more than one 16 MiB journal segment.
	for i := 0; i < 400; i++ {
		require.NoError(t, db.Submit([]Op{Put("kv", []byte(fmt.Sprint(i%10)), big)}, nil).Wait(context.Background()))
	}
	segments := func() int {
		m, err := filepath.Glob(filepath.Join(journalDir(path), "*.wal"))
		require.NoError(t, err)
		return len(m)
	}
	before := segments()
	require.Greater(t, before, 1)
	require.NoError(t, db.Checkpoint())
	assert.EqualValues(t, 1, db.Stats().Checkpoints)
	require.Eventually(t, func() bool { return segments() < before }, 5*time.Second, 20*time.Millisecond,
		"checkpointed segments are deleted (had %d)", before)
	assert.Len(t, all(t, db, "kv"), 10)
}

// Reads see the newest durable op, whether it sits in the journal, in a
// checkpoint being written, or in the file.
func TestReadsMergeJournalAndFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	db, err := Open(path, Options{Buckets: []string{"kv"}, CheckpointEvery: time.Hour})
	require.NoError(t, err)
	defer db.Close()
	put := func(k, v string) {
		require.NoError(t, db.Submit([]Op{Put("kv", []byte(k), []byte(v))}, nil).Wait(context.Background()))
	}
	del := func(k string) {
		require.NoError(t, db.Submit([]Op{Delete("kv", []byte(k))}, nil).Wait(context.Background()))
	}
	put("a", "1")
	put("c", "1")
	put("e", "1")
	require.NoError(t, db.Checkpoint()) // a, c, e in the file
	put("b", "2")                       // only in the journal
	put("c", "2")                       // newer than the file
	del("e")                            // deleted after the file's copy
	del("z")                            // never existed
	assert.Equal(t, map[string]string{"a": "1", "b": "2", "c": "2"}, all(t, db, "kv"))
	var order []string
	require.NoError(t, db.ForEach("kv", func(k, _ []byte) error { order = append(order, string(k)); return nil }))
	assert.Equal(t, []string{"a", "b", "c"}, order, "key order across journal and file")
	v, ok, err := db.Get("kv", []byte("c"))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "2", string(v))
	_, ok, err = db.Get("kv", []byte("e"))
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestJournalThatDoesNotMatchTheFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	db, err := Open(path, Options{Buckets: []string{"kv"}})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		require.NoError(t, db.Submit([]Op{Put("kv", []byte("k"), []byte("v"))}, nil).Wait(context.Background()))
	}
	require.NoError(t, db.Close())
	// Another data file's journal (a fresh one, at entry 1) beside it.
	other := filepath.Join(dir, "other.db")
	db2, err := Open(other, Options{Buckets: []string{"kv"}})
	require.NoError(t, err)
	require.NoError(t, db2.Submit([]Op{Put("kv", []byte("x"), []byte("y"))}, nil).Wait(context.Background()))
	require.NoError(t, db2.Close())
	require.NoError(t, os.RemoveAll(journalDir(path)))
	require.NoError(t, os.Rename(journalDir(other), journalDir(path)))
	_, err = Open(path, Options{Buckets: []string{"kv"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "do not belong together")
}

func TestOpsEncodingRoundTrips(t *testing.T) {
	ops := []Op{Put("kv", []byte("k"), []byte("v")), Delete("log", []byte{0, 1, 2}), Put("b", nil, nil), Put("kv", []byte("\xff"), make([]byte, 300))}
	got, err := decodeOps(appendOps(nil, ops))
	require.NoError(t, err)
	require.Len(t, got, len(ops))
	for i := range ops {
		assert.Equal(t, ops[i].Bucket, got[i].Bucket)
		assert.Equal(t, string(ops[i].Key), string(got[i].Key))
		assert.Equal(t, string(ops[i].Value), string(got[i].Value))
		assert.Equal(t, ops[i].Delete, got[i].Delete)
	}
	for _, bad := range [][]byte{{7}, {0, 5, 'a'}, {0, 1, 'a', 9}} {
		_, err := decodeOps(bad)
		assert.Error(t, err, "%x", bad)
	}
}
