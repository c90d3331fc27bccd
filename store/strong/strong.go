// Package strong is the store's linearizable mode: every write and cas
// goes through a Raft log (hashicorp/raft, with raft-wal as log and
// stable store: an append-only segment file fsynced once per batch before
// its entries count as stored), and
// reads are served by the leader only after a quorum round that started
// after the read arrived (ReadIndex-style; no leader leases, which clock
// skew and pauses would break). Any node accepts requests and forwards
// them to the leader over the peer address, so a partition cuts
// forwarding too.
//
// The package owns the Raft node, its files in the data dir and the
// /peer/forward/ API; the node package owns the listeners.
package strong

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/syncdir"
)

// Config tunes the Raft node. Zero fields take the defaults, chosen for
// loopback and container networks.
type Config struct {
	// HeartbeatTimeout: a follower without contact for this long starts
	// an election (the leader heartbeats ten times as often). Default
	// store.DefaultRaftHeartbeatTimeout (1s).
	HeartbeatTimeout time.Duration
	// ElectionTimeout: a candidate's timeout. Default
	// store.DefaultRaftElectionTimeout (1s).
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout: a leader without quorum contact for this long
	// steps down. It never serves reads on its own. Default
	// store.DefaultRaftLeaderLeaseTimeout (1s).
	LeaderLeaseTimeout time.Duration
	// CommitTimeout: how long the leader waits before telling followers
	// of a commit without a new entry (followers serving reads wait for
	// it). Default 10ms.
	CommitTimeout time.Duration
	// MaxAppendEntries bounds a batch of entries (one fsync). Default 256.
	MaxAppendEntries int
	// SnapshotThreshold: entries between snapshots. Default 16384.
	SnapshotThreshold uint64
	// EnqueueTimeout bounds waiting to hand a write to Raft; a write that
	// could not be handed over is not applied. Default 1s.
	EnqueueTimeout time.Duration
	// ForwardTimeout caps the work a forwarded request makes the leader
	// do when the forwarding node gave no shorter deadline. Default 10s.
	ForwardTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, store.DefaultRaftHeartbeatTimeout)
	def(&c.ElectionTimeout, store.DefaultRaftElectionTimeout)
	def(&c.LeaderLeaseTimeout, store.DefaultRaftLeaderLeaseTimeout)
	def(&c.CommitTimeout, 10*time.Millisecond)
	def(&c.EnqueueTimeout, time.Second)
	def(&c.ForwardTimeout, 10*time.Second)
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		c.LeaderLeaseTimeout = c.HeartbeatTimeout
	}
	if c.MaxAppendEntries <= 0 {
		c.MaxAppendEntries = 256
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 16384
	}
	return c
}

// Engine is a strong-mode node's engine. It implements store.Engine.
type Engine struct {
	env    store.Env
	cfg    Config
	log    *slog.Logger
	fsm    *fsm
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	wal    *wal.WAL
	meta   *metadb.BoltMetaDB
	lock   *os.File // flock on <data>/raft/LOCK while the engine runs
	peer   http.Handler
	peers  map[string]string // the other nodes' peer addresses
	timing store.RaftTiming

	ready   atomic.Pointer[readiness] // this leader's latest barrier
	readyMu sync.Mutex                // one barrier at a time
	reads   *readBatcher
	// lastConfirmer is the peer that last confirmed this leader's term
	// (a string): asked first in the next read round.
	lastConfirmer atomic.Value
	fwd           *forwardBatcher // writes and cas forwarded to the leader

	closeOnce sync.Once
	closeErr  error
}

var _ store.Engine = (*Engine)(nil)

// New starts the strong engine of a node with the default Config.
func New(env store.Env) (store.Engine, error) {
	return NewWithConfig(env, Config{})
}

// NewWithConfig starts the strong engine of a node: it opens (or creates)
// the Raft files in env.DataDir, bootstraps the cluster of env.NodeID plus
// env.Peers on first start, and runs Raft's transport on
// env.StreamListener.
func NewWithConfig(env store.Env, cfg Config) (*Engine, error) {
	if env.Faults.On(store.AckBeforeFsync) {
		return nil, fmt.Errorf("fault %s is not available in strong mode: Raft fsyncs its log before an entry counts as stored, and a kill -9 does not lose data already written to the page cache, so the fault could not take real effect; use it with --mode causal or eventual", store.AckBeforeFsync)
	}
	if env.Faults.On(store.LazyFsync) {
		return nil, fmt.Errorf("fault %s is not available in strong mode: Raft's log is fsynced before an entry counts as stored; use it with --mode causal or eventual", store.LazyFsync)
	}
	if env.Faults.On(store.SkipDeps) {
		return nil, fmt.Errorf("fault %s applies to causal mode only, not strong mode: strong mode has the %s fault", store.SkipDeps, store.StaleReads)
	}
	if env.NodeID == "" {
		return nil, errors.New("strong: empty node id")
	}
	if env.StreamListener == nil {
		return nil, errors.New("strong: no stream listener for Raft's transport")
	}
	if env.DataDir == "" {
		return nil, errors.New("strong: no data dir")
	}
	cfg = cfg.withDefaults()
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := &Engine{env: env, cfg: cfg, log: logger, fsm: newFSM(),
		timing: store.NewRaftTiming(cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout)}
	if e.env.PeerClient == nil {
		e.env.PeerClient = &http.Client{}
	}
	if err := e.start(); err != nil {
		e.Close()
		return nil, err
	}
	e.reads = newReadBatcher(e.readRound)
	e.fwd = newForwardBatcher(e.sendBatch)
	e.peer = e.peerHandler()
	return e, nil
}

func (e *Engine) start() error {
	dir := filepath.Join(e.env.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("strong: create data dir: %w", err)
	}
	// Names are durable once their directory is fsynced: without this a
	// power loss can take back the whole Raft directory.
	if err := syncdir.Parent(dir); err != nil {
		return fmt.Errorf("strong: %w", err)
	}
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Info,
		Output: &slogWriter{log: e.log.With("component", "raft")},
	})

	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err == nil {
		return fmt.Errorf("strong: data dir %s holds a raft.db written by an older storenode (raft-boltdb log); this version keeps its Raft log in %s: start with a fresh data dir", dir, filepath.Join(dir, "wal"))
	}
	lock, err := lockDir(dir, 5*time.Second)
	if err != nil {
		return fmt.Errorf("strong: %w", err)
	}
	e.lock = lock
	walDir := filepath.Join(dir, "wal")
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		return fmt.Errorf("strong: create wal dir: %w", err)
	}
	if err := syncdir.Parent(walDir); err != nil {
		return fmt.Errorf("strong: %w", err)
	}
	// The Raft log and stable store: an append-only segment file, one
	// fsync per StoreLogs batch (bbolt needed two, for its pages and its
	// meta page, plus the page writes); term and vote go to a small bbolt
	// file, fsynced on every change.
	e.meta = &metadb.BoltMetaDB{}
	w, err := wal.Open(walDir, wal.WithMetaStore(e.meta), wal.WithSegmentSize(walSegmentSize), wal.WithLogger(hlog.Named("wal")))
	if err != nil {
		return fmt.Errorf("strong: open raft log %s: %w", walDir, err)
	}
	e.wal = w
	logs, err := raft.NewLogCache(1024, w)
	if err != nil {
		return fmt.Errorf("strong: log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("strong: snapshot store: %w", err)
	}
	if err := syncdir.Sync(dir); err != nil { // the snapshots directory's name
		return fmt.Errorf("strong: %w", err)
	}

	peers := map[string]string{}
	for id, addr := range e.env.Peers {
		if id != e.env.NodeID {
			peers[id] = addr
		}
	}
	e.peers = peers
	e.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: peerResolver{self: e.env.NodeID, local: e.env.StreamListener.Addr().String(), peers: peers},
		Stream:                streamLayer{Listener: e.env.StreamListener, dial: e.env.PeerDial},
		MaxPool:               8,
		Timeout:               2 * time.Second,
		Logger:                hlog,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(e.env.NodeID)
	rc.HeartbeatTimeout = e.cfg.HeartbeatTimeout
	rc.ElectionTimeout = e.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = e.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = e.cfg.CommitTimeout
	rc.MaxAppendEntries = e.cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = e.cfg.SnapshotThreshold
	rc.Logger = hlog
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("strong: raft config: %w", err)
	}

	existing, err := raft.HasExistingState(logs, w, snaps)
	if err != nil {
		return fmt.Errorf("strong: inspect raft state: %w", err)
	}
	if !existing {
		// Every node bootstraps the same configuration on first start:
		// itself plus its peers, addressed by id (see peerResolver).
		conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: raft.ServerAddress(e.env.NodeID)}}}
		for id := range peers {
			conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
		}
		if err := raft.BootstrapCluster(rc, logs, w, snaps, e.trans, conf); err != nil {
			return fmt.Errorf("strong: bootstrap: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, e.fsm, logs, w, snaps, e.trans)
	if err != nil {
		return fmt.Errorf("strong: start raft: %w", err)
	}
	e.raft = r
	return nil
}

// Close stops Raft and closes its files. Safe to call more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.reads != nil {
			e.reads.close()
		}
		if e.fwd != nil {
			e.fwd.close()
		}
		if e.raft != nil {
			if err := e.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
			}
		}
		if e.trans != nil {
			if err := e.trans.Close(); err != nil {
				errs = append(errs, fmt.Errorf("transport: %w", err))
			}
		}
		if e.wal != nil {
			if err := e.wal.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raft log: %w", err))
			}
		}
		if e.meta != nil {
			// wal.Close leaves its meta store open (and locked).
			if err := e.meta.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raft meta: %w", err))
			}
		}
		if e.lock != nil {
			e.lock.Close() // releases the flock
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// Status implements store.Engine.
func (e *Engine) Status() store.EngineStatus {
	_, leader := e.raft.LeaderWithID()
	return store.EngineStatus{
		Role:    strings.ToLower(e.raft.State().String()),
		Leader:  string(leader),
		Term:    e.raft.CurrentTerm(),
		Applied: e.fsm.applied.Load(),
		Raft:    &e.timing,
	}
}

// PeerHandler implements store.Engine: it serves /peer/forward/ and
// /peer/strong/term.
func (e *Engine) PeerHandler() http.Handler { return e.peer }

// Raft exposes the Raft node, for tests and diagnostics.
func (e *Engine) Raft() *raft.Raft { return e.raft }

func (e *Engine) isLeader() bool { return e.raft.State() == raft.Leader }

// Read implements store.Engine. Without the stale-reads fault every node
// serves linearizable reads: it gets a read index from a round (its own
// if it leads, else the leader's, see readRound), waits until its state
// machine has applied that index, and reads locally.
func (e *Engine) Read(ctx context.Context, req store.ReadRequest) (store.ReadResponse, error) {
	if e.env.Faults.On(store.StaleReads) {
		// Deliberate fault: the local state machine, whatever it holds.
		v, ok := e.fsm.get(req.Key)
		return store.ReadResponse{Value: v, Found: ok}, nil
	}
	return e.linearRead(ctx, req)
}

func (e *Engine) linearRead(ctx context.Context, req store.ReadRequest) (store.ReadResponse, error) {
	idx, err := e.reads.wait(ctx)
	if err != nil {
		return store.ReadResponse{}, err
	}
	if err := e.fsm.waitApplied(ctx, idx); err != nil {
		return store.ReadResponse{}, fmt.Errorf("%w: this node did not catch up to read index %d in time: %v", store.ErrNotApplied, idx, err)
	}
	v, ok := e.fsm.get(req.Key)
	return store.ReadResponse{Value: v, Found: ok}, nil
}

// Write implements store.Engine.
func (e *Engine) Write(ctx context.Context, req store.WriteRequest) (store.WriteResponse, error) {
	c := command{Op: "write", Key: req.Key, Value: req.Value, ID: req.RequestID}
	if !e.isLeader() {
		return store.WriteResponse{}, e.fwd.forward(ctx, batchItem{Op: "write", Req: store.Request{Key: req.Key, Value: &req.Value, RequestID: req.RequestID}})
	}
	return store.WriteResponse{}, e.apply(ctx, c)
}

// CAS implements store.Engine.
func (e *Engine) CAS(ctx context.Context, req store.CASRequest) (store.WriteResponse, error) {
	c := command{Op: "cas", Key: req.Key, Expected: req.Expected, Value: req.New, ID: req.RequestID}
	if !e.isLeader() {
		return store.WriteResponse{}, e.fwd.forward(ctx, batchItem{Op: "cas", Req: store.Request{Key: req.Key, Expected: &req.Expected, New: &req.New, RequestID: req.RequestID}})
	}
	return store.WriteResponse{}, e.apply(ctx, c)
}

// apply proposes c on this (leader) node and waits for it to be applied.
func (e *Engine) apply(ctx context.Context, c command) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: request expired before it was proposed: %v", store.ErrNotApplied, err)
	}
	data, err := encodeCommand(c)
	if err != nil {
		return fmt.Errorf("%w: %v", store.ErrNotApplied, err)
	}
	f := e.raft.Apply(data, e.cfg.EnqueueTimeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: timed out waiting for the write to commit: %v", store.ErrUnknown, ctx.Err())
	}
	if err != nil {
		return classifyApply(err)
	}
	switch res := f.Response().(type) {
	case result:
		if res.Mismatch {
			return fmt.Errorf("%w: key %q does not hold the expected value", store.ErrMismatch, c.Key)
		}
		return nil
	case error:
		return fmt.Errorf("%w: applied with an error: %v", store.ErrUnknown, res)
	default:
		return fmt.Errorf("%w: unexpected apply response %T", store.ErrUnknown, res)
	}
}

// classifyApply maps Raft's errors: those raised before the entry was
// appended mean not applied, everything else may have been committed.
func classifyApply(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", store.ErrNotApplied, err)
	default: // ErrLeadershipLost, ErrRaftShutdown, ...
		return fmt.Errorf("%w: %v", store.ErrUnknown, err)
	}
}

func encodeCommand(c command) ([]byte, error) {
	return jsonMarshal(c)
}

// readiness records a leader's read barrier in one term.
type readiness struct {
	term    uint64
	index   uint64 // the barrier's log index
	applied uint64 // the state machine's applied index once the barrier returned
}

// ensureReady makes sure this leader has applied an entry of term: after
// that, its state machine holds every write any leader acknowledged before
// this term began.
func (e *Engine) ensureReady(ctx context.Context, term uint64) (readiness, error) {
	if r := e.ready.Load(); r != nil && r.term == term {
		return *r, nil
	}
	e.readyMu.Lock()
	defer e.readyMu.Unlock()
	if r := e.ready.Load(); r != nil && r.term == term {
		return *r, nil
	}
	f := e.raft.Barrier(e.cfg.EnqueueTimeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return readiness{}, fmt.Errorf("%w: leader not ready for reads: %v", store.ErrNotApplied, err)
		}
	case <-ctx.Done():
		return readiness{}, fmt.Errorf("%w: leader not ready for reads: %v", store.ErrNotApplied, ctx.Err())
	}
	idx, ok := f.(raft.IndexFuture)
	if !ok {
		return readiness{}, fmt.Errorf("%w: raft barrier has no index (%T)", store.ErrNotApplied, f)
	}
	if e.raft.CurrentTerm() != term || !e.isLeader() {
		return readiness{}, fmt.Errorf("%w: leadership changed while getting ready for reads", store.ErrNotApplied)
	}
	r := readiness{term: term, index: idx.Index(), applied: e.fsm.applied.Load()}
	e.ready.Store(&r)
	return r, nil
}

// readRound is one read round, shared by every read that arrived before
// it started. It returns a read index: an index of the state machine
// (a command entry, which every replica applies) that covers every write
// acknowledged before the round began and everything any read returned
// before. The leader computes it (leaderRound); other nodes ask the leader.
func (e *Engine) readRound(ctx context.Context) (uint64, error) {
	if e.isLeader() {
		return e.leaderRound(ctx)
	}
	return e.askReadIndex(ctx)
}

// leaderRound: this node is leader in term t; it has applied an entry of
// t (so it holds every write acknowledged by earlier leaders); its commit
// index after that covers everything committed in t (writes it
// acknowledged, and anything a follower could have applied and served);
// and a quorum answered, to a request sent after the round began, that
// its term is still t (so no later leader can have been elected, let alone
// have acknowledged a write, before the reads arrived).
//
// Raft's own VerifyLeader is not used: it counts heartbeat replies that
// arrive after it was called, even for heartbeats sent before, which a
// paused leader could mistake for a fresh quorum.
func (e *Engine) leaderRound(ctx context.Context) (uint64, error) {
	t := e.raft.CurrentTerm()
	if !e.isLeader() {
		return 0, fmt.Errorf("%w: not the leader", store.ErrNotApplied)
	}
	rd, err := e.ensureReady(ctx, t)
	if err != nil {
		return 0, err
	}
	commit := e.raft.CommitIndex()
	if err := e.confirmTerm(ctx, t); err != nil {
		return 0, err
	}
	if e.raft.CurrentTerm() != t || !e.isLeader() {
		return 0, fmt.Errorf("%w: leadership changed during the read", store.ErrNotApplied)
	}
	// After the barrier this leader appends only commands, so a commit
	// index past the barrier is a command's index; at or before it,
	// everything was applied by the time the barrier returned.
	if commit > rd.index {
		return commit, nil
	}
	return rd.applied, nil
}

// confirmTerm asks peers for their current term and returns nil once
// enough of them (with this node, a majority) answer t. It asks as many
// peers as it needs first (the one that answered last time first), and
// the others only when one of those fails or has not answered within
// hedgeDelay: in a healthy cluster a round costs one request per needed
// peer, not one per peer; with a peer cut off it costs hedgeDelay more.
// Every request is sent after the round began, as before.
func (e *Engine) confirmTerm(ctx context.Context, t uint64) error {
	need := (len(e.peers)+1)/2 + 1 - 1 // a majority of the cluster, minus this node
	if need == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		id   string
		term uint64
		err  error
	}
	ids := make([]string, 0, len(e.peers))
	for id := range e.peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if last, _ := e.lastConfirmer.Load().(string); last != "" {
		for i, id := range ids {
			if id == last {
				ids[0], ids[i] = ids[i], ids[0]
				break
			}
		}
	}
	answers := make(chan answer, len(ids))
	asked := 0
	ask := func(n int) {
		for ; n > 0 && asked < len(ids); n-- {
			id := ids[asked]
			asked++
			go func() {
				term, err := e.peerTerm(ctx, e.peers[id])
				answers <- answer{id, term, err}
			}()
		}
	}
	ask(need)
	hedge := time.NewTimer(hedgeDelay)
	defer hedge.Stop()
	ok, bad, got := 0, 0, 0
	var reasons []string
	for got < asked {
		var a answer
		select {
		case a = <-answers:
		case <-hedge.C:
			ask(len(ids))
			continue
		}
		got++
		switch {
		case a.err != nil:
			reasons = append(reasons, fmt.Sprintf("%s: %v", a.id, a.err))
		case a.term != t:
			reasons = append(reasons, fmt.Sprintf("%s is in term %d, not %d", a.id, a.term, t))
		default:
			ok++
			if ok >= need {
				e.lastConfirmer.Store(a.id)
				return nil
			}
			continue
		}
		bad++
		if bad > len(ids)-need {
			break
		}
		ask(1) // replace the peer that did not confirm
	}
	return fmt.Errorf("%w: leadership not confirmed by a quorum: %s", store.ErrNotApplied, strings.Join(reasons, "; "))
}

// hedgeDelay is how long a read round waits for the peers it asked first
// before asking the others too.
const hedgeDelay = 5 * time.Millisecond

// slogWriter forwards hclog's lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level := slog.LevelInfo
		switch {
		case strings.Contains(line, "[ERROR]"):
			level = slog.LevelError
		case strings.Contains(line, "[WARN]"):
			level = slog.LevelWarn
		case strings.Contains(line, "[DEBUG]"), strings.Contains(line, "[TRACE]"):
			level = slog.LevelDebug
		}
		if i := strings.Index(line, "raft: "); i >= 0 {
			line = line[i+len("raft: "):]
		}
		w.log.Log(context.Background(), level, line)
	}
	return len(p), nil
}

var _ io.Writer = (*slogWriter)(nil)
