package durable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrClosed is returned for submissions made after Close.
var ErrClosed = errors.New("durable: database closed")

// Op is one put or delete in a bucket.
type Op struct {
	Bucket string
	Key    []byte
	Value  []byte // ignored when Delete
	Delete bool
}

// Put returns a put op.
func Put(bucket string, key, value []byte) Op { return Op{Bucket: bucket, Key: key, Value: value} }

// Delete returns a delete op.
func Delete(bucket string, key []byte) Op { return Op{Bucket: bucket, Key: key, Delete: true} }

// Options configures a DB.
type Options struct {
	// Buckets are created on open if missing; every Op must name one.
	Buckets []string
	// AckBeforeFsync switches on the deliberate fault: submissions are
	// applied and released before their data is written.
	AckBeforeFsync bool
	// LateFlush is how long data waits in memory under AckBeforeFsync
	// (default 500 ms).
	LateFlush time.Duration
}

// Stats counts the committer's work.
type Stats struct {
	Commits uint64 // bbolt transactions committed (one fsync each)
	Ops     uint64 // ops written
	Submits uint64 // submissions received
	// CommitTime is the total time spent in commits (writing and fsync);
	// CommitTime/Commits is the mean commit latency.
	CommitTime time.Duration
	// PagesWritten and WriteTime are bbolt's: pages written by all
	// commits, and the time spent writing them (fsync included).
	PagesWritten int64
	WriteTime    time.Duration
}

// DB is a bbolt file with a group-committing writer.
type DB struct {
	bolt *bolt.DB
	opt  Options

	mu      sync.Mutex
	queue   []*Pending
	wake    chan struct{}
	closed  bool
	failure error // sticky: a failed commit breaks the DB

	stop chan struct{}
	done chan struct{}

	commits, ops, submits, commitNanos atomic.Uint64
}

// Pending is one submission.
type Pending struct {
	ops       []Op
	apply     func()
	onDurable func()
	done      chan struct{}
	err       error
}

// Wait blocks until the submission is durable and applied (or, under
// AckBeforeFsync, applied), or ctx ends. A ctx error means the outcome
// is not known: the submission may still be committed.
func (p *Pending) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for durable commit: %w", ctx.Err())
	}
}

// Done is closed when the submission is durable and applied.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Err is the submission's outcome; valid after Done is closed.
func (p *Pending) Err() error { return p.err }

// Open opens (creating if needed) the bbolt file at path.
func Open(path string, opt Options) (*DB, error) {
	if opt.LateFlush <= 0 {
		opt.LateFlush = 500 * time.Millisecond
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range opt.Buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	db := &DB{
		bolt: b,
		opt:  opt,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go db.run()
	return db, nil
}

// Submit queues ops for the next group commit. apply (may be nil) runs on
// the committer goroutine once the ops are durable, in submission order,
// before the Pending is released. Submit never blocks.
func (db *DB) Submit(ops []Op, apply func()) *Pending {
	return db.SubmitThen(ops, apply, nil)
}

// SubmitThen is Submit with a second callback, onDurable (may be nil),
// run on the committer goroutine once the ops are really on disk, in
// submission order. Normally that is right after apply; under
// AckBeforeFsync it is when the late data is written out, so an engine
// that replicates from onDurable never sends what a kill -9 can take back
// (and the fault's loss is a loss everywhere, for the harness to find).
func (db *DB) SubmitThen(ops []Op, apply, onDurable func()) *Pending {
	p := &Pending{ops: ops, apply: apply, onDurable: onDurable, done: make(chan struct{})}
	db.mu.Lock()
	switch {
	case db.closed:
		p.err = ErrClosed
		close(p.done)
	case db.failure != nil:
		p.err = db.failure
		close(p.done)
	default:
		db.queue = append(db.queue, p)
	}
	db.mu.Unlock()
	db.submits.Add(1)
	select {
	case db.wake <- struct{}{}:
	default:
	}
	return p
}

func (db *DB) run() {
	defer close(db.done)
	var late []*Pending // ack-before-fsync: applied, not yet written
	var lateTimer <-chan time.Time
	for {
		select {
		case <-db.wake:
		case <-lateTimer:
			lateTimer = nil
			if db.commit(late, false) == nil {
				durable(late)
			}
			late = nil
			continue
		case <-db.stop:
			// Graceful close writes everything out, late data included.
			db.mu.Lock()
			batch := db.queue
			db.queue = nil
			db.mu.Unlock()
			if db.opt.AckBeforeFsync {
				release(batch)
				if db.commit(append(late, batch...), false) == nil {
					durable(late)
					durable(batch)
				}
			} else {
				db.commit(batch, true)
			}
			return
		}
		db.mu.Lock()
		batch := db.queue
		db.queue = nil
		db.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if db.opt.AckBeforeFsync {
			release(batch)
			late = append(late, batch...)
			if lateTimer == nil {
				lateTimer = time.After(db.opt.LateFlush)
			}
			continue
		}
		db.commit(batch, true)
	}
}

// release applies and releases submissions without writing them.
func release(batch []*Pending) {
	for _, p := range batch {
		if p.apply != nil {
			p.apply()
		}
		close(p.done)
	}
}

// durable runs the onDurable callbacks of written submissions.
func durable(batch []*Pending) {
	for _, p := range batch {
		if p.onDurable != nil {
			p.onDurable()
		}
	}
}

// commit writes batch in one transaction; when notify, it then applies
// and releases every submission (or fails them all).
func (db *DB) commit(batch []*Pending, notify bool) error {
	if len(batch) == 0 {
		return nil
	}
	n := 0
	start := time.Now()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, p := range batch {
			for _, op := range p.ops {
				b := tx.Bucket([]byte(op.Bucket))
				if b == nil {
					return fmt.Errorf("unknown bucket %q (declare it in Options.Buckets)", op.Bucket)
				}
				var err error
				if op.Delete {
					err = b.Delete(op.Key)
				} else {
					err = b.Put(op.Key, op.Value)
				}
				if err != nil {
					return fmt.Errorf("bucket %q key %q: %w", op.Bucket, op.Key, err)
				}
				n++
			}
		}
		return nil
	})
	db.commitNanos.Add(uint64(time.Since(start)))
	if err == nil {
		db.commits.Add(1)
		db.ops.Add(uint64(n))
	} else {
		err = fmt.Errorf("durable commit: %w", err)
		db.mu.Lock()
		if db.failure == nil {
			db.failure = err
		}
		db.mu.Unlock()
	}
	if !notify {
		return err
	}
	for _, p := range batch {
		if err != nil {
			p.err = err
		} else {
			if p.apply != nil {
				p.apply()
			}
			if p.onDurable != nil {
				p.onDurable()
			}
		}
		close(p.done)
	}
	return err
}

// Stats returns the committer's counters.
func (db *DB) Stats() Stats {
	bs := db.bolt.Stats()
	return Stats{Commits: db.commits.Load(), Ops: db.ops.Load(), Submits: db.submits.Load(),
		CommitTime: time.Duration(db.commitNanos.Load()), PagesWritten: bs.TxStats.GetWrite(), WriteTime: bs.TxStats.GetWriteTime()}
}

// Get reads a committed value: what is in the file now, not what waits in
// memory. The returned slice is a copy.
func (db *DB) Get(bucket string, key []byte) ([]byte, bool, error) {
	var out []byte
	found := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return fmt.Errorf("unknown bucket %q", bucket)
		}
		if v := b.Get(key); v != nil {
			out = append([]byte(nil), v...)
			found = true
		}
		return nil
	})
	return out, found, err
}

// ForEach calls fn for every committed key of bucket, in key order. The
// slices are valid only during the call.
func (db *DB) ForEach(bucket string, fn func(k, v []byte) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return fmt.Errorf("unknown bucket %q", bucket)
		}
		return b.ForEach(fn)
	})
}

// Close writes out everything submitted (late data included) and closes
// the file. Submissions after Close fail with ErrClosed.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	close(db.stop)
	<-db.done
	return db.bolt.Close()
}
