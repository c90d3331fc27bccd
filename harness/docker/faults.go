package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/nemesis/netfault"
)

// state returns whether a node's container runs, is paused, and its pid.
func (c *Cluster) state(ctx context.Context, n *node) (running, paused bool, pid int, err error) {
	st, err := c.b.cli.ContainerInspect(ctx, n.container)
	if err != nil {
		return false, false, 0, fmt.Errorf("docker backend: inspect %s: %w", n.container, err)
	}
	if st.State == nil {
		return false, false, 0, fmt.Errorf("docker backend: inspect %s: no state", n.container)
	}
	return st.State.Running, st.State.Paused, st.State.Pid, nil
}

// errNoHostNS says the host cannot open a container's namespace (not
// root, or the daemon's processes are not visible from here).
var errNoHostNS = errors.New("cannot open the container's network namespace from the host")

// netns returns the path of a running node's network namespace as the
// host sees it. Faults are written there from the host: no tool is needed
// in the (FROM scratch) container.
func (c *Cluster) netns(ctx context.Context, n *node) (netfault.Namespace, error) {
	running, _, pid, err := c.state(ctx, n)
	if err != nil {
		return "", err
	}
	if !running || pid == 0 {
		return "", fmt.Errorf("docker backend: node %s is not running (killed?): its network namespace is gone", n.id)
	}
	if c.b.opts.NetFault == "exec" {
		return "", fmt.Errorf("docker backend: node %s: %w (NetFault is exec)", n.id, errNoHostNS)
	}
	p := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("docker backend: open node %s's network namespace %s: %w: %w (run the harness as root on the docker host, or give the node binary a netfault subcommand)", n.id, p, errNoHostNS, err)
	}
	f.Close()
	return netfault.Namespace(p), nil
}

// useExec reports whether a fault must go through `netfault` in the
// container because the host cannot reach the namespace.
func (c *Cluster) useExec(err error) bool {
	return c.b.opts.NetFault != "host" && errors.Is(err, errNoHostNS)
}

// netfaultExec runs the network-fault helper with args in n's container:
// /faultline-netfault when the image has it, else `/<binary> netfault`.
func (c *Cluster) netfaultExec(ctx context.Context, n *node, args ...string) (string, error) {
	cmd := append([]string{"/" + binaryName(c.sys.Binary()), "netfault"}, args...)
	if c.helper {
		cmd = append([]string{"/" + HelperName}, args...)
	}
	out, code, err := c.Exec(ctx, n.id, cmd...)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, fmt.Errorf("%s in node %s exited %d: %s", strings.Join(cmd, " "), n.id, code, strings.TrimSpace(out))
	}
	return out, nil
}

// Kill sends SIGKILL to the node's process and waits until its container
// has stopped. Its volume, and so its data, survives.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return c.kill(ctx, n)
}

func (c *Cluster) kill(ctx context.Context, n *node) error {
	running, paused, _, err := c.state(ctx, n)
	if err != nil {
		return err
	}
	if !running {
		return fmt.Errorf("docker backend: kill %s: it is not running (already killed)", n.id)
	}
	if paused {
		// SIGKILL is not delivered to a frozen cgroup until it thaws.
		if err := c.b.cli.ContainerUnpause(ctx, n.container); err != nil {
			return fmt.Errorf("docker backend: kill %s: thaw it first: %w", n.id, err)
		}
	}
	if err := c.b.cli.ContainerKill(ctx, n.container, "KILL"); err != nil {
		return fmt.Errorf("docker backend: kill %s: %w", n.id, err)
	}
	waitc, errc := c.b.cli.ContainerWait(ctx, n.container, container.WaitConditionNotRunning)
	select {
	case <-waitc:
		return nil
	case err := <-errc:
		return fmt.Errorf("docker backend: kill %s: wait for it to stop: %w", n.id, err)
	}
}

// Restart starts a killed node again on its volume (a running node is
// killed first), then writes the current partition and packet fault into
// its new network namespace. It does not wait for the node to be ready.
// LoseUnsynced drops what node id's lazy filesystem holds that the node
// did not fsync, as a power loss would. The node must be killed.
func (c *Cluster) LoseUnsynced(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fs == nil {
		return fmt.Errorf("docker backend: node %s's data directory is not on the lazy filesystem (the cluster was started without ClusterSpec.LazyFS)", id)
	}
	running, _, _, err := c.state(ctx, n)
	if err != nil {
		return err
	}
	if running {
		return fmt.Errorf("docker backend: node %s is running: a power loss kills it first", id)
	}
	if err := n.fs.Lose(); err != nil {
		return fmt.Errorf("docker backend: node %s: %w", id, err)
	}
	return nil
}

func (c *Cluster) Restart(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	running, _, _, err := c.state(ctx, n)
	if err != nil {
		return err
	}
	if running {
		if err := c.kill(ctx, n); err != nil {
			return err
		}
	}
	if err := c.b.cli.ContainerStart(ctx, n.container, container.StartOptions{}); err != nil {
		return fmt.Errorf("docker backend: restart %s: %w", n.id, err)
	}
	// The namespace is new: put the faults back in it.
	c.mu.Lock()
	g := c.grudge
	c.mu.Unlock()
	if err := c.applyDrops(ctx, n, g); err != nil {
		return fmt.Errorf("docker backend: restart %s: re-apply the partition: %w", n.id, err)
	}
	if n.packet != (nemesis.PacketFault{}) {
		if _, err := c.applyPacket(ctx, n); err != nil {
			return fmt.Errorf("docker backend: restart %s: re-apply the packet fault: %w", n.id, err)
		}
	}
	return nil
}

// Pause freezes the node's processes (docker pause: the cgroup freezer).
func (c *Cluster) Pause(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := c.b.cli.ContainerPause(ctx, n.container); err != nil {
		return fmt.Errorf("docker backend: pause %s: %w", n.id, err)
	}
	return nil
}

// Resume thaws a paused node; a node that is not paused is left as is.
func (c *Cluster) Resume(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, paused, _, err := c.state(ctx, n)
	if err != nil {
		return err
	}
	if !paused {
		return nil
	}
	if err := c.b.cli.ContainerUnpause(ctx, n.container); err != nil {
		return fmt.Errorf("docker backend: resume %s: %w", n.id, err)
	}
	if c.b.opts.NetFault == "host" {
		return nil
	}
	// Through exec, faults could not reach the frozen container: write
	// the current ones now (idempotent when they are already there).
	c.mu.Lock()
	g := c.grudge
	c.mu.Unlock()
	if err := c.applyDrops(ctx, n, g); err != nil {
		return fmt.Errorf("docker backend: resume %s: re-apply the partition: %w", n.id, err)
	}
	if _, err := c.applyPacket(ctx, n); err != nil {
		return fmt.Errorf("docker backend: resume %s: re-apply the packet fault: %w", n.id, err)
	}
	return nil
}

// Partition replaces the current partition with g (nil heals): each
// running node gets nftables rules in its own namespace that drop every
// packet from the IPs of the nodes it holds a grudge against. Killed nodes
// get theirs when they restart.
func (c *Cluster) Partition(ctx context.Context, g nemesis.Grudge) error {
	for x, ys := range g {
		if _, err := c.node(x); err != nil {
			return fmt.Errorf("docker backend: partition: %w", err)
		}
		for _, y := range ys {
			if _, err := c.node(y); err != nil {
				return fmt.Errorf("docker backend: partition: %w", err)
			}
		}
	}
	c.mu.Lock()
	c.grudge = g
	c.mu.Unlock()
	var errs []error
	for _, n := range c.nodes {
		n.mu.Lock()
		err := c.applyDrops(ctx, n, g)
		n.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker backend: partition: %w", err)
	}
	return nil
}

// applyDrops writes n's share of g into its namespace, if it runs.
func (c *Cluster) applyDrops(ctx context.Context, n *node, g nemesis.Grudge) error {
	running, paused, _, err := c.state(ctx, n)
	if err != nil {
		return err
	}
	if !running {
		return nil // applied on restart
	}
	var from []netip.Addr
	for _, y := range g[n.id] {
		from = append(from, c.byID[y].ip)
	}
	sort.Slice(from, func(i, j int) bool { return from[i].Less(from[j]) })
	ns, err := c.netns(ctx, n)
	if c.useExec(err) && paused {
		return nil // no exec into a frozen container: applied on resume
	}
	if c.useExec(err) {
		ips := make([]string, len(from))
		for i, a := range from {
			ips[i] = a.String()
		}
		_, err := c.netfaultExec(ctx, n, "drop", "--from", strings.Join(ips, ","))
		return err
	}
	if err != nil {
		return err
	}
	if err := netfault.SetDrops(ns, from); err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	return nil
}

// Drops lists the IPs whose packets node id drops now, read back from the
// nftables rules in its namespace.
func (c *Cluster) Drops(ctx context.Context, id string) ([]netip.Addr, error) {
	n, err := c.node(id)
	if err != nil {
		return nil, err
	}
	ns, err := c.netns(ctx, n)
	if c.useExec(err) {
		out, err := c.netfaultExec(ctx, n, "drops")
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		for _, f := range strings.Fields(out) {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("docker backend: netfault drops in %s printed %q, not an address", n.id, f)
			}
			addrs = append(addrs, a)
		}
		return addrs, nil
	}
	if err != nil {
		return nil, err
	}
	return netfault.Drops(ns)
}

// Packet sets (or, with the zero value, clears) node id's packet fault: a
// netem qdisc on its interface, inside its namespace. On a kernel without
// netem, loss alone is applied with an nftables rule and anything else
// fails with netfault.ErrNoNetem.
func (c *Cluster) Packet(ctx context.Context, id string, f nemesis.PacketFault) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	prev := n.packet
	n.packet = f
	running, _, _, err := c.state(ctx, n)
	if err != nil {
		return err
	}
	if !running {
		return nil // applied on restart
	}
	how, err := c.applyPacket(ctx, n)
	if err != nil {
		n.packet = prev
		return fmt.Errorf("docker backend: packet fault on %s: %w", n.id, err)
	}
	if how != "" {
		c.b.log.Info("packet fault", "node", n.id, "fault", f, "via", how)
	}
	return nil
}

func (c *Cluster) applyPacket(ctx context.Context, n *node) (string, error) {
	ns, err := c.netns(ctx, n)
	if c.useExec(err) {
		if _, paused, _, serr := c.state(ctx, n); serr == nil && paused {
			return "", nil // no exec into a frozen container: applied on resume
		}
		p := n.packet
		out, err := c.netfaultExec(ctx, n, "packet", "--iface", iface,
			"--delay", p.Delay.String(), "--jitter", p.Jitter.String(),
			"--loss", strconv.FormatFloat(p.Loss, 'g', -1, 64),
			"--duplicate", strconv.FormatFloat(p.Duplicate, 'g', -1, 64),
			"--reorder", strconv.FormatFloat(p.Reorder, 'g', -1, 64))
		if err != nil {
			return "", err
		}
		return "exec: " + strings.TrimSpace(out), nil
	}
	if err != nil {
		return "", err
	}
	return netfault.SetPacket(ns, iface, netfault.Packet(n.packet))
}

// Probe opens a TCP connection to addr from inside node from's network
// namespace, as its own process would, and reports whether it was
// established within timeout.
func (c *Cluster) Probe(ctx context.Context, from, addr string, timeout time.Duration) error {
	n, err := c.node(from)
	if err != nil {
		return err
	}
	ns, err := c.netns(ctx, n)
	if c.useExec(err) {
		_, err := c.netfaultExec(ctx, n, "probe", "--timeout", timeout.String(), addr)
		return err
	}
	if err != nil {
		return err
	}
	return netfault.Probe(ns, addr, timeout)
}

// Exec runs cmd inside node id's container (docker exec) and returns its
// combined output and exit code.
func (c *Cluster) Exec(ctx context.Context, id string, cmd ...string) (string, int, error) {
	n, err := c.node(id)
	if err != nil {
		return "", 0, err
	}
	ex, err := c.b.cli.ContainerExecCreate(ctx, n.container, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", 0, fmt.Errorf("docker backend: exec in %s: %w", n.id, err)
	}
	att, err := c.b.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("docker backend: exec in %s: %w", n.id, err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return out.String(), 0, fmt.Errorf("docker backend: exec in %s: read output: %w", n.id, err)
	}
	st, err := c.b.cli.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return out.String(), 0, fmt.Errorf("docker backend: exec in %s: %w", n.id, err)
	}
	return out.String(), st.ExitCode, nil
}
