package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/faultline/faultline/harness"
)

// Config is the etcd cluster's configuration under test.
type Config struct {
	// Serializable makes reads serializable (served from the node's own
	// state, possibly stale) instead of linearizable.
	Serializable bool
	// HeartbeatInterval and ElectionTimeout are passed to every node when
	// non-zero; zero keeps etcd's defaults (100 ms and 1000 ms).
	HeartbeatInterval, ElectionTimeout time.Duration
	// DialTimeout bounds a client's connection attempt (default 1 s): a
	// node that is down or cut off fails an op as not sent in a second
	// instead of leaving it unknown after the op timeout.
	DialTimeout time.Duration
}

// System is an etcd cluster as a system under test.
type System struct {
	bin     Binary
	cfg     Config
	clients atomic.Int64
	health  *http.Client
}

var (
	_ harness.System       = (*System)(nil)
	_ harness.LeaderFinder = (*System)(nil)
	_ harness.Promiser     = (*System)(nil)
)

// New returns etcd run from bin (see EnsureBinary) with cfg.
func New(bin Binary, cfg Config) (*System, error) {
	if bin.Path == "" {
		return nil, errors.New("etcd: no binary (use EnsureBinary)")
	}
	if cfg.HeartbeatInterval < 0 || cfg.ElectionTimeout < 0 {
		return nil, fmt.Errorf("etcd: negative heartbeat interval or election timeout (%s, %s)", cfg.HeartbeatInterval, cfg.ElectionTimeout)
	}
	if cfg.HeartbeatInterval > 0 && cfg.ElectionTimeout > 0 && cfg.ElectionTimeout < 5*cfg.HeartbeatInterval {
		return nil, fmt.Errorf("etcd: election timeout %s must be at least 5 heartbeat intervals (%s) (etcd refuses to start otherwise)", cfg.ElectionTimeout, cfg.HeartbeatInterval)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	return &System{bin: bin, cfg: cfg, health: &http.Client{Timeout: 2 * time.Second}}, nil
}

func (s *System) Name() string   { return "etcd" }
func (s *System) Binary() string { return s.bin.Path }

// Promise is what the configuration keeps: linearizable with etcd's
// default reads; with serializable reads only eventual (a node answers
// from its own state, which lags the leader's commits and stays behind
// while the node is cut off; a client that moves between nodes can read
// older values after newer ones, so not even causal). cas is a Txn,
// linearizable either way.
func (s *System) Promise() harness.Promise {
	if s.cfg.Serializable {
		return harness.Promise{Model: "eventual", CAS: true}
	}
	return harness.Promise{Model: "linearizable", CAS: true}
}

// Options is what a run records in test.json about this system.
func (s *System) Options() map[string]any {
	reads := "linearizable"
	if s.cfg.Serializable {
		reads = "serializable"
	}
	ms := func(d time.Duration) any {
		if d == 0 {
			return "etcd default"
		}
		return d.Milliseconds()
	}
	return map[string]any{
		"etcd_version": s.bin.Version, "etcd_binary": s.bin.Path, "etcd_reads": reads,
		"etcd_heartbeat_interval_ms": ms(s.cfg.HeartbeatInterval),
		"etcd_election_timeout_ms":   ms(s.cfg.ElectionTimeout),
	}
}

// Args is etcd's command line for one node.
func (s *System) Args(n harness.NodeLayout) []string {
	advertise := n.PeerAdvertise
	if advertise == "" {
		advertise = n.PeerListen
	}
	urls := map[string]string{n.ID: "http://" + advertise}
	for id, addr := range n.Peers {
		urls[id] = "http://" + addr
	}
	ids := make([]string, 0, len(urls))
	for id := range urls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	cluster := make([]string, 0, len(ids))
	for _, id := range ids {
		cluster = append(cluster, id+"="+urls[id])
	}
	args := []string{
		"--name", n.ID,
		"--data-dir", n.DataDir,
		"--listen-client-urls", "http://" + n.ClientListen,
		"--advertise-client-urls", "http://" + n.ClientListen,
		"--listen-peer-urls", "http://" + n.PeerListen,
		"--initial-advertise-peer-urls", "http://" + advertise,
		"--initial-cluster", strings.Join(cluster, ","),
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "faultline",
	}
	if s.cfg.HeartbeatInterval > 0 {
		args = append(args, "--heartbeat-interval", fmt.Sprint(s.cfg.HeartbeatInterval.Milliseconds()))
	}
	if s.cfg.ElectionTimeout > 0 {
		args = append(args, "--election-timeout", fmt.Sprint(s.cfg.ElectionTimeout.Milliseconds()))
	}
	return args
}

// SharedPeerAddresses asks the local backend to show every node a peer
// at one address: etcd hashes the peer URLs of --initial-cluster into the
// member and cluster ids, so they must read the same on every node.
func (s *System) SharedPeerAddresses() bool { return true }

var _ harness.SharedPeerAddresses = (*System)(nil)

// Ready polls the node's /health until it says true: etcd answers true
// only when the member has a leader and no alarm, and it serves a read.
func (s *System) Ready(ctx context.Context, n harness.Node) error {
	var last error
	for {
		last = s.healthy(ctx, n)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd node %s not healthy: %w (last: %v)", n.ID, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *System) healthy(ctx context.Context, n harness.Node) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.ClientAddr+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := s.health.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"health":"true"`) {
		return fmt.Errorf("GET /health: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// dial returns an etcd client with the single endpoint addr: no endpoint
// sync, no other endpoints to balance to.
func (s *System) dial(addr string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{"http://" + addr},
		DialTimeout: s.cfg.DialTimeout,
		DialOptions: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(failFast),
			// A connection attempt gives up after DialTimeout (gRPC's
			// default is 20 s): a killed container's address does not
			// refuse, it just never answers, and the op would wait out
			// its timeout as unknown while the request was never sent.
			grpc.WithConnectParams(grpc.ConnectParams{
				MinConnectTimeout: s.cfg.DialTimeout,
				Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			}),
		},
		Logger: zap.NewNop(),
		// Keepalive finds a dead connection to a paused or cut-off node.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	})
}

// Leader asks each node's maintenance Status: a node that says it is the
// leader wins; else the leader most nodes name, mapped to a node id with
// the member list.
func (s *System) Leader(ctx context.Context, nodes []harness.Node) (string, error) {
	votes := map[uint64]int{}
	var errs []error
	var names map[uint64]string
	for _, n := range nodes {
		id, leader, members, err := s.status(ctx, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.ID, err))
			continue
		}
		if leader != 0 && leader == id {
			return n.ID, nil
		}
		if leader != 0 {
			votes[leader]++
			names = members
		}
	}
	var best uint64
	most := 0
	for id, v := range votes {
		if v > most || (v == most && id < best) {
			best, most = id, v
		}
	}
	if most == 0 {
		return "", fmt.Errorf("etcd: no node knows a leader: %w", errors.Join(errs...))
	}
	if name := names[best]; name != "" {
		return name, nil
	}
	return "", fmt.Errorf("etcd: the leader %x is not a known member", best)
}

// status returns a node's member id, the leader it knows (0: none) and
// the member ids' names.
func (s *System) status(ctx context.Context, n harness.Node) (id, leader uint64, names map[uint64]string, err error) {
	c, err := s.dial(n.ClientAddr)
	if err != nil {
		return 0, 0, nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.Status(ctx, "http://"+n.ClientAddr)
	if err != nil {
		return 0, 0, nil, err
	}
	ml, err := c.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return 0, 0, nil, err
	}
	names = map[uint64]string{}
	for _, m := range ml.Members {
		names[m.ID] = m.Name
	}
	return st.Header.MemberId, st.Leader, names, nil
}

// failFast undoes etcd's client default of waiting for a connection that
// is down (grpc.WaitForReady(true)): an RPC to a node that is down or cut
// off then fails at once, unsent, with Unavailable and the dial error,
// which is a provable "not applied", instead of waiting out the op
// timeout as an unknown outcome. A later call option overrides an earlier
// one, so appending is enough.
func failFast(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, append(opts, grpc.WaitForReady(false))...)
}
