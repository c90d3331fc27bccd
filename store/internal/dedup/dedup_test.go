package dedup

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store/durable"
)

// A real bbolt file: what Remember writes is what Recover finds after a
// reopen, with the oldest ids evicted on both sides.
func TestRememberEvictsOldestAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	open := func() *durable.DB {
		db, err := durable.Open(path, durable.Options{Buckets: []string{"dedup"}})
		require.NoError(t, err)
		return db
	}
	db := open()
	tab := New[int]("dedup", 2)
	for i, id := range []string{"r1", "r2", "r3"} {
		require.NoError(t, db.Submit(tab.Remember(id, i+1), nil).Wait(context.Background()))
	}
	tab.Set("r3", 30)
	tab.Set("r1", 10) // evicted: not brought back

	tests := []struct {
		id   string
		want int
		ok   bool
	}{{"r1", 0, false}, {"r2", 2, true}, {"r3", 30, true}, {"r4", 0, false}}
	for _, tc := range tests {
		v, ok := tab.Lookup(tc.id)
		assert.Equal(t, tc.ok, ok, tc.id)
		assert.Equal(t, tc.want, v, tc.id)
	}
	require.NoError(t, db.Close())

	db = open()
	t.Cleanup(func() { db.Close() })
	again := New[int]("dedup", 2)
	require.NoError(t, again.Recover(db, func() int { return -1 }))
	for _, tc := range tests {
		_, ok := again.Lookup(tc.id)
		assert.Equal(t, tc.ok, ok, "after reopen: %s", tc.id)
	}
	v, _ := again.Lookup("r2")
	assert.Equal(t, -1, v, "recovered ids carry the recovered value")

	// Slots continue after the recovered ones: the next id evicts r2.
	require.NoError(t, db.Submit(again.Remember("r5", 5), nil).Wait(context.Background()))
	_, ok := again.Lookup("r2")
	assert.False(t, ok)
	n := 0
	require.NoError(t, db.ForEach("dedup", func(k, v []byte) error { n++; return nil }))
	assert.Equal(t, 2, n, "the bucket holds exactly the remembered ids")
}
