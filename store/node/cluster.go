package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/strong"
)

// ClusterConfig describes an in-process cluster on loopback, for tests
// and benchmarks: node ids n1..nN, data in Dir/<id>.
type ClusterConfig struct {
	Nodes  int
	Mode   store.Mode
	Dir    string
	Faults store.Faults
	Strong strong.Config
	Logger *slog.Logger
	// PeerAddr, when set, returns the address node from dials to reach
	// node to, whose peer address is addr (tests route links through
	// proxies they can cut). Default: addr.
	PeerAddr func(from, to, addr string) string
	// NewEngine overrides the mode's engine constructor.
	NewEngine func(store.Env) (store.Engine, error)
	// PeerSecret is every node's Config.PeerSecret.
	PeerSecret []byte
}

// Cluster is an in-process cluster. Each node keeps its addresses across
// Stop and Restart.
type Cluster struct {
	cfg         ClusterConfig
	mu          sync.Mutex
	ids         []string
	nodes       map[string]*Node
	clientAddrs map[string]string
	peerAddrs   map[string]string
}

// StartCluster binds every node's listeners on 127.0.0.1 ports, then
// starts the nodes.
func StartCluster(ctx context.Context, cfg ClusterConfig) (_ *Cluster, err error) {
	if cfg.Nodes < 1 {
		return nil, fmt.Errorf("cluster: %d nodes: want at least 1", cfg.Nodes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cluster{cfg: cfg, nodes: map[string]*Node{}, clientAddrs: map[string]string{}, peerAddrs: map[string]string{}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	clientLns := map[string]net.Listener{}
	peerLns := map[string]net.Listener{}
	defer func() {
		if err != nil {
			for _, l := range clientLns {
				l.Close()
			}
			for _, l := range peerLns {
				l.Close()
			}
		}
	}()
	for i := 1; i <= cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		c.ids = append(c.ids, id)
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		clientLns[id] = cl
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		peerLns[id] = pl
		c.clientAddrs[id] = cl.Addr().String()
		c.peerAddrs[id] = pl.Addr().String()
	}
	for _, id := range c.ids {
		cl, pl := clientLns[id], peerLns[id]
		delete(clientLns, id) // the node owns them now, even on failure
		delete(peerLns, id)
		n, err := Start(ctx, c.nodeConfig(id, cl, pl))
		if err != nil {
			return nil, err
		}
		c.nodes[id] = n
	}
	return c, nil
}

func (c *Cluster) nodeConfig(id string, cl, pl net.Listener) Config {
	peers := map[string]string{}
	for _, other := range c.ids {
		if other == id {
			continue
		}
		addr := c.peerAddrs[other]
		if c.cfg.PeerAddr != nil {
			addr = c.cfg.PeerAddr(id, other, addr)
		}
		peers[other] = addr
	}
	return Config{
		ID: id, Mode: c.cfg.Mode,
		ClientListener: cl, PeerListener: pl,
		Peers: peers, DataDir: filepath.Join(c.cfg.Dir, id),
		Faults: c.cfg.Faults, Logger: c.cfg.Logger,
		Strong: c.cfg.Strong, NewEngine: c.cfg.NewEngine,
		PeerSecret: c.cfg.PeerSecret,
	}
}

// IDs are the node ids, n1..nN.
func (c *Cluster) IDs() []string { return append([]string(nil), c.ids...) }

// ClientAddrs are the nodes' client addresses, in id order.
func (c *Cluster) ClientAddrs() []string {
	out := make([]string, len(c.ids))
	for i, id := range c.ids {
		out[i] = c.clientAddrs[id]
	}
	return out
}

// PeerAddr is node id's (real, bound) peer address.
func (c *Cluster) PeerAddr(id string) string { return c.peerAddrs[id] }

// Node returns the running node id, or nil when it is stopped.
func (c *Cluster) Node(id string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// Stop closes node id (its data stays).
func (c *Cluster) Stop(id string) error {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("cluster: node %q is not running", id)
	}
	return n.Close()
}

// Restart starts a stopped node again on its data and addresses.
func (c *Cluster) Restart(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[id] != nil {
		return fmt.Errorf("cluster: node %q is running", id)
	}
	if _, ok := c.clientAddrs[id]; !ok {
		return fmt.Errorf("cluster: no node %q", id)
	}
	cl, err := listenRetry(ctx, c.clientAddrs[id])
	if err != nil {
		return err
	}
	pl, err := listenRetry(ctx, c.peerAddrs[id])
	if err != nil {
		cl.Close()
		return err
	}
	n, err := Start(ctx, c.nodeConfig(id, cl, pl))
	if err != nil {
		return err
	}
	c.nodes[id] = n
	return nil
}

func listenRetry(ctx context.Context, addr string) (net.Listener, error) {
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: rebind %s: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Leader waits until the running nodes agree on a strong-mode leader and
// returns its id.
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		votes := map[string]int{}
		running := 0
		for _, n := range c.nodes {
			running++
			if s := n.Status(); s.Leader != "" {
				votes[s.Leader]++
			}
		}
		c.mu.Unlock()
		for id, v := range votes {
			if v == running && c.Node(id) != nil && c.Node(id).Status().Role == "leader" {
				return id, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("cluster: no agreed leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops every running node.
func (c *Cluster) Close() error {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[string]*Node{}
	c.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if err := n.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
