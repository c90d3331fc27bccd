package durable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	bolt "go.etcd.io/bbolt"

	"github.com/faultline/faultline/store/internal/syncdir"
)

// ErrClosed is returned for submissions made after Close.
var ErrClosed = errors.New("durable: database closed")

// Op is one put or delete in a bucket. The DB keeps the slices: the
// caller must not change them after Submit.
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
	// LazyFsync switches on the deliberate fault lazy-fsync: the
	// journal is written at once but fsynced only every FsyncEvery
	// (default 2 s), and submissions are acknowledged in between.
	LazyFsync  bool
	FsyncEvery time.Duration
	// LateFlush is how long data waits in memory under AckBeforeFsync
	// (default 500 ms).
	LateFlush time.Duration
	// CheckpointEvery is how often journaled ops are written into the
	// bbolt file (default 1 s); CheckpointOps starts one sooner once that
	// many ops wait (default 100,000).
	CheckpointEvery time.Duration
	CheckpointOps   int
}

// Stats counts the committer's work.
type Stats struct {
	Commits uint64 // journal appends (one fsync each): the group commits
	Ops     uint64 // ops journaled
	Submits uint64 // submissions received
	// CommitTime is the total time spent in group commits (journal write
	// and fsync); CommitTime/Commits is the mean commit latency.
	CommitTime time.Duration
	// Checkpoints are bbolt transactions that moved journaled ops into
	// the data file; CheckpointTime is their total time.
	Checkpoints    uint64
	CheckpointTime time.Duration
	// PagesWritten and WriteTime are bbolt's: pages written by all
	// checkpoints, and the time spent writing them (fsync included).
	PagesWritten int64
	WriteTime    time.Duration
}

// metaBucket holds the DB's own bookkeeping in the bbolt file.
const metaBucket = "durable.meta"

// checkpointKey names the last journal index whose ops are in the file.
var checkpointKey = []byte("checkpoint")

// DB is a bbolt file behind a group-committing journal.
type DB struct {
	bolt    *bolt.DB
	journal *wal.WAL
	meta    *metadb.BoltMetaDB
	opt     Options
	buckets map[string]bool

	mu      sync.Mutex
	queue   []*Pending
	wake    chan struct{}
	closed  bool
	failure error // sticky: a failed journal write or checkpoint breaks the DB

	stop chan struct{}
	done chan struct{}

	// next is the next journal index; only the committer uses it.
	next uint64

	// overlay holds what is journaled but not yet in the bbolt file: the
	// ops of entries up to overlayIdx, newest per key. flushing is the
	// part a checkpoint is writing now. Guarded by overlayMu.
	overlayMu  sync.Mutex
	overlay    *opSet
	overlayIdx uint64
	flushing   *opSet
	ckptWake   chan struct{}
	ckptDone   chan struct{}
	checkpoint sync.Mutex // one checkpoint at a time

	commits, ops, submits, commitNanos, checkpoints, checkpointNanos atomic.Uint64

	lazy *lazyVFS // under LazyFsync: the journal's files, fsynced by the checkpoints
}

// opSet is the newest op per bucket and key.
type opSet struct {
	byBucket map[string]map[string]Op
	n        int
}

func newOpSet() *opSet { return &opSet{byBucket: map[string]map[string]Op{}} }

func (s *opSet) add(op Op) {
	m := s.byBucket[op.Bucket]
	if m == nil {
		m = map[string]Op{}
		s.byBucket[op.Bucket] = m
	}
	m[string(op.Key)] = op
	s.n++
}

func (s *opSet) get(bucket string, key []byte) (Op, bool) {
	if s == nil {
		return Op{}, false
	}
	op, ok := s.byBucket[bucket][string(key)]
	return op, ok
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

// journalDir is where the journal of the data file at path lives.
func journalDir(path string) string { return path + ".journal" }

// Open opens (creating if needed) the bbolt file at path and its journal
// (the directory path+".journal"), and writes into the file whatever the
// journal holds beyond the file's last checkpoint.
func Open(path string, opt Options) (_ *DB, err error) {
	if opt.LateFlush <= 0 {
		opt.LateFlush = 500 * time.Millisecond
	}
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = time.Second
	}
	if opt.CheckpointOps <= 0 {
		opt.CheckpointOps = 100_000
	}
	if opt.LazyFsync {
		if opt.FsyncEvery <= 0 {
			opt.FsyncEvery = 2 * time.Second
		}
		// The checkpoint is the periodic fsync: it fsyncs the journal,
		// then writes the data file (one more fsync).
		opt.CheckpointEvery = opt.FsyncEvery
	}
	db := &DB{
		opt:      opt,
		buckets:  map[string]bool{},
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		overlay:  newOpSet(),
		ckptWake: make(chan struct{}, 1),
		ckptDone: make(chan struct{}),
	}
	for _, b := range opt.Buckets {
		if b == metaBucket {
			return nil, fmt.Errorf("open data file %s: bucket name %q is reserved for the DB's bookkeeping", path, b)
		}
		db.buckets[b] = true
	}
	defer func() {
		if err != nil {
			db.closeFiles()
		}
	}()
	db.bolt, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	// bbolt fsyncs the file, never its directory: without this, a power
	// loss can take the whole file's name back.
	if err := syncdir.Parent(path); err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	var ckpt uint64
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range append([]string{metaBucket}, opt.Buckets...) {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		if v := tx.Bucket([]byte(metaBucket)).Get(checkpointKey); len(v) == 8 {
			ckpt = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	dir := journalDir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := syncdir.Parent(dir); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	db.meta = &metadb.BoltMetaDB{}
	if opt.LazyFsync {
		db.lazy = newLazyVFS()
		db.journal, err = wal.Open(dir, wal.WithMetaStore(lazyMeta{db.meta, db.lazy}), wal.WithSegmentSize(journalSegmentSize),
			wal.WithLogger(hclog.NewNullLogger()), wal.WithSegmentFiler(segment.NewFiler(dir, db.lazy)))
	} else {
		db.journal, err = wal.Open(dir, wal.WithMetaStore(db.meta), wal.WithSegmentSize(journalSegmentSize),
			wal.WithLogger(hclog.NewNullLogger()))
	}
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", dir, err)
	}
	if err := db.replay(ckpt); err != nil {
		return nil, fmt.Errorf("recover data file %s from journal %s: %w", path, dir, err)
	}
	go db.run()
	go db.runCheckpoints()
	return db, nil
}

// journalSegmentSize is the size of one journal segment file
// (preallocated); segments wholly checkpointed are deleted.
const journalSegmentSize = 16 << 20

// replay writes the journal entries after the file's checkpoint into the
// file, so that the file alone is current again, and sets next.
func (db *DB) replay(ckpt uint64) error {
	first, err := db.journal.FirstIndex()
	if err != nil {
		return err
	}
	last, err := db.journal.LastIndex()
	if err != nil {
		return err
	}
	switch {
	case last == 0:
		db.next = ckpt + 1
		return nil
	case last < ckpt:
		return fmt.Errorf("the journal ends at entry %d, before the data file's checkpoint %d: they do not belong together", last, ckpt)
	case first > ckpt+1:
		return fmt.Errorf("the journal starts at entry %d, but the data file holds only up to %d: entries are missing", first, ckpt)
	}
	db.next = last + 1
	if last == ckpt {
		return nil
	}
	set := newOpSet()
	var l raft.Log
	for i := ckpt + 1; i <= last; i++ {
		if err := db.journal.GetLog(i, &l); err != nil {
			return fmt.Errorf("journal entry %d: %w", i, err)
		}
		ops, err := decodeOps(l.Data)
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", i, err)
		}
		for _, op := range ops {
			if !db.buckets[op.Bucket] {
				return fmt.Errorf("journal entry %d names bucket %q, which this data file does not have", i, op.Bucket)
			}
			set.add(op)
		}
	}
	return db.writeCheckpoint(set, last)
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
//
// A submission naming a bucket the DB was not opened with fails at once
// (and alone).
func (db *DB) SubmitThen(ops []Op, apply, onDurable func()) *Pending {
	p := &Pending{ops: ops, apply: apply, onDurable: onDurable, done: make(chan struct{})}
	for _, op := range ops {
		if !db.buckets[op.Bucket] {
			p.err = fmt.Errorf("durable: unknown bucket %q (declare it in Options.Buckets)", op.Bucket)
			close(p.done)
			return p
		}
	}
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

// commit appends batch to the journal as one entry (one fsync); when
// notify, it then applies and releases every submission (or fails them
// all).
func (db *DB) commit(batch []*Pending, notify bool) error {
	if len(batch) == 0 {
		return nil
	}
	err := db.failed()
	n := 0
	if err == nil {
		var buf []byte
		for _, p := range batch {
			buf = appendOps(buf, p.ops)
			n += len(p.ops)
		}
		start := time.Now()
		err = db.journal.StoreLogs([]*raft.Log{{Index: db.next, Type: raft.LogCommand, Data: buf}})
		db.commitNanos.Add(uint64(time.Since(start)))
		if err != nil {
			err = db.fail(fmt.Errorf("durable: journal write: %w", err))
		}
	}
	if err == nil {
		db.commits.Add(1)
		db.ops.Add(uint64(n))
		db.overlayMu.Lock()
		for _, p := range batch {
			for _, op := range p.ops {
				db.overlay.add(op)
			}
		}
		db.overlayIdx = db.next
		full := db.overlay.n >= db.opt.CheckpointOps
		db.overlayMu.Unlock()
		db.next++
		if full {
			db.kickCheckpoint()
		}
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

func (db *DB) failed() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.failure
}

// fail records the DB's first failure and returns err.
func (db *DB) fail(err error) error {
	db.mu.Lock()
	if db.failure == nil {
		db.failure = err
	}
	db.mu.Unlock()
	return err
}

func (db *DB) kickCheckpoint() {
	select {
	case db.ckptWake <- struct{}{}:
	default:
	}
}

// runCheckpoints moves journaled ops into the bbolt file every
// CheckpointEvery, or sooner when the committer says many wait.
func (db *DB) runCheckpoints() {
	defer close(db.ckptDone)
	t := time.NewTicker(db.opt.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		case <-db.ckptWake:
		}
		if err := db.Checkpoint(); err != nil {
			db.fail(err)
		}
	}
}

// Checkpoint writes every journaled op into the bbolt file (one synced
// transaction) and drops the journal segments that holds no more than
// that. It runs on its own goroutine; group commits go on meanwhile.
func (db *DB) Checkpoint() error {
	db.checkpoint.Lock()
	defer db.checkpoint.Unlock()
	db.overlayMu.Lock()
	set, idx := db.overlay, db.overlayIdx
	if set.n == 0 {
		db.overlayMu.Unlock()
		return nil
	}
	db.flushing = set
	db.overlay = newOpSet()
	db.overlayMu.Unlock()

	err := db.writeCheckpoint(set, idx)
	db.overlayMu.Lock()
	if err != nil {
		// Keep the ops readable: put them back under anything newer.
		for b, m := range db.overlay.byBucket {
			for k, op := range m {
				if set.byBucket[b] == nil {
					set.byBucket[b] = map[string]Op{}
				}
				set.byBucket[b][k] = op
			}
		}
		set.n += db.overlay.n
		db.overlay = set
	}
	db.flushing = nil
	db.overlayMu.Unlock()
	if err != nil {
		return err
	}
	// Keep the checkpointed entry itself, so the journal is never empty
	// once written (its next index then follows from its last).
	if first, ferr := db.journal.FirstIndex(); ferr == nil && first > 0 && first < idx {
		if err := db.journal.DeleteRange(first, idx-1); err != nil {
			return fmt.Errorf("durable: drop checkpointed journal entries: %w", err)
		}
	}
	return nil
}

// writeCheckpoint writes set into the file and records idx as its
// checkpoint, in one synced bbolt transaction.
func (db *DB) writeCheckpoint(set *opSet, idx uint64) error {
	start := time.Now()
	if db.lazy != nil {
		// lazy-fsync: the journal up to idx reaches the disk before
		// the data file says it holds idx.
		if err := db.lazy.syncAll(); err != nil {
			return fmt.Errorf("durable: fsync the journal: %w", err)
		}
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for name, m := range set.byBucket {
			b := tx.Bucket([]byte(name))
			if b == nil {
				return fmt.Errorf("unknown bucket %q", name)
			}
			// Key order: bbolt fills pages best that way.
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				op := m[k]
				var err error
				if op.Delete {
					err = b.Delete(op.Key)
				} else {
					err = b.Put(op.Key, op.Value)
				}
				if err != nil {
					return fmt.Errorf("bucket %q key %q: %w", name, op.Key, err)
				}
			}
		}
		return tx.Bucket([]byte(metaBucket)).Put(checkpointKey, binary.BigEndian.AppendUint64(nil, idx))
	})
	db.checkpointNanos.Add(uint64(time.Since(start)))
	if err != nil {
		return fmt.Errorf("durable: checkpoint into the data file: %w", err)
	}
	db.checkpoints.Add(1)
	return nil
}

// appendOps encodes ops: per op a kind byte (0 put, 1 delete), then the
// bucket, key and (for a put) value, each as a uvarint length and bytes.
func appendOps(buf []byte, ops []Op) []byte {
	for _, op := range ops {
		if op.Delete {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
		buf = binary.AppendUvarint(buf, uint64(len(op.Bucket)))
		buf = append(buf, op.Bucket...)
		buf = binary.AppendUvarint(buf, uint64(len(op.Key)))
		buf = append(buf, op.Key...)
		if !op.Delete {
			buf = binary.AppendUvarint(buf, uint64(len(op.Value)))
			buf = append(buf, op.Value...)
		}
	}
	return buf
}

// decodeOps is the inverse of appendOps.
func decodeOps(buf []byte) ([]Op, error) {
	var ops []Op
	field := func(what string) ([]byte, error) {
		n, k := binary.Uvarint(buf)
		if k <= 0 || n > uint64(len(buf)-k) {
			return nil, fmt.Errorf("op %d: bad %s length", len(ops), what)
		}
		f := buf[k : k+int(n)]
		buf = buf[k+int(n):]
		return f, nil
	}
	for len(buf) > 0 {
		kind := buf[0]
		buf = buf[1:]
		if kind > 1 {
			return nil, fmt.Errorf("op %d: bad kind %d", len(ops), kind)
		}
		bucket, err := field("bucket")
		if err != nil {
			return nil, err
		}
		key, err := field("key")
		if err != nil {
			return nil, err
		}
		op := Op{Bucket: string(bucket), Key: bytes.Clone(key), Delete: kind == 1}
		if !op.Delete {
			v, err := field("value")
			if err != nil {
				return nil, err
			}
			op.Value = bytes.Clone(v)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// Stats returns the committer's counters.
func (db *DB) Stats() Stats {
	bs := db.bolt.Stats()
	return Stats{Commits: db.commits.Load(), Ops: db.ops.Load(), Submits: db.submits.Load(),
		CommitTime:  time.Duration(db.commitNanos.Load()),
		Checkpoints: db.checkpoints.Load(), CheckpointTime: time.Duration(db.checkpointNanos.Load()),
		PagesWritten: bs.TxStats.GetWrite(), WriteTime: bs.TxStats.GetWriteTime()}
}

// lookupOverlay returns the newest journaled op for the key not yet in
// the file, if any.
func (db *DB) lookupOverlay(bucket string, key []byte) (Op, bool) {
	db.overlayMu.Lock()
	defer db.overlayMu.Unlock()
	if op, ok := db.overlay.get(bucket, key); ok {
		return op, true
	}
	return db.flushing.get(bucket, key)
}

// Get reads a durable value: journaled (fsynced) or in the file, not what
// waits in memory (under AckBeforeFsync). The returned slice is a copy.
func (db *DB) Get(bucket string, key []byte) ([]byte, bool, error) {
	if !db.buckets[bucket] {
		return nil, false, fmt.Errorf("unknown bucket %q", bucket)
	}
	if op, ok := db.lookupOverlay(bucket, key); ok {
		if op.Delete {
			return nil, false, nil
		}
		return bytes.Clone(op.Value), true, nil
	}
	var out []byte
	found := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucket)).Get(key); v != nil {
			out = bytes.Clone(v)
			found = true
		}
		return nil
	})
	return out, found, err
}

// ForEach calls fn for every durable key of bucket (see Get), in key
// order. The slices are valid only during the call.
func (db *DB) ForEach(bucket string, fn func(k, v []byte) error) error {
	if !db.buckets[bucket] {
		return fmt.Errorf("unknown bucket %q", bucket)
	}
	// The overlay's ops for this bucket, newest first, in key order.
	db.overlayMu.Lock()
	merged := map[string]Op{}
	for _, s := range []*opSet{db.flushing, db.overlay} {
		if s == nil {
			continue
		}
		for k, op := range s.byBucket[bucket] {
			merged[k] = op
		}
	}
	db.overlayMu.Unlock()
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucket)).Cursor()
		k, v := c.First()
		for k != nil || len(keys) > 0 {
			switch {
			case len(keys) > 0 && (k == nil || keys[0] <= string(k)):
				op := merged[keys[0]]
				if k != nil && keys[0] == string(k) {
					k, v = c.Next() // the overlay's op replaces the file's
				}
				keys = keys[1:]
				if !op.Delete {
					if err := fn(op.Key, op.Value); err != nil {
						return err
					}
				}
			default:
				if err := fn(k, v); err != nil {
					return err
				}
				k, v = c.Next()
			}
		}
		return nil
	})
}

// Close writes out everything submitted (late data included), moves it
// into the file, and closes the file and the journal. Submissions after
// Close fail with ErrClosed.
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
	<-db.ckptDone
	var errs []error
	if db.failed() == nil {
		errs = append(errs, db.Checkpoint())
	}
	errs = append(errs, db.closeFiles())
	return errors.Join(errs...)
}

// closeFiles closes whatever Open opened.
func (db *DB) closeFiles() error {
	var errs []error
	if db.journal != nil {
		errs = append(errs, db.journal.Close())
	}
	if db.meta != nil {
		// wal.Close leaves its meta store open (and locked).
		errs = append(errs, db.meta.Close())
	}
	if db.bolt != nil {
		errs = append(errs, db.bolt.Close())
	}
	return errors.Join(errs...)
}
