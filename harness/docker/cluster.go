package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/internal/logexcerpt"
	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/nemesis"
)

// Ports every node listens on, at its own IP on the run's network.
const (
	ClientPort = 7000
	PeerPort   = 7001
	// DataDir is where each node's named volume is mounted.
	DataDir = "/data"
	// iface is the container's interface on the run's network.
	iface = "eth0"
)

// Cluster is a running cluster of containers. It implements
// harness.Cluster.
type Cluster struct {
	b      *Backend
	runID  string
	labels map[string]string
	dir    string
	sys    harness.System
	image  string
	helper bool // the image has the network-fault helper

	netName   string
	subnet    netip.Prefix
	lazy      bool // ClusterSpec.LazyFS: data directories are host lazyfs mounts
	keepNames bool // ClusterSpec.LazyFSKeepNames
	nodes     []*node
	byID      map[string]*node

	mu      sync.Mutex
	grudge  nemesis.Grudge
	created []object // what to remove on Close, in creation order
	closed  bool
	// inflight counts creations sent to the daemon and not yet tracked:
	// Close waits for them, so that an interrupt during start cannot
	// miss an object the daemon was still creating.
	inflight sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	sigc      chan os.Signal
}

var _ harness.Cluster = (*Cluster)(nil)

type node struct {
	id        string
	container string // container name (also its id for the API)
	volume    string
	ip        netip.Addr

	mu     sync.Mutex // serialises faults on this node
	packet nemesis.PacketFault
	fs     *lazyfs.FS // ClusterSpec.LazyFS: the host mount bound at DataDir
}

type object struct{ kind, name string }

var runIDUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// Start creates the run's network, one volume and one container per node,
// starts them and waits until every node is ready. On failure it removes
// what it created.
func (b *Backend) Start(ctx context.Context, sys harness.System, spec harness.ClusterSpec) (harness.Cluster, error) {
	c, err := b.StartCluster(ctx, sys, spec)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// StartCluster is Start returning the concrete *Cluster (tests and tools
// use its extras: Probe, NodeIP, ContainerName).
func (b *Backend) StartCluster(ctx context.Context, sys harness.System, spec harness.ClusterSpec) (*Cluster, error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("docker backend: a cluster needs at least 1 node, got %d", spec.Nodes)
	}
	if spec.Nodes > 200 {
		return nil, fmt.Errorf("docker backend: %d nodes do not fit the run's /24 network: use at most 200", spec.Nodes)
	}
	if spec.RunID == "" {
		return nil, errors.New("docker backend: ClusterSpec.RunID is empty: every docker object is labelled with the run id")
	}
	if spec.LazyFS {
		if spec.Dir == "" {
			return nil, errors.New("docker backend: the lazy filesystem (power fault) keeps each node's data in the run directory: ClusterSpec.Dir is empty")
		}
		if err := lazyfs.Available(); err != nil {
			return nil, fmt.Errorf("docker backend: the power fault needs each node's data directory on a FUSE filesystem on this host: %w", err)
		}
	}
	// Mounts left by a harness that died are unmounted; a live run's
	// are not touched.
	if _, err := lazyfs.Reap(""); err != nil && spec.LazyFS {
		return nil, fmt.Errorf("docker backend: %w", err)
	}
	began := time.Now()
	safe := runIDUnsafe.ReplaceAllString(spec.RunID, "-")
	c := &Cluster{
		b:         b,
		runID:     spec.RunID,
		labels:    ownerLabels(spec.RunID),
		dir:       spec.Dir,
		sys:       sys,
		lazy:      spec.LazyFS,
		keepNames: spec.LazyFSKeepNames,
		netName:   "faultline-" + safe,
		byID:      map[string]*node{},
		done:      make(chan struct{}),
		sigc:      make(chan os.Signal, 1),
	}
	// From here on, an interrupt removes whatever exists.
	signal.Notify(c.sigc, os.Interrupt, syscall.SIGTERM)
	go c.watchSignals()
	fail := func(err error) (*Cluster, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if cerr := c.Close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("and removing what was created: %w", cerr))
		}
		return nil, err
	}

	ref, helper, err := b.ensureImage(ctx, sys.Binary())
	if err != nil {
		return fail(err)
	}
	c.image, c.helper = ref, helper
	if err := c.createNetwork(ctx); err != nil {
		return fail(err)
	}
	c.mu.Lock() // Close may run concurrently (an interrupt) and read nodes
	for i := 1; i <= spec.Nodes; i++ {
		id := "n" + strconv.Itoa(i)
		n := &node{
			id:        id,
			container: c.netName + "-" + id,
			volume:    c.netName + "-" + id,
			ip:        hostAt(c.subnet, 10+i),
		}
		c.nodes = append(c.nodes, n)
		c.byID[id] = n
	}
	c.mu.Unlock()
	created := time.Now()
	if err := onEveryNode(c.nodes, func(n *node) error { return c.createNode(ctx, n) }); err != nil {
		return fail(err)
	}
	b.log.Debug("containers created", "took", time.Since(created))
	startedAt := time.Now()
	err = onEveryNode(c.nodes, func(n *node) error {
		if err := b.cli.ContainerStart(ctx, n.container, container.StartOptions{}); err != nil {
			return fmt.Errorf("docker backend: start %s: %w", n.container, err)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	b.log.Debug("containers started", "took", time.Since(startedAt))
	started := time.Since(began)
	if err := c.waitReady(ctx); err != nil {
		return fail(err)
	}
	b.log.Info("cluster healthy", "run", spec.RunID, "nodes", spec.Nodes, "network", c.netName,
		"subnet", c.subnet, "image", ref, "containers_started", started.Round(time.Millisecond),
		"took", time.Since(began).Round(time.Millisecond))
	return c, nil
}

// track remembers an object for Close; it fails when the cluster is
// already closed (an interrupt came), so the caller removes it itself.
func (c *Cluster) track(kind, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("docker backend: the cluster was closed (interrupted) while starting")
	}
	c.created = append(c.created, object{kind, name})
	return nil
}

// begin registers a creation about to be sent to the daemon (call
// c.inflight.Done after tracking it); it fails once the cluster is
// closed. The creation itself runs without ctx's cancellation (bounded
// by createTimeout): a request cancelled on the client side may still
// complete in the daemon, where nothing would remove it.
func (c *Cluster) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, errors.New("docker backend: the cluster was closed (interrupted) while starting")
	}
	c.inflight.Add(1)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	return cctx, func() { cancel(); c.inflight.Done() }, nil
}

// createTimeout bounds one creation request to the daemon.
const createTimeout = time.Minute

func (c *Cluster) createNetwork(ctx context.Context) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	candidates, err := c.b.freeSubnets(ctx)
	if err != nil {
		return err
	}
	var lastErr error
	for i, p := range candidates {
		if i >= 20 {
			break
		}
		_, err := c.b.cli.NetworkCreate(ctx, c.netName, network.CreateOptions{
			Driver: "bridge",
			// Internal: containers reach each other and the host reaches
			// them, but nothing is routed anywhere else.
			Internal: true,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet:  p.String(),
				Gateway: hostAt(p, 1).String(),
			}}},
			Labels: c.labels,
		})
		if err == nil {
			c.subnet = p
			if err := c.track("network", c.netName); err != nil {
				_ = c.b.remove(ctx, object{"network", c.netName})
				return err
			}
			return nil
		}
		lastErr = err // most likely another run took the subnet meanwhile
	}
	return fmt.Errorf("docker backend: create network %s: no free /24 subnet worked: %w", c.netName, lastErr)
}

// createNode creates a node's container, and its data directory: a named
// volume, or under ClusterSpec.LazyFS a lazyfs mount on the host
// (data/<id>.mnt over data/<id> in the run directory) bound into the
// container. The mount is made before the container first starts, so a
// plain bind sees it (a mount made later would need shared propagation,
// which the host's private / refuses), and it stays mounted while the
// container is killed and started again.
func (c *Cluster) createNode(ctx context.Context, n *node) error {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	dataMount := mount.Mount{Type: mount.TypeVolume, Source: n.volume, Target: DataDir}
	hostDir := "" // the data directory as the host sees it, when it does
	if c.lazy {
		mnt, err := c.mountLazy(n)
		if err != nil {
			return err
		}
		hostDir = mnt
		dataMount = mount.Mount{Type: mount.TypeBind, Source: mnt, Target: DataDir}
	} else {
		if _, err := c.b.cli.VolumeCreate(ctx, volume.CreateOptions{Name: n.volume, Labels: c.labels}); err != nil {
			return fmt.Errorf("docker backend: create volume %s: %w", n.volume, err)
		}
		if err := c.track("volume", n.volume); err != nil {
			_ = c.b.cli.VolumeRemove(context.WithoutCancel(ctx), n.volume, true)
			return err
		}
	}
	layout := harness.NodeLayout{
		ID:           n.id,
		ClientListen: netip.AddrPortFrom(n.ip, ClientPort).String(),
		PeerListen:   netip.AddrPortFrom(n.ip, PeerPort).String(),
		Peers:        map[string]string{},
		DataDir:      DataDir,
	}
	for _, p := range c.nodes {
		if p.id != n.id {
			layout.Peers[p.id] = netip.AddrPortFrom(p.ip, PeerPort).String()
		}
	}
	_, err = c.b.cli.ContainerCreate(ctx,
		&container.Config{
			Image:    c.image,
			Cmd:      c.sys.Args(layout),
			Hostname: n.id,
			Labels:   c.labels,
		},
		&container.HostConfig{
			NetworkMode: container.NetworkMode(c.netName),
			CapAdd:      []string{"NET_ADMIN"},
			Mounts:      []mount.Mount{dataMount},
		},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			c.netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: n.ip.String()}},
		}},
		nil, n.container)
	if err != nil {
		return fmt.Errorf("docker backend: create container %s: %w", n.container, err)
	}
	if err := c.track("container", n.container); err != nil {
		_ = c.b.cli.ContainerRemove(context.WithoutCancel(ctx), n.container, container.RemoveOptions{Force: true})
		return err
	}
	return c.copyNodeFiles(ctx, n, layout, hostDir)
}

// copyNodeFiles puts the files the system wants (harness.NodeFiler) into
// the created container's data directory, before its first start: into
// the host's lazy filesystem mount when there is one (fsynced, so that a
// power loss cannot take them back; docker's copy does not fsync), else
// into its volume.
func (c *Cluster) copyNodeFiles(ctx context.Context, n *node, layout harness.NodeLayout, hostDir string) error {
	files, err := harness.NodeFiles(c.sys, layout)
	if err != nil || len(files) == 0 {
		return err
	}
	if hostDir != "" {
		if err := harness.WriteNodeFiles(hostDir, files); err != nil {
			return fmt.Errorf("docker backend: node %s's files: %w", n.id, err)
		}
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		var parents []string // shallowest first: a tar names a directory before its entries
		for d := filepath.Dir(f.Path); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: 0o644, Size: int64(len(f.Data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := c.b.cli.CopyToContainer(ctx, n.container, DataDir, &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("docker backend: copy node files into %s:%s: %w", n.container, DataDir, err)
	}
	return nil
}

// mountLazy mounts node n's lazy filesystem and returns its mount point.
func (c *Cluster) mountLazy(n *node) (string, error) {
	dir, err := filepath.Abs(filepath.Join(c.dir, "data"))
	if err != nil {
		return "", fmt.Errorf("docker backend: %w", err)
	}
	backing := filepath.Join(dir, n.id)
	mnt := backing + ".mnt"
	for _, d := range []string{backing, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("docker backend: %w", err)
		}
	}
	// AllowOther: the node runs as the container's user.
	fs, err := lazyfs.Mount(backing, mnt, lazyfs.Options{AllowOther: true, KeepNames: c.keepNames})
	if err != nil {
		return "", fmt.Errorf("docker backend: node %s: %w", n.id, err)
	}
	n.fs = fs
	if err := c.track("mount", n.id); err != nil {
		fs.Unmount()
		return "", err
	}
	return mnt, nil
}

// unmount unmounts node id's lazy filesystem (its containers are gone).
func (c *Cluster) unmount(id string) error {
	n, err := c.node(id)
	if err != nil || n.fs == nil {
		return err
	}
	if err := n.fs.Unmount(); err != nil {
		return fmt.Errorf("docker backend: node %s: %w", id, err)
	}
	os.Remove(n.fs.Mountpoint())
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.b.opts.ReadyTimeout)
	defer cancel()
	return onEveryNode(c.nodes, func(n *node) error { return c.waitNodeReady(ctx, n) })
}

// onEveryNode runs fn on every node at once and joins their errors.
func onEveryNode(nodes []*node, fn func(*node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) waitNodeReady(ctx context.Context, n *node) error {
	hn := harness.Node{ID: n.id, ClientAddr: c.clientAddr(n)}
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		last = c.sys.Ready(rctx, hn)
		cancel()
		if last == nil {
			return nil
		}
		if st, err := c.b.cli.ContainerInspect(context.WithoutCancel(ctx), n.container); err == nil && st.State != nil && !st.State.Running {
			return fmt.Errorf("docker backend: node %s exited (code %d) before it was ready; its log:\n%s", n.id, st.State.ExitCode, c.excerpt(n))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("docker backend: node %s not ready after %v: %w; its log:\n%s", n.id, c.b.opts.ReadyTimeout, last, c.excerpt(n))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) clientAddr(n *node) string {
	return netip.AddrPortFrom(n.ip, ClientPort).String()
}

// Nodes lists the nodes, n1..nN, with the address the harness reaches
// their client API at (the container's IP on the run's network).
func (c *Cluster) Nodes() []harness.Node {
	out := make([]harness.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = harness.Node{ID: n.id, ClientAddr: c.clientAddr(n)}
	}
	return out
}

// NodeIP returns a node's IP on the run's network.
func (c *Cluster) NodeIP(id string) (netip.Addr, error) {
	n, err := c.node(id)
	if err != nil {
		return netip.Addr{}, err
	}
	return n.ip, nil
}

// ContainerName returns the name of a node's container.
func (c *Cluster) ContainerName(id string) (string, error) {
	n, err := c.node(id)
	if err != nil {
		return "", err
	}
	return n.container, nil
}

// PeerAddr returns the address of a node's peer (node-to-node) API.
func (c *Cluster) PeerAddr(id string) (string, error) {
	n, err := c.node(id)
	if err != nil {
		return "", err
	}
	return netip.AddrPortFrom(n.ip, PeerPort).String(), nil
}

func (c *Cluster) node(id string) (*node, error) {
	n, ok := c.byID[id]
	if !ok {
		ids := make([]string, len(c.nodes))
		for i, n := range c.nodes {
			ids[i] = n.id
		}
		return nil, fmt.Errorf("docker backend: no node %q: the nodes are %v", id, ids)
	}
	return n, nil
}

// excerpt returns the head and the tail of a node's log (logexcerpt),
// for error messages: a failed start's cause is often its first line.
func (c *Cluster) excerpt(n *node) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := c.b.cli.ContainerLogs(ctx, n.container, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() { _, err := stdcopy.StdCopy(pw, pw, rc); pw.CloseWithError(err) }()
	defer pr.Close() // ends the copy if Read stops early
	return logexcerpt.Read(pr)
}

// watchSignals closes the cluster on SIGINT or SIGTERM, with a fresh
// context, so an interrupted harness leaves nothing behind even if its
// runner does not get to call Close. It does not exit the process: the
// runner decides that (after this, the signal is no longer caught here).
func (c *Cluster) watchSignals() {
	select {
	case s := <-c.sigc:
		c.b.log.Warn("interrupted: removing the cluster", "run", c.runID, "signal", s.String())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = c.Close(ctx)
	case <-c.done:
	}
}

// Close copies node logs to Dir/nodes/<id>.log and removes the containers,
// the network and the volumes. It works with a cancelled ctx (it uses a
// fresh one with the same values) and is idempotent: later calls return
// the first call's result.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		signal.Stop(c.sigc)
		defer close(c.done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		// Creations already sent finish (and are tracked or removed by
		// their callers) before anything is listed for removal.
		waited := make(chan struct{})
		go func() { c.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
		}
		c.mu.Lock()
		created := slices.Clone(c.created)
		nodes := slices.Clone(c.nodes)
		c.mu.Unlock()
		var errs []error
		// Stop the nodes first: the daemon has then copied all of their
		// output into its log, so the copies below are complete.
		c.stopAll(ctx, created)
		if err := c.copyLogs(ctx, nodes, created); err != nil {
			errs = append(errs, err)
		}
		// Containers first (they hold the network, the volumes and the
		// mounts), then the mounts, the network, the volumes.
		for _, kind := range []string{"container", "mount", "network", "volume"} {
			for _, o := range created {
				if o.kind != kind {
					continue
				}
				var err error
				if kind == "mount" {
					err = c.unmount(o.name)
				} else {
					err = c.b.remove(ctx, o)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
		}
		// Anything labelled with this run that was not tracked (a race
		// with an interrupt) goes too.
		if err := c.b.removeRun(ctx, c.runID); err != nil {
			errs = append(errs, err)
		}
		c.closeErr = errors.Join(errs...)
		if c.closeErr == nil {
			c.b.log.Info("cluster removed", "run", c.runID)
		}
	})
	<-c.done
	return c.closeErr
}

// stopAll stops every created container (SIGTERM, then SIGKILL after a
// second) in parallel. Errors are left to the removal that follows.
func (c *Cluster) stopAll(ctx context.Context, created []object) {
	grace := 1
	var wg sync.WaitGroup
	for _, o := range created {
		if o.kind != "container" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A paused container must be thawed to receive signals.
			_ = c.b.cli.ContainerUnpause(ctx, o.name)
			_ = c.b.cli.ContainerStop(ctx, o.name, container.StopOptions{Timeout: &grace})
		}()
	}
	wg.Wait()
}

func (c *Cluster) copyLogs(ctx context.Context, nodes []*node, created []object) error {
	if c.dir == "" {
		return nil
	}
	dir := filepath.Join(c.dir, "nodes")
	var errs []error
	for _, n := range nodes {
		if !slices.Contains(created, object{"container", n.container}) {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("docker backend: node logs: %w", err)
		}
		if err := c.copyLog(ctx, n, filepath.Join(dir, n.id+".log")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) copyLog(ctx context.Context, n *node, path string) error {
	rc, err := c.b.cli.ContainerLogs(ctx, n.container, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("docker backend: read the log of %s: %w", n.id, err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("docker backend: node log: %w", err)
	}
	if _, err := stdcopy.StdCopy(f, f, rc); err != nil {
		f.Close()
		return fmt.Errorf("docker backend: copy the log of %s: %w", n.id, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("docker backend: node log: %w", err)
	}
	return nil
}

// remove removes one object, treating "already gone" as success.
func (b *Backend) remove(ctx context.Context, o object) error {
	var err error
	switch o.kind {
	case "container":
		err = b.cli.ContainerRemove(ctx, o.name, container.RemoveOptions{Force: true})
	case "network":
		err = b.cli.NetworkRemove(ctx, o.name)
	case "volume":
		err = b.cli.VolumeRemove(ctx, o.name, true)
	}
	if err != nil && !isNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
		return fmt.Errorf("docker backend: remove %s %s: %w", o.kind, o.name, err)
	}
	return nil
}

// removeRun removes every container, network and volume labelled with
// run id.
func (b *Backend) removeRun(ctx context.Context, id string) error {
	f := filters.NewArgs(filters.Arg("label", LabelRun+"="+id))
	var errs []error
	cs, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("docker backend: list containers of run %s: %w", id, err))
	}
	for _, ct := range cs {
		errs = append(errs, b.remove(ctx, object{"container", ct.ID}))
	}
	ns, err := b.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("docker backend: list networks of run %s: %w", id, err))
	}
	for _, n := range ns {
		errs = append(errs, b.remove(ctx, object{"network", n.ID}))
	}
	vs, err := b.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("docker backend: list volumes of run %s: %w", id, err))
	}
	for _, v := range vs.Volumes {
		errs = append(errs, b.remove(ctx, object{"volume", v.Name}))
	}
	return errors.Join(errs...)
}
