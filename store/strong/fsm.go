package strong

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// maxDedup bounds the request-id table: the oldest ids are forgotten
// first, in log order, so every replica forgets the same ids.
const maxDedup = 1 << 20

// command is one log entry's payload.
type command struct {
	Op       string `json:"op"` // "write" or "cas"
	Key      string `json:"k"`
	Value    string `json:"v,omitempty"`
	Expected string `json:"e,omitempty"`
	ID       string `json:"id"`
}

// result is what applying a command returned: ok, or a cas mismatch.
type result struct {
	Mismatch bool
}

// fsm is the replicated state: the key-value map and the table of
// request ids already applied (with their results), so a retried write is
// applied at most once. It lives in memory and is rebuilt from the latest
// snapshot plus the log on restart.
type fsm struct {
	mu    sync.RWMutex
	data  map[string]string
	seen  map[string]bool // request id -> mismatch
	order []string        // ids in applied order, a ring of maxDedup
	head  int             // next slot to overwrite once order is full
	limit int             // ids remembered (maxDedup)

	applied atomic.Uint64 // index of the last command applied
	waitCh  chan struct{} // closed when applied moves (under mu)
}

// setApplied records the applied index and wakes waiters. Call with mu held.
func (f *fsm) setApplied(idx uint64) {
	f.applied.Store(idx)
	if f.waitCh != nil {
		close(f.waitCh)
		f.waitCh = nil
	}
}

// waitApplied returns once the state machine has applied index idx.
func (f *fsm) waitApplied(ctx context.Context, idx uint64) error {
	for {
		if f.applied.Load() >= idx {
			return nil
		}
		f.mu.Lock()
		if f.applied.Load() >= idx {
			f.mu.Unlock()
			return nil
		}
		if f.waitCh == nil {
			f.waitCh = make(chan struct{})
		}
		ch := f.waitCh
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func newFSM() *fsm {
	return &fsm{data: map[string]string{}, seen: map[string]bool{}, limit: maxDedup}
}

func (f *fsm) get(key string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.data[key]
	return v, ok
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) interface{} {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		// Only this package writes the log; an undecodable entry is a
		// bug, and every replica skips it the same way.
		f.mu.Lock()
		f.setApplied(l.Index)
		f.mu.Unlock()
		return fmt.Errorf("undecodable log entry %d: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.setApplied(l.Index) // runs before the unlock
	if mismatch, ok := f.seen[c.ID]; ok {
		return result{Mismatch: mismatch}
	}
	var res result
	switch c.Op {
	case "write":
		f.data[c.Key] = c.Value
	case "cas":
		if cur, ok := f.data[c.Key]; ok && cur == c.Expected {
			f.data[c.Key] = c.Value
		} else {
			res.Mismatch = true
		}
	default:
		return fmt.Errorf("unknown op %q in log entry %d", c.Op, l.Index)
	}
	f.remember(c.ID, res.Mismatch)
	return res
}

func (f *fsm) remember(id string, mismatch bool) {
	if id == "" {
		return
	}
	f.seen[id] = mismatch
	if len(f.order) < f.limit {
		f.order = append(f.order, id)
		return
	}
	delete(f.seen, f.order[f.head])
	f.order[f.head] = id
	f.head = (f.head + 1) % f.limit
}

// snapshotData is the snapshot's JSON form.
type snapshotData struct {
	Data map[string]string `json:"data"`
	// IDs are the remembered request ids, oldest first, with their results.
	IDs      []string `json:"ids"`
	Mismatch []bool   `json:"mismatch"`
	Applied  uint64   `json:"applied"`
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := &snapshotData{Data: make(map[string]string, len(f.data)), Applied: f.applied.Load()}
	for k, v := range f.data {
		s.Data[k] = v
	}
	n := len(f.order)
	s.IDs = make([]string, 0, n)
	s.Mismatch = make([]bool, 0, n)
	for i := 0; i < n; i++ {
		id := f.order[(f.head+i)%n]
		s.IDs = append(s.IDs, id)
		s.Mismatch = append(s.Mismatch, f.seen[id])
	}
	return s, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s snapshotData
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	if len(s.IDs) != len(s.Mismatch) {
		return fmt.Errorf("corrupt snapshot: %d ids but %d results", len(s.IDs), len(s.Mismatch))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = s.Data
	if f.data == nil {
		f.data = map[string]string{}
	}
	f.seen = make(map[string]bool, len(s.IDs))
	f.order = nil
	f.head = 0
	for i, id := range s.IDs {
		f.remember(id, s.Mismatch[i])
	}
	f.setApplied(s.Applied)
	return nil
}

// Persist implements raft.FSMSnapshot.
func (s *snapshotData) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *snapshotData) Release() {}
