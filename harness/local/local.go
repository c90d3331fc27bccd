// Package local is the harness backend that runs each node of a cluster
// as a child process on the loopback interface: distinct ports per node,
// data directories and logs inside the run directory, every child in its
// own process group, killed with it when the cluster closes (and by the
// kernel, through the parent-death signal, if the harness dies).
//
// Faults: Kill is SIGKILL to the node's process group; Restart starts the
// same command again on the same data directory and ports; Pause and
// Resume are SIGSTOP and SIGCONT. Every peer link i→j goes through its
// own TCP proxy on loopback (node i's peer address for j is the proxy),
// so Partition can blackhole each direction of each link (one-way cuts
// work) and Packet can delay traffic. A system that needs every node to
// name a peer by one address (harness.SharedPeerAddresses: etcd) gets one
// inbound proxy per node instead, which tells the links apart by the
// process that dialed (source.go); the faults act per link as before.
//
// What the proxies cannot do: they sit above TCP, so a dropped packet
// shows only as the delay of its retransmission (loss is emulated as
// RetransmitDelay on a share of the data), and duplication and reordering
// are invisible to TCP's receivers: Packet refuses them with an error
// (use the docker backend, which has netem). A blackholed connection
// stalls instead of timing out at the TCP level, and new connections to a
// cut peer are accepted by the proxy and then stall; data held during a
// cut is delivered after the heal, as TCP would retransmit it. Client
// traffic from the harness to the nodes does not go through the proxies,
// so a partition never cuts the harness from a node, and Packet shapes
// only node-to-node traffic.
package local

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/internal/logexcerpt"
	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/nemesis"
)

// Options configure the local backend.
type Options struct {
	// BasePort, when set, gives node i (0-based) the client port
	// BasePort+2i and the peer port BasePort+2i+1; 0 picks free ports.
	BasePort int
	// StartTimeout bounds the wait for every node to be ready (default
	// 60s).
	StartTimeout time.Duration
}

// Backend starts clusters of local processes.
type Backend struct{ opts Options }

var (
	_ harness.Backend     = (*Backend)(nil)
	_ harness.PacketModer = (*Backend)(nil)
)

// New returns a local backend.
func New(opts Options) *Backend {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	return &Backend{opts: opts}
}

// PacketModes are the packet faults the link proxies apply: delay (with
// jitter) and loss; duplication and reordering are invisible above TCP.
func (b *Backend) PacketModes() []string { return []string{"delay", "loss"} }

func (b *Backend) Name() string { return "local" }

// Cluster is a running local cluster.
type Cluster struct {
	sys   harness.System
	dir   string
	nodes []*node
	links map[[2]string]*link // [from, to]
	// fronts holds each node's one inbound peer proxy when the system
	// asks for shared peer addresses (see source.go); nil otherwise.
	fronts map[string]*front

	pgMu  sync.Mutex
	pgids map[string]int // node id → process group of its current process
	// closing is set once Close begins: connections of dying nodes are
	// refused then without a warning.
	closing atomic.Bool

	mu   sync.Mutex // serializes faults
	once sync.Once
	err  error
}

var _ harness.Cluster = (*Cluster)(nil)

type node struct {
	id         string
	clientAddr string
	peerAddr   string
	layout     harness.NodeLayout
	logPath    string
	cmd        *exec.Cmd
	done       chan struct{} // closed when the process has exited
	paused     bool
	logf       *os.File
	fs         *lazyfs.FS // ClusterSpec.LazyFS: the node's data directory's filesystem
}

// Start starts spec.Nodes nodes of sys and waits until every node is
// ready. On failure everything started is stopped.
func (b *Backend) Start(ctx context.Context, sys harness.System, spec harness.ClusterSpec) (harness.Cluster, error) {
	if spec.Nodes <= 0 {
		return nil, fmt.Errorf("local backend: a cluster needs at least one node, not %d", spec.Nodes)
	}
	if _, err := os.Stat(sys.Binary()); err != nil {
		return nil, fmt.Errorf("local backend: the %s binary %q is missing (run `make build`): %w", sys.Name(), sys.Binary(), err)
	}
	c := &Cluster{sys: sys, dir: spec.Dir, links: map[[2]string]*link{}, pgids: map[string]int{}}
	if sp, ok := sys.(harness.SharedPeerAddresses); ok && sp.SharedPeerAddresses() {
		c.fronts = map[string]*front{}
	}
	ok := false
	defer func() {
		if !ok {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			c.Close(cctx)
			cancel()
		}
	}()
	// Mounts left by a harness that died are unmounted; a live run's
	// are not touched.
	if _, err := lazyfs.Reap(""); err != nil && spec.LazyFS {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	if spec.LazyFS {
		if err := lazyfs.Available(); err != nil {
			return nil, fmt.Errorf("local backend: the power fault needs each node's data directory on a FUSE filesystem: %w", err)
		}
	}
	for _, d := range []string{"nodes", "data"} {
		if err := os.MkdirAll(filepath.Join(spec.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("local backend: %w", err)
		}
	}
	for i := 0; i < spec.Nodes; i++ {
		id := fmt.Sprintf("n%d", i+1)
		var cp, pp string
		if b.opts.BasePort > 0 {
			cp = fmt.Sprintf("127.0.0.1:%d", b.opts.BasePort+2*i)
			pp = fmt.Sprintf("127.0.0.1:%d", b.opts.BasePort+2*i+1)
		} else {
			var err error
			if cp, err = freePort(); err != nil {
				return nil, err
			}
			if pp, err = freePort(); err != nil {
				return nil, err
			}
		}
		c.nodes = append(c.nodes, &node{id: id, clientAddr: cp, peerAddr: pp,
			logPath: filepath.Join(spec.Dir, "nodes", id+".log")})
	}
	// One proxy per directed link: with its own address, or behind the
	// target's front when addresses are shared.
	for i, from := range c.nodes {
		for j, to := range c.nodes {
			if i == j {
				continue
			}
			seed := uint64(i*len(c.nodes) + j)
			if c.fronts != nil {
				c.links[[2]string{from.id, to.id}] = newPassiveLink(from.id, to.id, to.peerAddr, seed)
				continue
			}
			l, err := newLink(from.id, to.id, to.peerAddr, seed)
			if err != nil {
				return nil, fmt.Errorf("local backend: proxy %s→%s: %w", from.id, to.id, err)
			}
			c.links[[2]string{from.id, to.id}] = l
		}
	}
	if c.fronts != nil {
		for _, n := range c.nodes {
			f, err := newFront(n.id, c.routeTo(n.id))
			if err != nil {
				return nil, fmt.Errorf("local backend: node %s's peer proxy: %w", n.id, err)
			}
			c.fronts[n.id] = f
		}
	}
	for _, n := range c.nodes {
		peers := map[string]string{}
		for _, o := range c.nodes {
			if o != n {
				peers[o.id] = c.peerAddrFor(n.id, o.id)
			}
		}
		n.layout = harness.NodeLayout{ID: n.id, ClientListen: n.clientAddr, PeerListen: n.peerAddr,
			Peers: peers, DataDir: filepath.Join(spec.Dir, "data", n.id)}
		if c.fronts != nil {
			n.layout.PeerAdvertise = c.fronts[n.id].address
		}
		if err := os.MkdirAll(n.layout.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("local backend: %w", err)
		}
		if spec.LazyFS {
			// The data stays in data/<id> (the backing directory);
			// the node works in data/<id>.mnt, through the lazy
			// filesystem.
			mnt := n.layout.DataDir + ".mnt"
			if err := os.MkdirAll(mnt, 0o755); err != nil {
				return nil, fmt.Errorf("local backend: %w", err)
			}
			fs, err := lazyfs.Mount(n.layout.DataDir, mnt, lazyfs.Options{KeepNames: spec.LazyFSKeepNames})
			if err != nil {
				return nil, fmt.Errorf("local backend: node %s: %w", n.id, err)
			}
			n.fs = fs
			n.layout.DataDir = mnt
		}
		// Written through the lazy filesystem when there is one, fsynced:
		// a power loss cannot take them back.
		files, err := harness.NodeFiles(c.sys, n.layout)
		if err == nil {
			err = harness.WriteNodeFiles(n.layout.DataDir, files)
		}
		if err != nil {
			return nil, fmt.Errorf("local backend: node %s's files: %w", n.id, err)
		}
	}
	for _, n := range c.nodes {
		if err := c.start(n); err != nil {
			return nil, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, b.opts.StartTimeout)
	defer cancel()
	for _, n := range c.nodes {
		if err := c.waitReady(rctx, n); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

// freePort returns a loopback address whose port is free now. It picks
// below the kernel's ephemeral range, so that between this check and the
// node binding the port no outgoing connection (which takes its source
// port from that range) and no ":0" listener (the link proxies) can take
// it; only another process choosing the same port at random could.
func freePort() (string, error) {
	lo := ephemeralLow()
	const base = 10000
	for try := 0; try < 200 && lo > base+100; try++ {
		addr := fmt.Sprintf("127.0.0.1:%d", base+rand.IntN(lo-base))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("local backend: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= 0 {
		return 32768
	}
	return lo
}

// checkFree fails with a clear error when addr cannot be bound.
func checkFree(id, what, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("local backend: node %s's %s address %s is in use (another process holds it: stop it, or choose other ports with --base-port): %w", id, what, addr, err)
	}
	return l.Close()
}

// start runs n's process, appending to its log.
func (c *Cluster) start(n *node) error {
	if err := checkFree(n.id, "client", n.clientAddr); err != nil {
		return err
	}
	if err := checkFree(n.id, "peer", n.peerAddr); err != nil {
		return err
	}
	if n.logf == nil {
		f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("local backend: open the log of %s: %w", n.id, err)
		}
		n.logf = f
	}
	args := c.sys.Args(n.layout)
	fmt.Fprintf(n.logf, "=== faultline: %s starting %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), c.sys.Binary(), strings.Join(args, " "))
	cmd := exec.Command(c.sys.Binary(), args...)
	cmd.Stdout, cmd.Stderr = n.logf, n.logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("local backend: start node %s: %w", n.id, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	n.cmd, n.done, n.paused = cmd, done, false
	c.pgMu.Lock()
	c.pgids[n.id] = cmd.Process.Pid // Setpgid: the node leads its group
	c.pgMu.Unlock()
	return nil
}

// peerAddrFor is the address node from dials to reach node to.
func (c *Cluster) peerAddrFor(from, to string) string {
	if c.fronts != nil {
		return c.fronts[to].address
	}
	return c.links[[2]string{from, to}].addr()
}

// routeTo returns what node to's front does with a connection: find the
// node that dialed it and proxy it on that node's link to "to". A
// connection no other node made is refused (RST) and logged: proxying it
// on no link would let it cross every partition.
func (c *Cluster) routeTo(to string) func(net.Conn) {
	return func(a net.Conn) {
		c.pgMu.Lock()
		pgids := make(map[string]int, len(c.pgids))
		for id, pg := range c.pgids {
			pgids[id] = pg
		}
		c.pgMu.Unlock()
		from, err := identify(a, pgids)
		if err == nil && from == to {
			err = fmt.Errorf("node %s dialed its own peer proxy", to)
		}
		if err != nil {
			refuse(to, a, err, !c.closing.Load())
			return
		}
		c.links[[2]string{from, to}].adopt(a)
	}
}

// waitReady waits for sys.Ready, failing fast (with the log's head and tail) if the
// process exits first.
func (c *Cluster) waitReady(ctx context.Context, n *node) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.sys.Ready(rctx, harness.Node{ID: n.id, ClientAddr: n.clientAddr}) }()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("local backend: node %s (%s) is not ready: %w; its log %s:\n%s", n.id, n.clientAddr, err, n.logPath, excerpt(n.logPath))
		}
		return nil
	case <-n.done:
		cancel()
		<-errc
		return fmt.Errorf("local backend: node %s exited while starting (%s); its log %s:\n%s", n.id, n.cmd.ProcessState, n.logPath, excerpt(n.logPath))
	}
}

// excerpt returns the head and the tail of a log (logexcerpt): a failed
// start's cause is often its first line, before a long usage text.
func excerpt(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	defer f.Close()
	return logexcerpt.Read(f)
}

func (c *Cluster) Nodes() []harness.Node {
	out := make([]harness.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = harness.Node{ID: n.id, ClientAddr: n.clientAddr}
	}
	return out
}

func (c *Cluster) node(id string) (*node, error) {
	for _, n := range c.nodes {
		if n.id == id {
			return n, nil
		}
	}
	ids := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		ids[i] = n.id
	}
	return nil, fmt.Errorf("local backend: no node %q (nodes are %s)", id, strings.Join(ids, ", "))
}

func running(n *node) bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// signal sends sig to n's process group.
func signal(n *node, sig syscall.Signal) error {
	if err := syscall.Kill(-n.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("local backend: %s to node %s: %w", sig, n.id, err)
	}
	return nil
}

func (c *Cluster) kill(ctx context.Context, n *node) error {
	if !running(n) {
		return nil
	}
	if err := signal(n, syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-n.done:
		n.paused = false
		if f := c.fronts[n.id]; f != nil {
			f.down()
		}
		c.linksTo(n.id, (*link).down)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("local backend: node %s did not die after SIGKILL: %w", n.id, ctx.Err())
	}
}

// Kill sends SIGKILL to the node's process group and waits for it to die.
// Killing a node that is down does nothing.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.kill(ctx, n)
}

// Restart kills the node if it runs and starts it again on its data and
// ports. It does not wait for the node to be ready.
func (c *Cluster) Restart(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := c.kill(ctx, n); err != nil {
		return err
	}
	// The kernel may hold the ports for a moment after the kill.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = c.start(n)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	// Reopen the links once the node listens for peers, so that they go
	// on refusing (not accepting and dropping) while it starts.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		if conn, err := net.DialTimeout("tcp", n.peerAddr, 200*time.Millisecond); err == nil {
			conn.Close()
			break
		}
	}
	var upErr error
	if f := c.fronts[n.id]; f != nil {
		upErr = f.up()
	}
	c.linksTo(n.id, func(l *link) {
		if e := l.up(); e != nil && upErr == nil {
			upErr = e
		}
	})
	return upErr
}

// LoseUnsynced drops what node id's lazy filesystem holds that the node
// did not fsync, as a power loss would. The node must be down.
func (c *Cluster) LoseUnsynced(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if n.fs == nil {
		return fmt.Errorf("local backend: node %s's data directory is not on the lazy filesystem (the cluster was started without ClusterSpec.LazyFS)", id)
	}
	if running(n) {
		return fmt.Errorf("local backend: node %s is running: a power loss kills it first", id)
	}
	if err := n.fs.Lose(); err != nil {
		return fmt.Errorf("local backend: node %s: %w", id, err)
	}
	return nil
}

// linksTo applies f to every link whose target is node id.
func (c *Cluster) linksTo(id string, f func(*link)) {
	for key, l := range c.links {
		if key[1] == id {
			f(l)
		}
	}
}

// Pause stops the node's processes with SIGSTOP.
func (c *Cluster) Pause(ctx context.Context, id string) error { return c.setPaused(id, true) }

// Resume continues a paused node with SIGCONT.
func (c *Cluster) Resume(ctx context.Context, id string) error { return c.setPaused(id, false) }

// setPaused sends the node's processes SIGSTOP (pause) or SIGCONT.
func (c *Cluster) setPaused(id string, pause bool) error {
	verb, sig := "resume", syscall.SIGCONT
	if pause {
		verb, sig = "pause", syscall.SIGSTOP
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if !running(n) {
		return fmt.Errorf("local backend: cannot %s node %s: it is not running", verb, id)
	}
	if err := signal(n, sig); err != nil {
		return err
	}
	n.paused = pause
	if pause {
		if err := waitStopped(n.cmd.Process.Pid, 10*time.Second); err != nil {
			return fmt.Errorf("local backend: pause node %s: %w", id, err)
		}
	}
	return nil
}

// Partition blackholes, for every node A and every B in g[A], the traffic
// from B to A: the forward direction of link B→A and the backward
// direction of link A→B. Every other direction is opened. A nil or empty
// grudge heals.
func (c *Cluster) Partition(ctx context.Context, g nemesis.Grudge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, bs := range g {
		if _, err := c.node(a); err != nil {
			return fmt.Errorf("partition: %w", err)
		}
		for _, b := range bs {
			if _, err := c.node(b); err != nil {
				return fmt.Errorf("partition: %w", err)
			}
		}
	}
	want := map[[2]string][2]bool{}
	for a, bs := range g {
		for _, b := range bs {
			if a == b {
				continue
			}
			ba := want[[2]string{b, a}]
			ba[forward] = true
			want[[2]string{b, a}] = ba
			ab := want[[2]string{a, b}]
			ab[backward] = true
			want[[2]string{a, b}] = ab
		}
	}
	for k, l := range c.links {
		w := want[k]
		l.setBlock(forward, w[forward])
		l.setBlock(backward, w[backward])
	}
	return nil
}

// Packet shapes the traffic node id sends to its peers (the forward
// direction of its outgoing links, the backward direction of its incoming
// ones). Duplicate and Reorder cannot be done above TCP: they are refused.
func (c *Cluster) Packet(ctx context.Context, id string, f nemesis.PacketFault) error {
	if f.Duplicate > 0 || f.Reorder > 0 {
		return fmt.Errorf("local backend: packet duplication and reordering are invisible above TCP (the link proxies cannot do them); use --backend docker, or only delay, jitter and loss: %w", errors.ErrUnsupported)
	}
	if f.Loss < 0 || f.Loss > 100 {
		return fmt.Errorf("local backend: loss %.1f%% is not a percentage in [0, 100]", f.Loss)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.node(id); err != nil {
		return err
	}
	s := shaping{delay: f.Delay, jitter: f.Jitter, loss: f.Loss}
	for k, l := range c.links {
		if k[0] == id {
			l.setShape(forward, s)
		}
		if k[1] == id {
			l.setShape(backward, s)
		}
	}
	return nil
}

// ResetLink closes every connection of the link from→to with RST (the
// nodes redial).
func (c *Cluster) ResetLink(from, to string) error {
	l, ok := c.links[[2]string{from, to}]
	if !ok {
		return fmt.Errorf("local backend: no link %s→%s", from, to)
	}
	l.reset()
	return nil
}

// Close stops every node (SIGCONT, SIGTERM, then SIGKILL after two
// seconds, to the whole process group), closes the proxies and the logs.
// Data directories and logs stay in the run directory.
func (c *Cluster) Close(ctx context.Context) error {
	c.once.Do(func() {
		c.closing.Store(true)
		c.mu.Lock()
		defer c.mu.Unlock()
		var errs []error
		for _, n := range c.nodes {
			if running(n) {
				signal(n, syscall.SIGCONT)
				signal(n, syscall.SIGTERM)
			}
		}
		grace := time.After(2 * time.Second)
		for _, n := range c.nodes {
			if !running(n) {
				continue
			}
			select {
			case <-n.done:
			case <-grace:
			case <-ctx.Done():
			}
			if running(n) {
				signal(n, syscall.SIGKILL)
				select {
				case <-n.done:
				case <-time.After(10 * time.Second):
					errs = append(errs, fmt.Errorf("local backend: node %s (pid %d) did not die", n.id, n.cmd.Process.Pid))
				}
			}
		}
		// The fronts first: once they are closed no connection reaches a
		// link.
		for _, f := range c.fronts {
			f.close()
		}
		keys := make([][2]string, 0, len(c.links))
		for k := range c.links {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
		for _, k := range keys {
			if err := c.links[k].close(); err != nil {
				errs = append(errs, err)
			}
		}
		// Every node is dead now: nothing holds the mounts.
		for _, n := range c.nodes {
			if n.fs == nil {
				continue
			}
			if err := n.fs.Unmount(); err != nil {
				errs = append(errs, fmt.Errorf("local backend: node %s: %w", n.id, err))
			} else {
				os.Remove(n.fs.Mountpoint())
			}
		}
		for _, n := range c.nodes {
			if n.logf != nil {
				fmt.Fprintf(n.logf, "=== faultline: %s cluster closed\n", time.Now().UTC().Format(time.RFC3339Nano))
				n.logf.Close()
				n.logf = nil
			}
		}
		c.err = errors.Join(errs...)
	})
	return c.err
}

// Pids returns the process ids of the running nodes (for tests).
func (c *Cluster) Pids() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, n := range c.nodes {
		if running(n) {
			out[n.id] = n.cmd.Process.Pid
		}
	}
	return out
}
