// Package enginetest holds the test helpers that the store's engine and
// node tests share: a TCP proxy for one direction of one link, which cuts
// and heals that link for real, and an in-process cluster of engines whose
// peer APIs are served on loopback TCP through such proxies; and the
// checks that every durable engine must pass alike (group commit).
//
// It is a normal package only so that several packages' tests can import
// it; nothing but _test.go files may use it. It touches only loopback
// addresses and the test's temporary directories, and every listener,
// connection and engine it opens is closed by t.Cleanup.
package enginetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
)

// Proxy is a TCP proxy for one direction of one link (node -> peer). Cut
// closes every open connection and makes new ones close at once, as a
// partition would; Heal lets traffic through again. The target can change
// when the peer restarts on another port.
type Proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	cut    bool
	conns  map[net.Conn]bool
}

// NewProxy listens on a fresh loopback port and forwards to target until
// the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget makes new connections go to target.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// Cut drops the open connections and refuses new ones.
func (p *Proxy) Cut() { p.SetCut(true) }

// Heal lets new connections through again.
func (p *Proxy) Heal() { p.SetCut(false) }

// SetCut cuts (true) or heals (false) the link.
func (p *Proxy) SetCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut, target := p.cut, p.target
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		go p.pipe(c, target)
	}
}

func (p *Proxy) pipe(c net.Conn, target string) {
	up, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }()
	io.Copy(c, up)
	up.Close()
	c.Close()
}

// Node is one engine with its peer API served on real loopback TCP.
type Node[E store.Engine] struct {
	ID  string
	Dir string // data dir, kept across restarts
	// Clock is the node's clock, kept across restarts, so a test can skew
	// one node.
	Clock  *store.Clock
	Faults store.Faults
	Eng    E // the running engine; the zero E while stopped
	Ln     net.Listener
	srv    *http.Server
	up     bool
}

// Cluster is engines that reach each other through proxies:
// Links[a][b] is the proxy a dials to reach b.
type Cluster[E store.Engine] struct {
	t     testing.TB
	open  func(store.Env) (E, error)
	Nodes map[string]*Node[E]
	Links map[string]map[string]*Proxy
}

// NewCluster starts one engine per id, opened by open with faults, and
// stops them all when the test ends.
func NewCluster[E store.Engine](t testing.TB, open func(store.Env) (E, error), ids []string, faults store.Faults) *Cluster[E] {
	c := &Cluster[E]{t: t, open: open, Nodes: map[string]*Node[E]{}, Links: map[string]map[string]*Proxy{}}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c.Nodes[id] = &Node[E]{ID: id, Dir: t.TempDir(), Ln: ln, Faults: faults, Clock: &store.Clock{}}
	}
	for _, a := range ids {
		c.Links[a] = map[string]*Proxy{}
		for _, b := range ids {
			if a != b {
				c.Links[a][b] = NewProxy(t, c.Nodes[b].Ln.Addr().String())
			}
		}
	}
	for _, id := range ids {
		c.Start(id)
	}
	return c
}

// Start (re)starts node id on its data dir; after a Stop it listens on a
// new port and the proxies to it follow.
func (c *Cluster[E]) Start(id string) {
	t := c.t
	n := c.Nodes[id]
	if n.Ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		n.Ln = ln
		for from, ps := range c.Links {
			if from != id {
				ps[id].SetTarget(ln.Addr().String())
			}
		}
	}
	peers := map[string]string{}
	for b, p := range c.Links[id] {
		peers[b] = p.Addr()
	}
	eng, err := c.open(store.Env{NodeID: id, DataDir: n.Dir, Peers: peers,
		PeerClient: &http.Client{Timeout: 3 * time.Second}, Clock: n.Clock, Faults: n.Faults})
	require.NoError(t, err)
	n.Eng, n.up = eng, true
	n.srv = &http.Server{Handler: eng.PeerHandler()}
	go n.srv.Serve(n.Ln)
	t.Cleanup(func() { c.Stop(id) })
}

// Stop shuts a node's server and engine down (gracefully: in-process, a
// crash cannot be simulated; kill -9 tests use the real binary).
func (c *Cluster[E]) Stop(id string) {
	n := c.Nodes[id]
	if !n.up {
		return
	}
	n.srv.Close()
	n.Eng.Close()
	var zero E
	n.Eng, n.srv, n.Ln, n.up = zero, nil, nil, false
}

// Isolate cuts (true) or heals (false) every link to and from id.
func (c *Cluster[E]) Isolate(id string, cut bool) {
	for a, ps := range c.Links {
		for b, p := range ps {
			if a == id || b == id {
				p.SetCut(cut)
			}
		}
	}
}

// WriteFromEach has every node write writes values at once, to keys k0,
// k1, … k(keys-1) in turn; each value names its node and write ("a-7").
func (c *Cluster[E]) WriteFromEach(t *testing.T, writes, keys int) {
	t.Helper()
	var wg sync.WaitGroup
	for id, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < writes; i++ {
				_, err := n.Eng.Write(Context(t), store.WriteRequest{Key: fmt.Sprintf("k%d", i%keys), Value: fmt.Sprintf("%s-%d", id, i)})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
}

// Context is a 10 s context that ends with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// WritesShareFsyncs makes 32 clients write 20 keys each to eng at once
// and checks that the 640 writes took fewer than 160 commits of the data
// file (group commit); commits reports the file's commits so far.
func WritesShareFsyncs(t *testing.T, eng store.Engine, commits func() uint64) {
	t.Helper()
	before := commits()
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				_, err := eng.Write(Context(t), store.WriteRequest{Key: fmt.Sprintf("k%d", i), Value: "v"})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	n := commits() - before
	assert.Less(t, n, uint64(640/4), "640 concurrent writes must share fsyncs")
	t.Logf("640 writes, %d fsynced commits", n)
}
