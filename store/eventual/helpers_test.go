package eventual

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/stretchr/testify/require"
)

// proxy is a tiny TCP proxy for one link (node -> peer), so a test can cut
// and heal the link for real: cut closes every open connection and makes
// new ones close at once; the target can change when a peer restarts.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	cut    bool
	conns  map[net.Conn]bool
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setTarget(t string) {
	p.mu.Lock()
	p.target = t
	p.mu.Unlock()
}

func (p *proxy) setCut(cut bool) {
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

func (p *proxy) serve() {
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

func (p *proxy) pipe(c net.Conn, target string) {
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

// node is one engine with its peer API served on real loopback TCP.
type node struct {
	id     string
	dir    string
	eng    *Engine
	srv    *http.Server
	ln     net.Listener
	faults store.Faults
	clock  *store.Clock
}

// cluster is n engines; links[a][b] is the proxy a dials to reach b.
type cluster struct {
	t     testing.TB
	nodes map[string]*node
	links map[string]map[string]*proxy
}

func newCluster(t testing.TB, ids []string, faults store.Faults) *cluster {
	c := &cluster{t: t, nodes: map[string]*node{}, links: map[string]map[string]*proxy{}}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c.nodes[id] = &node{id: id, dir: t.TempDir(), ln: ln, faults: faults, clock: &store.Clock{}}
	}
	for _, a := range ids {
		c.links[a] = map[string]*proxy{}
		for _, b := range ids {
			if a != b {
				c.links[a][b] = newProxy(t, c.nodes[b].ln.Addr().String())
			}
		}
	}
	for _, id := range ids {
		c.start(id)
	}
	return c
}

func (c *cluster) start(id string) {
	t := c.t
	n := c.nodes[id]
	if n.ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		n.ln = ln
		for from, ps := range c.links {
			if from != id {
				ps[id].setTarget(ln.Addr().String())
			}
		}
	}
	peers := map[string]string{}
	for b, p := range c.links[id] {
		peers[b] = p.addr()
	}
	eng, err := Open(store.Env{NodeID: id, DataDir: n.dir, Peers: peers,
		PeerClient: &http.Client{Timeout: 3 * time.Second}, Clock: n.clock, Faults: n.faults})
	require.NoError(t, err)
	n.eng = eng
	n.srv = &http.Server{Handler: eng.PeerHandler()}
	go n.srv.Serve(n.ln)
	t.Cleanup(func() { c.stop(id) })
}

// stop shuts a node's server and engine down (gracefully: in-process, a
// crash cannot be simulated; the kill -9 test uses the real binary).
func (c *cluster) stop(id string) {
	n := c.nodes[id]
	if n.eng == nil {
		return
	}
	n.srv.Close()
	n.eng.Close()
	n.eng, n.srv, n.ln = nil, nil, nil
}

// isolate cuts (or heals) every link to and from id.
func (c *cluster) isolate(id string, cut bool) {
	for a, ps := range c.links {
		for b, p := range ps {
			if a == id || b == id {
				p.setCut(cut)
			}
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
