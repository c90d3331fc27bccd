package eventual

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/durable"
	"github.com/faultline/faultline/store/internal/dedup"
)

// Tunables. Variables so that tests can shorten them.
var (
	antiEntropyEvery = 500 * time.Millisecond
	maxBatch         = 2000
	// maxRepair bounds the records one anti-entropy answer carries, so
	// that under heavy writes (when digests always differ) it costs a
	// bounded share of the work; the rest follows in later rounds.
	maxRepair = 2000
	linger    = 2 * time.Millisecond // an idle pusher waits this long for a batch to gather
	maxOutbox = 100_000              // per peer; beyond, anti-entropy repairs
	dedupSize = 100_000
)

const (
	bucketKV    = "kv"    // key -> rec
	bucketMeta  = "meta"  // "seq/<origin>" -> highest seq seen
	bucketDedup = "dedup" // slot (8 bytes, big-endian, appended in order) -> request id
	nDigest     = 256
)

// TS is a hybrid logical clock timestamp.
type TS struct {
	Wall    int64  `json:"w"` // wall-clock nanoseconds (skewable)
	Logical uint64 `json:"l"`
	Node    string `json:"n"`
}

// Less orders timestamps: wall, then logical, then node id.
func (a TS) Less(b TS) bool {
	if a.Wall != b.Wall {
		return a.Wall < b.Wall
	}
	if a.Logical != b.Logical {
		return a.Logical < b.Logical
	}
	return a.Node < b.Node
}

// rec is one write, as stored and replicated.
type rec struct {
	Key    string `json:"k"`
	Value  string `json:"v"`
	TS     TS     `json:"t"`
	Origin string `json:"o"`
	Seq    uint64 `json:"s"`
	// notOnDisk: a local write acknowledged under ack-before-fsync and not
	// yet written; anti-entropy does not hand it out. Guarded by mu.
	notOnDisk bool
}

func (r *rec) newer(o *rec) bool { return o == nil || o.TS.Less(r.TS) }

func (r *rec) hash() uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(r.TS.Wall))
	binary.BigEndian.PutUint64(b[8:], r.TS.Logical)
	h.Write([]byte(r.Key))
	h.Write([]byte{0})
	h.Write(b[:])
	h.Write([]byte(r.TS.Node))
	return h.Sum64()
}

func bucketOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % nDigest)
}

type entry struct {
	vis, sub *rec
}

// Engine is a node's eventual engine.
type Engine struct {
	env    store.Env
	id     string
	db     *durable.DB
	log    *slog.Logger
	client *http.Client

	mu     sync.Mutex
	kv     map[string]*entry
	keys   [nDigest][]string // the keys of each digest bucket
	digest [nDigest]uint64   // XOR of visible records' hashes, per bucket
	hlc    TS                // last timestamp issued or received
	seq    uint64            // own writes submitted
	vector store.Token       // origin -> highest seq visible
	outbox map[string][]*rec
	dedup  *dedup.Table[*durable.Pending]
	pulled uint64 // entries taken from peers by anti-entropy
	wake   map[string]chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ store.Engine = (*Engine)(nil)

// New starts the eventual engine of a node.
func New(env store.Env) (store.Engine, error) { return Open(env) }

// Open is New with the concrete type.
func Open(env store.Env) (*Engine, error) {
	env, err := env.Prepare("eventual")
	if err != nil {
		return nil, err
	}
	logger, client := env.Logger, env.PeerClient
	db, err := durable.Open(filepath.Join(env.DataDir, "eventual.db"), durable.Options{
		Buckets:        []string{bucketKV, bucketMeta, bucketDedup},
		AckBeforeFsync: env.Faults.On(store.AckBeforeFsync),
		LazyFsync:      env.Faults.On(store.LazyFsync),
	})
	if err != nil {
		return nil, fmt.Errorf("eventual: %w", err)
	}
	e := &Engine{
		env: env, id: env.NodeID, db: db, log: logger.With("mode", "eventual", "node", env.NodeID), client: client,
		kv: map[string]*entry{}, vector: store.Token{}, outbox: map[string][]*rec{},
		dedup: dedup.New[*durable.Pending](bucketDedup, dedupSize), wake: map[string]chan struct{}{},
	}
	if err := e.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("eventual: recover from %s: %w", env.DataDir, err)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for peer := range env.Peers {
		e.wake[peer] = make(chan struct{}, 1)
	}
	for peer, addr := range env.Peers {
		e.wg.Add(2)
		go e.push(peer, "http://"+addr)
		go e.antiEntropy(peer, "http://"+addr)
	}
	return e, nil
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func (e *Engine) recover() error {
	err := e.db.ForEach(bucketMeta, func(k, v []byte) error {
		if o, ok := strings.CutPrefix(string(k), "seq/"); ok && len(v) == 8 {
			e.vector[o] = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.seq = e.vector[e.id]
	err = e.db.ForEach(bucketKV, func(k, v []byte) error {
		r, err := decodeRec(v)
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		ent := e.entryLocked(r.Key)
		ent.vis, ent.sub = r, r
		e.digest[bucketOf(r.Key)] ^= r.hash()
		e.observe(r.TS)
		return nil
	})
	if err != nil {
		return err
	}
	return e.dedup.Recover(e.db, func() *durable.Pending { return nil })
}

// now issues a new HLC timestamp. Call with mu held.
func (e *Engine) now() TS {
	pt := e.env.Clock.Now().UnixNano()
	if pt > e.hlc.Wall {
		e.hlc = TS{Wall: pt}
	} else {
		e.hlc.Logical++
	}
	return TS{Wall: e.hlc.Wall, Logical: e.hlc.Logical, Node: e.id}
}

// observe moves the HLC past a received timestamp. Call with mu held.
func (e *Engine) observe(t TS) {
	if e.hlc.Wall < t.Wall || (e.hlc.Wall == t.Wall && e.hlc.Logical < t.Logical) {
		e.hlc = TS{Wall: t.Wall, Logical: t.Logical}
	}
}

// Read returns the local visible value. Tokens are ignored.
func (e *Engine) Read(ctx context.Context, req store.ReadRequest) (store.ReadResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ent := e.kv[req.Key]; ent != nil && ent.vis != nil {
		return store.ReadResponse{Value: ent.vis.Value, Found: true}, nil
	}
	return store.ReadResponse{}, nil
}

// Write stamps, persists and then replicates the write.
func (e *Engine) Write(ctx context.Context, req store.WriteRequest) (store.WriteResponse, error) {
	return e.write(ctx, req.Key, req.Value, req.RequestID, nil)
}

// CAS compares with the local node's current value (including accepted,
// not yet durable writes). Not linearizable across nodes.
func (e *Engine) CAS(ctx context.Context, req store.CASRequest) (store.WriteResponse, error) {
	return e.write(ctx, req.Key, req.New, req.RequestID, &req.Expected)
}

func (e *Engine) write(ctx context.Context, key, value, reqID string, expected *string) (store.WriteResponse, error) {
	e.mu.Lock()
	if p, ok := e.dedup.Lookup(reqID); reqID != "" && ok {
		e.mu.Unlock()
		return e.finish(ctx, p, reqID)
	}
	ent := e.kv[key]
	if expected != nil && (ent == nil || ent.sub == nil || ent.sub.Value != *expected) {
		e.mu.Unlock()
		return store.WriteResponse{}, fmt.Errorf("eventual: cas on %q: node %s holds another value: %w", key, e.id, store.ErrMismatch)
	}
	ent = e.entryLocked(key)
	e.seq++
	r := &rec{Key: key, Value: value, TS: e.now(), Origin: e.id, Seq: e.seq, notOnDisk: e.env.Faults.On(store.AckBeforeFsync)}
	enc := appendRec(nil, r)
	ent.sub = r
	ops := []durable.Op{
		durable.Put(bucketKV, []byte(key), enc),
		durable.Put(bucketMeta, []byte("seq/"+e.id), u64(r.Seq)),
	}
	if reqID != "" {
		ops = append(ops, e.dedup.Remember(reqID, nil)...)
	}
	apply := func() {
		e.mu.Lock()
		e.applyLocked(r)
		e.mu.Unlock()
	}
	// Replicate only what is on disk (under ack-before-fsync that is
	// later than the ack, so a kill -9 loses the write everywhere).
	onDurable := func() {
		e.mu.Lock()
		r.notOnDisk = false
		for peer := range e.wake {
			ob := append(e.outbox[peer], r)
			if len(ob) > maxOutbox {
				ob = ob[len(ob)-maxOutbox:]
			}
			e.outbox[peer] = ob
		}
		e.mu.Unlock()
		for _, ch := range e.wake {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	p := e.db.SubmitThen(ops, apply, onDurable)
	if reqID != "" {
		e.dedup.Set(reqID, p)
	}
	e.mu.Unlock()
	return e.finish(ctx, p, reqID)
}

// entryLocked returns the key's entry, creating it. Call with mu held.
func (e *Engine) entryLocked(key string) *entry {
	ent := e.kv[key]
	if ent == nil {
		ent = &entry{}
		e.kv[key] = ent
		b := bucketOf(key)
		e.keys[b] = append(e.keys[b], key)
	}
	return ent
}

// applyLocked makes a durable record visible if it wins. Call with mu held.
func (e *Engine) applyLocked(r *rec) {
	ent := e.kv[r.Key]
	if r.newer(ent.vis) {
		b := bucketOf(r.Key)
		if ent.vis != nil {
			e.digest[b] ^= ent.vis.hash()
		}
		e.digest[b] ^= r.hash()
		ent.vis = r
	}
	if r.Seq > e.vector[r.Origin] {
		e.vector[r.Origin] = r.Seq
	}
}

func (e *Engine) finish(ctx context.Context, p *durable.Pending, reqID string) (store.WriteResponse, error) {
	if p != nil {
		if err := p.Wait(ctx); err != nil {
			return store.WriteResponse{}, fmt.Errorf("eventual: write %q: %v: %w", reqID, err, store.ErrUnknown)
		}
	}
	return store.WriteResponse{}, nil
}

// receive takes remote records, keeping those that win, and writes them
// in one submission, which it returns (nil if none won). Records taken by
// anti-entropy are counted (before they become visible).
func (e *Engine) receive(recs []*rec, antiEntropy bool) *durable.Pending {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ops []durable.Op
	var won []*rec
	var seqs map[string]uint64 // origin -> highest new seq in this batch
	for _, r := range recs {
		e.observe(r.TS)
		ent := e.entryLocked(r.Key)
		if !r.newer(ent.sub) {
			if r.Seq > e.vector[r.Origin] {
				e.vector[r.Origin] = r.Seq
			}
			continue
		}
		ent.sub = r
		ops = append(ops, durable.Put(bucketKV, []byte(r.Key), appendRec(nil, r)))
		if r.Seq > e.vector[r.Origin] {
			if seqs == nil {
				seqs = map[string]uint64{}
			}
			seqs[r.Origin] = max(seqs[r.Origin], r.Seq)
		}
		if antiEntropy {
			e.pulled++
		}
		won = append(won, r)
	}
	if len(won) == 0 {
		return nil
	}
	for o, n := range seqs {
		ops = append(ops, durable.Put(bucketMeta, []byte("seq/"+o), u64(n)))
	}
	return e.db.Submit(ops, func() {
		e.mu.Lock()
		for _, r := range won {
			e.applyLocked(r)
		}
		e.mu.Unlock()
	})
}

// Stats are details beyond store.EngineStatus.
type Stats struct {
	Vector store.Token   `json:"vector"` // origin -> highest seq seen
	HLC    TS            `json:"hlc"`
	Keys   int           `json:"keys"`
	Pulled uint64        `json:"pulled"` // newer entries taken from peers by anti-entropy
	Disk   durable.Stats `json:"disk"`
}

// Stats returns the engine's details.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{Vector: e.vectorLocked(), HLC: e.hlc, Keys: len(e.kv), Pulled: e.pulled, Disk: e.db.Stats()}
}

func (e *Engine) vectorLocked() store.Token {
	v := make(store.Token, len(e.vector))
	for o, n := range e.vector {
		v[o] = n
	}
	return v
}

// Status reports, per origin node, the highest write sequence number this
// node has seen (writes are not applied in order in this mode: it shows
// how far replication got, not a causal cut).
func (e *Engine) Status() store.EngineStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return store.EngineStatus{Vector: e.vectorLocked()}
}

// Close stops replication and closes the data file.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	return e.db.Close()
}
