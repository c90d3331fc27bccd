// Package dedup is the causal and eventual engines' memory of request
// ids, so that a retried write applies at most once: the last N ids a
// node accepted, each with what the engine needs to answer a retry, kept
// in memory and in one bucket of the node's durable data file, where a
// restart finds them again.
package dedup

import (
	"encoding/binary"

	"github.com/faultline/faultline/store/durable"
)

// Table remembers the last Size request ids, oldest evicted first. In the
// bucket, key slot (8 bytes, big-endian, appended in order) holds a
// request id. A Table is not safe for concurrent use: callers hold their
// engine's lock.
type Table[V any] struct {
	bucket string
	size   int
	ids    map[string]V
	fifo   []string // remembered ids, oldest first; fifo[i] is in slot next-len(fifo)+i
	next   uint64
}

// New is an empty table of at most size ids, stored in bucket.
func New[V any](bucket string, size int) *Table[V] {
	return &Table[V]{bucket: bucket, size: size, ids: map[string]V{}}
}

// Lookup returns what was remembered with id, if it is remembered.
func (t *Table[V]) Lookup(id string) (V, bool) {
	v, ok := t.ids[id]
	return v, ok
}

// Set replaces the value of a remembered id (in memory only).
func (t *Table[V]) Set(id string, v V) {
	if _, ok := t.ids[id]; ok {
		t.ids[id] = v
	}
}

// Remember records id with v, evicting the oldest id if the table is
// full, and returns the ops that make the change durable; the caller
// submits them with the write they belong to.
func (t *Table[V]) Remember(id string, v V) []durable.Op {
	t.ids[id] = v
	t.fifo = append(t.fifo, id)
	ops := []durable.Op{durable.Put(t.bucket, slotKey(t.next), []byte(id))}
	t.next++
	if len(t.fifo) > t.size {
		old := t.fifo[0]
		slot := t.next - uint64(len(t.fifo))
		t.fifo = t.fifo[1:]
		delete(t.ids, old)
		ops = append(ops, durable.Delete(t.bucket, slotKey(slot)))
	}
	return ops
}

// Recover loads the ids stored in db, each with the value recovered.
func (t *Table[V]) Recover(db *durable.DB, recovered func() V) error {
	return db.ForEach(t.bucket, func(k, v []byte) error {
		if len(k) == 8 {
			t.ids[string(v)] = recovered()
			t.fifo = append(t.fifo, string(v))
			t.next = binary.BigEndian.Uint64(k) + 1
		}
		return nil
	})
}

func slotKey(slot uint64) []byte { return binary.BigEndian.AppendUint64(nil, slot) }
