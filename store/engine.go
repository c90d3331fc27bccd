package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// Mode is a consistency mode of the store.
type Mode string

// The three modes. Each keeps exactly its model's promises.
const (
	Strong   Mode = "strong"   // linearizable: Raft, ReadIndex-style reads
	Causal   Mode = "causal"   // causal+: local reads/writes, causal tokens
	Eventual Mode = "eventual" // last-writer-wins by HLC, anti-entropy
)

// Modes lists the valid modes, for usage messages.
var Modes = []Mode{Strong, Causal, Eventual}

// ParseMode returns the mode named s, or an error listing the valid ones.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown mode %q: valid modes are strong, causal, eventual", s)
}

// Token is a causal token: a version vector, node id -> number of that
// node's writes covered. Causal mode uses it; other modes ignore it.
type Token map[string]uint64

// ReadRequest reads one key.
type ReadRequest struct {
	Key   string
	Token Token
}

// ReadResponse is what a read saw.
type ReadResponse struct {
	Value string
	Found bool // false: the key is absent (read null)
	Token Token
}

// WriteRequest sets Key to Value. RequestID makes a retried write apply at
// most once.
type WriteRequest struct {
	Key, Value string
	RequestID  string
	Token      Token
}

// CASRequest sets Key to New if it holds Expected.
type CASRequest struct {
	Key, Expected, New string
	RequestID          string
	Token              Token
}

// WriteResponse is the result of an applied write or cas.
type WriteResponse struct {
	Token Token
}

// The three outcomes an engine reports, besides success. Engines wrap them
// with %w and a reason; the HTTP layer maps them to status codes and the
// client back to typed errors, so the harness records ok / fail / info.
var (
	// ErrMismatch: a cas found another value; definitely not applied.
	ErrMismatch = errors.New("mismatch")
	// ErrNotApplied: refused before anything was proposed (no leader, not
	// ready, causal token not covered in time); definitely not applied and
	// safe to retry.
	ErrNotApplied = errors.New("not applied")
	// ErrUnknown: the write may have been proposed and its outcome is not
	// known (timeout, lost leadership).
	ErrUnknown = errors.New("outcome unknown")
)

// Engine is one consistency mode's implementation of the client API. The
// Server owns the network and the admin API; an engine owns replication
// and storage. Every method is safe for concurrent use.
type Engine interface {
	Read(ctx context.Context, req ReadRequest) (ReadResponse, error)
	Write(ctx context.Context, req WriteRequest) (WriteResponse, error)
	CAS(ctx context.Context, req CASRequest) (WriteResponse, error)
	// Status fills the mode-specific part of the node's status.
	Status() EngineStatus
	// PeerHandler serves the engine's node-to-node HTTP API, mounted
	// under /peer/ on the peer address. May be nil. The handler sees the
	// full request path (e.g. /peer/causal/replicate): nothing is
	// stripped. Strong mode uses /peer/forward/ and /peer/strong/.
	PeerHandler() http.Handler
	Close() error
}

// EngineStatus is the mode-specific part of /admin/status.
type EngineStatus struct {
	Role    string      `json:"role,omitempty"`   // strong: leader, follower, candidate
	Leader  string      `json:"leader,omitempty"` // strong: leader's node id
	Term    uint64      `json:"term,omitempty"`
	Applied uint64      `json:"applied,omitempty"` // strong: applied index
	Vector  Token       `json:"vector,omitempty"`  // causal/eventual: applied vector
	Raft    *RaftTiming `json:"raft,omitempty"`    // strong: the timing it runs with
}

// Strong mode's default Raft timing. etcd's choice (1 s election
// timeout, heartbeats every 100 ms) rather than shorter: on a loaded
// 2-core machine a leader with a 250 ms lease missed its quorum contact
// by a few ms and stepped down with no fault injected, leaving a no-fault
// run with unknown ops and "no leader" failures; see store/README.md for
// the measurement. The cost is slower failover: a follower waits 1-2 s
// without a leader before it stands.
const (
	// DefaultRaftHeartbeatTimeout: a follower without contact for this
	// long (randomized up to twice) starts an election; the leader
	// heartbeats ten times as often.
	DefaultRaftHeartbeatTimeout = time.Second
	// DefaultRaftElectionTimeout: a candidate's timeout.
	DefaultRaftElectionTimeout = time.Second
	// DefaultRaftLeaderLeaseTimeout: a leader without quorum contact for
	// this long steps down (it never serves reads on its lease).
	DefaultRaftLeaderLeaseTimeout = time.Second
)

// RaftTiming is the Raft timing a strong-mode node runs with, as its
// status and a run's test.json report it.
type RaftTiming struct {
	HeartbeatTimeoutMS   int64 `json:"heartbeat_timeout_ms"`
	ElectionTimeoutMS    int64 `json:"election_timeout_ms"`
	LeaderLeaseTimeoutMS int64 `json:"leader_lease_timeout_ms"`
}

// NewRaftTiming reports the three timeouts in milliseconds.
func NewRaftTiming(heartbeat, election, lease time.Duration) RaftTiming {
	return RaftTiming{HeartbeatTimeoutMS: heartbeat.Milliseconds(), ElectionTimeoutMS: election.Milliseconds(), LeaderLeaseTimeoutMS: lease.Milliseconds()}
}

// DefaultRaftTiming is the timing of a node started without tuning.
func DefaultRaftTiming() RaftTiming {
	return NewRaftTiming(DefaultRaftHeartbeatTimeout, DefaultRaftElectionTimeout, DefaultRaftLeaderLeaseTimeout)
}

// Env is what a node gives its engine.
type Env struct {
	NodeID  string
	DataDir string
	// Peers maps every other node's id to its peer address as this node
	// dials it (in the local backend, through a per-link proxy).
	Peers map[string]string
	// PeerClient is an HTTP client for other nodes' /peer/ API.
	PeerClient *http.Client
	// PeerDial opens a raw connection to another node's peer address,
	// authenticated when the cluster has a secret (nil: a plain dial).
	PeerDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Clock is the node's only source of wall-clock time.
	Clock *Clock
	// Faults are the deliberate-fault switches the node was started with.
	Faults Faults
	// StreamListener receives the raw (non-HTTP) connections that arrive
	// on the peer address; strong mode runs Raft's transport on it.
	StreamListener net.Listener
	Logger         *slog.Logger
}

// Prepare checks env for the engine named engine and fills in its
// defaults: a clock, a logger, a peer HTTP client with a 5 s timeout; it
// creates the data dir. Engines call it first thing.
func (env Env) Prepare(engine string) (Env, error) {
	if env.NodeID == "" {
		return env, fmt.Errorf("%s: empty node id: every node needs a unique id", engine)
	}
	if env.DataDir == "" {
		return env, fmt.Errorf("%s: empty data dir: give the node a directory for its data file", engine)
	}
	if _, ok := env.Peers[env.NodeID]; ok {
		return env, fmt.Errorf("%s: peers list node %q itself: list only the other nodes", engine, env.NodeID)
	}
	if env.Clock == nil {
		env.Clock = &Clock{}
	}
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.PeerClient == nil {
		env.PeerClient = &http.Client{Timeout: 5 * time.Second}
	}
	if err := os.MkdirAll(env.DataDir, 0o755); err != nil {
		return env, fmt.Errorf("%s: data dir: %w", engine, err)
	}
	return env, nil
}
