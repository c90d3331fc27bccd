// Package node is the reference store's server: one node of a cluster. It
// owns the network side — the client/admin HTTP/1.1 API on the client
// address (served by its own lean server, httpserver.go)
// and, on the peer address, a cmux that sends HTTP/1 requests to the
// engine's /peer/ API and every other connection to the engine's raw
// stream listener (Raft's transport in strong mode) — plus the node's
// clock and deliberate-fault switches. Replication and storage belong to
// the engine of the node's mode (store/strong, store/causal,
// store/eventual).
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/soheilhy/cmux"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/causal"
	"github.com/faultline/faultline/store/eventual"
	"github.com/faultline/faultline/store/internal/peerauth"
	"github.com/faultline/faultline/store/strong"
)

// Default addresses of a node.
const (
	DefaultClientListen = "127.0.0.1:7001"
	DefaultPeerListen   = "127.0.0.1:7101"
)

// Config configures a node.
type Config struct {
	ID   string
	Mode store.Mode
	// ClientListen and PeerListen are the addresses to bind when
	// ClientListener / PeerListener are nil (defaults DefaultClientListen
	// and DefaultPeerListen). Tests pass "127.0.0.1:0", or pre-bound
	// listeners so every node knows the others' addresses before start.
	ClientListen, PeerListen     string
	ClientListener, PeerListener net.Listener
	// Peers maps the other nodes' ids to their peer addresses as this node
	// dials them; an entry for the node itself is ignored.
	Peers   map[string]string
	DataDir string
	Faults  store.Faults
	Logger  *slog.Logger // default: text to stderr
	// RequestTimeout bounds the work of one client request (default 10s);
	// a client that disconnects does not cut it short (see httpServer).
	RequestTimeout time.Duration
	// ReadBodyTimeout bounds the arrival of a request body, from the end
	// of its headers, on both addresses (default 10s): a body trickled
	// slower is cut off with 408, so it cannot hold a connection forever.
	ReadBodyTimeout time.Duration
	// PeerSecret, when set, is the cluster's shared secret: every
	// connection to or from the peer address must prove it knows it
	// (store/internal/peerauth), and connections that do not are refused
	// and counted in Status. Empty: the peer address trusts anyone who
	// can reach it (fine on loopback only).
	PeerSecret []byte
	// Strong tunes strong mode's Raft node.
	Strong strong.Config
	// NewEngine, when set, builds the engine instead of the mode's
	// constructor (for tests of the server alone).
	NewEngine func(store.Env) (store.Engine, error)
}

// Node is a running node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	clock   *store.Clock
	engine  store.Engine
	peerCl  *http.Client
	mux     cmux.CMux
	peerLn  net.Listener
	auth    *peerauth.Listener // nil without a PeerSecret
	client  *httpServer
	peer    *httpServer
	clientL net.Listener
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Start starts a node: binds (or takes) its listeners, starts its
// engine and serves until Close. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.ID == "" {
		return nil, errors.New("node: empty id: give the node a name such as n1")
	}
	if _, perr := store.ParseMode(string(cfg.Mode)); perr != nil && cfg.NewEngine == nil {
		return nil, fmt.Errorf("node %s: %w", cfg.ID, perr)
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("node %s: no data dir", cfg.ID)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.ReadBodyTimeout <= 0 {
		cfg.ReadBodyTimeout = 10 * time.Second
	}
	if cfg.Faults == nil {
		cfg.Faults = store.Faults{}
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.ID), clock: &store.Clock{}}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	if n.clientL = cfg.ClientListener; n.clientL == nil {
		addr := cfg.ClientListen
		if addr == "" {
			addr = DefaultClientListen
		}
		if n.clientL, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("node %s: client listen: %w", cfg.ID, err)
		}
	}
	if n.peerLn = cfg.PeerListener; n.peerLn == nil {
		addr := cfg.PeerListen
		if addr == "" {
			addr = DefaultPeerListen
		}
		if n.peerLn, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("node %s: peer listen: %w", cfg.ID, err)
		}
	}
	n.peerLn = newTrackingListener(n.peerLn)
	muxL := n.peerLn
	if len(cfg.PeerSecret) > 0 {
		if err := peerauth.CheckSecret(cfg.PeerSecret); err != nil {
			return nil, fmt.Errorf("node %s: %w", cfg.ID, err)
		}
		n.auth = peerauth.NewListener(n.peerLn, cfg.PeerSecret, n.log)
		muxL = n.auth
	}
	n.mux = cmux.New(muxL)
	n.mux.SetReadTimeout(5 * time.Second)
	httpL := n.mux.Match(cmux.HTTP1Fast())
	streamL := n.mux.Match(cmux.Any())
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.mux.Serve() }()

	peers := map[string]string{}
	for id, addr := range cfg.Peers {
		if id != cfg.ID {
			peers[id] = addr
		}
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if len(cfg.PeerSecret) > 0 {
		dial = peerauth.Dialer(dialer, cfg.PeerSecret)
	}
	n.peerCl = newPeerClient(dial)
	env := store.Env{
		NodeID:         cfg.ID,
		DataDir:        cfg.DataDir,
		Peers:          peers,
		PeerClient:     n.peerCl,
		PeerDial:       dial,
		Clock:          n.clock,
		Faults:         cfg.Faults,
		StreamListener: streamL,
		Logger:         n.log,
	}
	newEngine := cfg.NewEngine
	if newEngine == nil {
		switch cfg.Mode {
		case store.Strong:
			newEngine = func(env store.Env) (store.Engine, error) {
				e, err := strong.NewWithConfig(env, cfg.Strong)
				if err != nil {
					return nil, err // not a typed nil in the interface
				}
				return e, nil
			}
		case store.Causal:
			newEngine = causal.New
		case store.Eventual:
			newEngine = eventual.New
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	engine, err := newEngine(env)
	if err != nil {
		return nil, fmt.Errorf("node %s: start %s engine: %w", cfg.ID, cfg.Mode, err)
	}
	n.engine = engine

	// Peer handlers bound their own waits (forward timeouts, durable
	// commits), so the peer side needs no request cancellation either.
	n.peer = &httpServer{Handler: n.peerHandler(), ReadHeaderTimeout: 10 * time.Second, ReadBodyTimeout: cfg.ReadBodyTimeout, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: http.DefaultMaxHeaderBytes, Log: n.log}
	n.client = &httpServer{Handler: n.clientHandler(), ReadHeaderTimeout: 10 * time.Second, ReadBodyTimeout: cfg.ReadBodyTimeout, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: http.DefaultMaxHeaderBytes, Log: n.log}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.peer.Serve(httpL) }()
	go func() { defer n.wg.Done(); n.client.Serve(n.clientL) }()
	n.log.Info("node started", "mode", cfg.Mode, "client", n.ClientAddr(), "peer", n.PeerAddr(), "peers", peers, "faults", cfg.Faults.List())
	return n, nil
}

// CheckPeerSecret says what is wrong with a peer secret (too short), or nil.
func CheckPeerSecret(secret []byte) error { return peerauth.CheckSecret(secret) }

func newPeerClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// ClientAddr is the bound client/admin address.
func (n *Node) ClientAddr() string { return n.clientL.Addr().String() }

// PeerAddr is the bound peer address.
func (n *Node) PeerAddr() string { return n.peerLn.Addr().String() }

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Engine is the node's engine.
func (n *Node) Engine() store.Engine { return n.engine }

// Clock is the node's clock.
func (n *Node) Clock() *store.Clock { return n.clock }

// Status is what GET /admin/status reports.
func (n *Node) Status() store.Status {
	s := store.Status{ID: n.cfg.ID, Mode: n.cfg.Mode, ClockOffsetNS: int64(n.clock.Offset()), Faults: n.cfg.Faults.List(), PeerAuth: n.auth != nil}
	if n.auth != nil {
		s.PeerRefused = n.auth.Refused()
	}
	if n.engine != nil {
		es := n.engine.Status()
		s.Role, s.Leader, s.Term, s.Applied, s.Vector, s.Raft = es.Role, es.Leader, es.Term, es.Applied, es.Vector, es.Raft
	}
	return s
}

// Close stops serving, closes the engine and releases the listeners.
// Requests in flight are cut off. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.client != nil {
			n.client.Close()
		} else if n.clientL != nil {
			n.clientL.Close()
		}
		if n.engine != nil {
			if err := n.engine.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close engine: %w", err))
			}
		}
		if n.peer != nil {
			n.peer.Close()
		}
		if n.peerLn != nil {
			n.peerLn.Close() // ends the cmux's Serve, cuts every peer connection
		}
		if n.mux != nil {
			n.mux.Close()
		}
		if n.peerCl != nil {
			n.peerCl.CloseIdleConnections()
		}
		n.wg.Wait()
		n.closeErr = errors.Join(errs...)
		n.log.Info("node stopped")
	})
	return n.closeErr
}

var _ io.Closer = (*Node)(nil)
