package causal

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/durable"
	"github.com/faultline/faultline/store/internal/dedup"
)

// Tunables. Variables so that tests can shorten them.
var (
	// tokenWait bounds how long a request waits for its token to be covered.
	tokenWait = 1500 * time.Millisecond
	// maxBatch is the most writes in one replication message.
	maxBatch = 2000
	// stallResend: if a peer has not applied what it was sent for this
	// long, send it again (the peer may have restarted and lost its buffer).
	stallResend = 2 * time.Second
	// linger is how long an idle replicator waits after a new write, so
	// that one message carries many writes.
	linger = 2 * time.Millisecond
	// dedupSize is how many request ids a node remembers.
	dedupSize = 100_000
)

// Buckets of the data file.
const (
	bucketKV    = "kv"    // key -> rec (the winning version)
	bucketLog   = "log"   // own seq (8 bytes, big-endian) -> rec, until every peer has it
	bucketMeta  = "meta"  // "applied/<origin>" -> seq
	bucketDedup = "dedup" // slot (8 bytes, big-endian, appended in order) -> request id
)

// rec is one write, as stored and as replicated.
type rec struct {
	Key     string      `json:"k"`
	Value   string      `json:"v"`
	Origin  string      `json:"o"`
	Seq     uint64      `json:"s"`
	Lamport uint64      `json:"l"`
	Deps    store.Token `json:"d,omitempty"`
}

// newer reports whether r wins over o (o may be nil).
func (r *rec) newer(o *rec) bool {
	if o == nil {
		return true
	}
	if r.Lamport != o.Lamport {
		return r.Lamport > o.Lamport
	}
	return r.Origin > o.Origin
}

type entry struct {
	vis *rec // visible (durable, applied)
	sub *rec // latest submitted to disk (what cas compares with)
}

// progress is which of one origin's writes a node has: a contiguous
// prefix, plus (only under skip-deps) writes applied beyond it.
type progress struct {
	prefix uint64
	ahead  map[uint64]bool
}

func (p *progress) has(seq uint64) bool { return seq <= p.prefix || p.ahead[seq] }

func (p *progress) add(seq uint64) {
	if seq <= p.prefix {
		return
	}
	if seq != p.prefix+1 {
		if p.ahead == nil {
			p.ahead = map[uint64]bool{}
		}
		p.ahead[seq] = true
		return
	}
	p.prefix = seq
	for p.ahead[p.prefix+1] {
		delete(p.ahead, p.prefix+1)
		p.prefix++
	}
}

func (p *progress) max() uint64 {
	m := p.prefix
	for s := range p.ahead {
		if s > m {
			m = s
		}
	}
	return m
}

type vector map[string]*progress

func (v vector) get(o string) *progress {
	p := v[o]
	if p == nil {
		p = &progress{}
		v[o] = p
	}
	return p
}

// token is the vector as a causal token (max per origin).
func (v vector) token() store.Token {
	t := make(store.Token, len(v))
	for o, p := range v {
		if m := p.max(); m > 0 {
			t[o] = m
		}
	}
	return t
}

// prefixes is the contiguous part only (what a sender may resume from).
func (v vector) prefixes() store.Token {
	t := make(store.Token, len(v))
	for o, p := range v {
		if p.prefix > 0 {
			t[o] = p.prefix
		}
	}
	return t
}

// covers reports whether v has every write t names, but skip's.
func (v vector) covers(t store.Token, skip string) bool {
	for o, n := range t {
		if n == 0 || o == skip {
			continue
		}
		p := v[o]
		if p == nil || p.max() < n {
			return false
		}
	}
	return true
}

type dedupEntry struct {
	seq uint64
	p   *durable.Pending // nil once recovered from disk
}

// Engine is a node's causal engine.
type Engine struct {
	env      store.Env
	id       string
	db       *durable.DB
	log      *slog.Logger
	client   *http.Client
	skipDeps bool

	mu        sync.Mutex
	kv        map[string]*entry
	visible   vector // applied and visible
	submitted vector // submitted to disk (visible soon, in order)
	pending   map[string]map[uint64]*rec
	nPending  int
	lamport   uint64
	outlog    []*rec // own visible writes not yet acknowledged by every peer
	logBase   uint64 // outlog[0].Seq-1; writes up to logBase are gone from the log
	acked     map[string]uint64
	changed   chan struct{}
	waiters   bool
	dedup     *dedup.Table[*dedupEntry]
	wake      map[string]chan struct{}

	sentWrites atomic.Uint64 // writes sent to peers, resends included

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ store.Engine = (*Engine)(nil)

// New starts the causal engine of a node: it opens (or recovers) the data
// file in env.DataDir and starts replicating to env.Peers.
func New(env store.Env) (store.Engine, error) { return Open(env) }

// Open is New with the concrete type, for tests and status details.
func Open(env store.Env) (*Engine, error) {
	env, err := env.Prepare("causal")
	if err != nil {
		return nil, err
	}
	logger, client := env.Logger, env.PeerClient
	db, err := durable.Open(filepath.Join(env.DataDir, "causal.db"), durable.Options{
		Buckets:        []string{bucketKV, bucketLog, bucketMeta, bucketDedup},
		AckBeforeFsync: env.Faults.On(store.AckBeforeFsync),
		LazyFsync:      env.Faults.On(store.LazyFsync),
	})
	if err != nil {
		return nil, fmt.Errorf("causal: %w", err)
	}
	e := &Engine{
		env: env, id: env.NodeID, db: db, log: logger.With("mode", "causal", "node", env.NodeID),
		client: client, skipDeps: env.Faults.On(store.SkipDeps),
		kv: map[string]*entry{}, visible: vector{}, submitted: vector{},
		pending: map[string]map[uint64]*rec{}, acked: map[string]uint64{},
		changed: make(chan struct{}), dedup: dedup.New[*dedupEntry](bucketDedup, dedupSize), wake: map[string]chan struct{}{},
	}
	if err := e.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("causal: recover from %s: %w", env.DataDir, err)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for peer := range env.Peers {
		e.wake[peer] = make(chan struct{}, 1)
	}
	for peer, addr := range env.Peers {
		e.wg.Add(1)
		go e.replicate(peer, addr)
	}
	return e, nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func (e *Engine) recover() error {
	err := e.db.ForEach(bucketMeta, func(k, v []byte) error {
		if o, ok := strings.CutPrefix(string(k), "applied/"); ok && len(v) == 8 {
			n := binary.BigEndian.Uint64(v)
			e.visible.get(o).prefix = n
			e.submitted.get(o).prefix = n
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = e.db.ForEach(bucketKV, func(k, v []byte) error {
		r, err := decodeRec(v)
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		e.kv[r.Key] = &entry{vis: r, sub: r}
		e.lamport = max(e.lamport, r.Lamport)
		return nil
	})
	if err != nil {
		return err
	}
	err = e.db.ForEach(bucketLog, func(k, v []byte) error {
		r, err := decodeRec(v)
		if err != nil {
			return fmt.Errorf("log entry %x: %w", k, err)
		}
		if len(e.outlog) > 0 && r.Seq != e.outlog[len(e.outlog)-1].Seq+1 {
			return fmt.Errorf("log has a gap before seq %d", r.Seq)
		}
		e.outlog = append(e.outlog, r)
		e.lamport = max(e.lamport, r.Lamport)
		return nil
	})
	if err != nil {
		return err
	}
	own := e.visible.get(e.id).prefix
	if len(e.outlog) > 0 {
		e.logBase = e.outlog[0].Seq - 1
		if last := e.outlog[len(e.outlog)-1].Seq; last != own {
			return fmt.Errorf("log ends at seq %d but the node's sequence is %d", last, own)
		}
	} else {
		e.logBase = own
	}
	return e.dedup.Recover(e.db, func() *dedupEntry { return &dedupEntry{} })
}

// notifyLocked wakes token waiters. Call with mu held.
func (e *Engine) notifyLocked() {
	if e.waiters {
		close(e.changed)
		e.changed = make(chan struct{})
		e.waiters = false
	}
}

// awaitToken waits until the visible vector covers tok. The node's own
// entry is not waited for: a token can name more of the node's writes
// than it has only if it lost acknowledged writes (ack-before-fsync, a
// wiped data dir), and it cannot wait for writes only it could make; it
// serves, and the loss shows in the history.
func (e *Engine) awaitToken(ctx context.Context, tok store.Token) error {
	var timer *time.Timer
	for {
		e.mu.Lock()
		if e.visible.covers(tok, e.id) {
			e.mu.Unlock()
			return nil
		}
		ch := e.changed
		e.waiters = true
		e.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(tokenWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("causal: node %s has not applied the writes the token %v names after %v (retry, or use a node that has): %w", e.id, tok, tokenWait, store.ErrNotApplied)
		case <-ctx.Done():
			return fmt.Errorf("causal: node %s still waiting for the writes the token names: %v: %w", e.id, ctx.Err(), store.ErrNotApplied)
		}
	}
}

// Read returns the key's visible value once the token is covered.
func (e *Engine) Read(ctx context.Context, req store.ReadRequest) (store.ReadResponse, error) {
	if err := e.awaitToken(ctx, req.Token); err != nil {
		return store.ReadResponse{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := store.ReadResponse{Token: e.visible.token()}
	if ent := e.kv[req.Key]; ent != nil && ent.vis != nil {
		resp.Value, resp.Found = ent.vis.Value, true
	}
	return resp, nil
}

// Write sets the key locally, durably, then replicates it.
func (e *Engine) Write(ctx context.Context, req store.WriteRequest) (store.WriteResponse, error) {
	return e.write(ctx, req.Key, req.Value, req.RequestID, req.Token, nil)
}

// CAS compares with and sets the local node's current value (including
// writes accepted but not yet durable, so that two local cas on one
// value cannot both succeed). Not linearizable across nodes.
func (e *Engine) CAS(ctx context.Context, req store.CASRequest) (store.WriteResponse, error) {
	return e.write(ctx, req.Key, req.New, req.RequestID, req.Token, &req.Expected)
}

func (e *Engine) write(ctx context.Context, key, value, reqID string, tok store.Token, expected *string) (store.WriteResponse, error) {
	if err := e.awaitToken(ctx, tok); err != nil {
		return store.WriteResponse{}, err
	}
	e.mu.Lock()
	if d, ok := e.dedup.Lookup(reqID); reqID != "" && ok {
		e.mu.Unlock()
		return e.finish(ctx, d.p, reqID)
	}
	if expected != nil {
		ent := e.kv[key]
		if ent == nil || ent.sub == nil || ent.sub.Value != *expected {
			e.mu.Unlock()
			return store.WriteResponse{}, fmt.Errorf("causal: cas on %q: node %s holds another value: %w", key, e.id, store.ErrMismatch)
		}
	}
	own := e.submitted.get(e.id)
	seq := own.prefix + 1
	own.add(seq)
	e.lamport++
	deps := e.visible.prefixes()
	if e.skipDeps {
		deps = e.visible.token()
	}
	delete(deps, e.id)
	r := &rec{Key: key, Value: value, Origin: e.id, Seq: seq, Lamport: e.lamport, Deps: deps}
	enc := appendRec(nil, r)
	ent := e.kv[key]
	if ent == nil {
		ent = &entry{}
		e.kv[key] = ent
	}
	ent.sub = r
	ops := []durable.Op{
		durable.Put(bucketKV, []byte(key), enc),
		durable.Put(bucketLog, seqKey(seq), enc),
		durable.Put(bucketMeta, []byte("applied/"+e.id), seqKey(seq)),
	}
	var d *dedupEntry
	if reqID != "" {
		d = &dedupEntry{seq: seq}
		ops = append(ops, e.dedup.Remember(reqID, d)...)
	}
	apply := func() {
		e.mu.Lock()
		e.visible.get(e.id).add(seq)
		if ent := e.kv[key]; r.newer(ent.vis) {
			ent.vis = r
		}
		e.notifyLocked()
		e.mu.Unlock()
	}
	// Replicate only what is on disk (under ack-before-fsync that is
	// later than the ack, so a kill -9 loses the write everywhere).
	onDurable := func() {
		e.mu.Lock()
		e.outlog = append(e.outlog, r)
		e.mu.Unlock()
		for _, ch := range e.wake {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	p := e.db.SubmitThen(ops, apply, onDurable)
	if d != nil {
		d.p = p
	}
	e.mu.Unlock()
	return e.finish(ctx, p, reqID)
}

// finish waits for a write to be durable and returns the token after it.
func (e *Engine) finish(ctx context.Context, p *durable.Pending, reqID string) (store.WriteResponse, error) {
	if p != nil {
		if err := p.Wait(ctx); err != nil {
			return store.WriteResponse{}, fmt.Errorf("causal: write %q: %v: %w", reqID, err, store.ErrUnknown)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return store.WriteResponse{Token: e.visible.token()}, nil
}

// Stats are details beyond store.EngineStatus.
type Stats struct {
	Vector    store.Token       `json:"vector"`    // visible (applied) vector
	Pending   int               `json:"pending"`   // remote writes waiting for dependencies
	Lamport   uint64            `json:"lamport"`   // Lamport clock
	Unacked   int               `json:"unacked"`   // own writes some peer has not acknowledged
	PeerAcked map[string]uint64 `json:"peerAcked"` // peer -> its applied[self]
	Sent      uint64            `json:"sent"`      // writes sent to peers, resends included
	Disk      durable.Stats     `json:"disk"`
}

// Stats returns the engine's details.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	acked := make(map[string]uint64, len(e.acked))
	for p, n := range e.acked {
		acked[p] = n
	}
	return Stats{Vector: e.visible.token(), Pending: e.nPending, Lamport: e.lamport,
		Unacked: len(e.outlog), PeerAcked: acked, Sent: e.sentWrites.Load(), Disk: e.db.Stats()}
}

// Status reports the applied vector.
func (e *Engine) Status() store.EngineStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return store.EngineStatus{Vector: e.visible.token()}
}

// Close stops replication and closes the data file (writing out anything
// still in memory).
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	return e.db.Close()
}
