package strong

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func entry(t *testing.T, idx uint64, c command) *raft.Log {
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: b}
}

func TestFSMApply(t *testing.T) {
	type step struct {
		c            command
		wantMismatch bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  map[string]string
	}{
		{"write then overwrite", []step{
			{c: command{Op: "write", Key: "k", Value: "1", ID: "a"}},
			{c: command{Op: "write", Key: "k", Value: "2", ID: "b"}},
		}, map[string]string{"k": "2"}},
		{"retried write applies once", []step{
			{c: command{Op: "write", Key: "k", Value: "1", ID: "a"}},
			{c: command{Op: "write", Key: "k", Value: "2", ID: "b"}},
			{c: command{Op: "write", Key: "k", Value: "1", ID: "a"}},
		}, map[string]string{"k": "2"}},
		{"cas on absent key mismatches", []step{
			{c: command{Op: "cas", Key: "k", Expected: "", Value: "1", ID: "a"}, wantMismatch: true},
		}, map[string]string{}},
		{"cas hit and miss", []step{
			{c: command{Op: "write", Key: "k", Value: "1", ID: "a"}},
			{c: command{Op: "cas", Key: "k", Expected: "1", Value: "2", ID: "b"}},
			{c: command{Op: "cas", Key: "k", Expected: "1", Value: "3", ID: "c"}, wantMismatch: true},
		}, map[string]string{"k": "2"}},
		{"retried cas returns the first result", []step{
			{c: command{Op: "write", Key: "k", Value: "1", ID: "a"}},
			{c: command{Op: "cas", Key: "k", Expected: "1", Value: "2", ID: "b"}},
			{c: command{Op: "write", Key: "k", Value: "1", ID: "c"}},
			{c: command{Op: "cas", Key: "k", Expected: "1", Value: "2", ID: "b"}}, // ok again, not re-applied
		}, map[string]string{"k": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFSM()
			for i, s := range tc.steps {
				res := f.Apply(entry(t, uint64(i+1), s.c))
				require.IsType(t, result{}, res)
				assert.Equal(t, s.wantMismatch, res.(result).Mismatch, "step %d", i)
			}
			assert.Equal(t, tc.want, f.data)
			assert.Equal(t, uint64(len(tc.steps)), f.applied.Load())
		})
	}
}

func TestFSMUndecodableEntry(t *testing.T) {
	f := newFSM()
	res := f.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: []byte("{")})
	assert.Error(t, res.(error))
	assert.Equal(t, uint64(7), f.applied.Load())
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	f := newFSM()
	f.limit = 3 // forget old ids quickly
	for i, c := range []command{
		{Op: "write", Key: "a", Value: "1", ID: "r1"},
		{Op: "write", Key: "b", Value: "2", ID: "r2"},
		{Op: "cas", Key: "a", Expected: "x", Value: "3", ID: "r3"}, // mismatch
		{Op: "write", Key: "c", Value: "4", ID: "r4"},              // evicts r1
	} {
		f.Apply(entry(t, uint64(i+1), c))
	}
	assert.NotContains(t, f.seen, "r1", "the oldest id is forgotten first")

	snap, err := f.Snapshot()
	require.NoError(t, err)
	var sink memSink
	require.NoError(t, snap.Persist(&sink))

	g := newFSM()
	g.limit = 3
	g.data["stale"] = "gone"
	require.NoError(t, g.Restore(io.NopCloser(&sink)))
	assert.Equal(t, map[string]string{"a": "1", "b": "2", "c": "4"}, g.data)
	assert.Equal(t, map[string]bool{"r2": false, "r3": true, "r4": false}, g.seen)
	assert.Equal(t, uint64(4), g.applied.Load())

	// The restored table keeps deduplicating, with the same results, and
	// evicts in the same order as the original.
	res := g.Apply(entry(t, 5, command{Op: "cas", Key: "a", Expected: "1", Value: "9", ID: "r3"}))
	assert.True(t, res.(result).Mismatch, "r3's first result was a mismatch")
	assert.Equal(t, "1", g.data["a"])
	g.Apply(entry(t, 6, command{Op: "write", Key: "d", Value: "5", ID: "r5"}))
	f.Apply(entry(t, 5, command{Op: "cas", Key: "a", Expected: "1", Value: "9", ID: "r3"}))
	f.Apply(entry(t, 6, command{Op: "write", Key: "d", Value: "5", ID: "r5"}))
	assert.Equal(t, f.seen, g.seen)
	assert.Equal(t, f.data, g.data)

	require.Error(t, newFSM().Restore(io.NopCloser(bytes.NewBufferString("{not json"))))
}
