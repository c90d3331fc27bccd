package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/vishvananda/netlink"
)

// LabelOwnerHost names the host the owning harness runs on: only that
// host's harnesses reap its runs.
const LabelOwnerHost = "faultline.owner-host"

// ownerLabels are the labels of everything a run creates.
func ownerLabels(runID string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelRun:        runID,
		LabelOwnerPID:   strconv.Itoa(os.Getpid()),
		LabelOwnerStart: procStart(os.Getpid()),
		LabelOwnerHost:  host,
	}
}

// procStart is the start time of process pid (field 22 of
// /proc/<pid>/stat, in clock ticks since boot), "" when unknown. With the
// pid, it names a process even after its pid is reused.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command (field 2) may hold spaces: split after its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// ownerAlive reports whether the harness that labelled an object still
// runs (objects of another host are always treated as alive).
func ownerAlive(labels map[string]string) bool {
	host, _ := os.Hostname()
	if h := labels[LabelOwnerHost]; h != "" && h != host {
		return true
	}
	pid, err := strconv.Atoi(labels[LabelOwnerPID])
	if err != nil || pid <= 0 {
		return false // no owner: nobody will remove it
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if want := labels[LabelOwnerStart]; want != "" {
		if got := procStart(pid); got != "" && got != want {
			return false // the pid was reused by another process
		}
	}
	return true
}

// Reap removes the containers, networks and volumes of runs whose owning
// harness is gone (killed before it could clean up). Runs of live
// harnesses, on this host or another, are left alone.
func (b *Backend) Reap(ctx context.Context) error {
	f := filters.NewArgs(filters.Arg("label", LabelRun))
	dead := map[string]bool{}
	consider := func(labels map[string]string) {
		if id := labels[LabelRun]; id != "" && !ownerAlive(labels) {
			dead[id] = true
		}
	}
	cs, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("docker backend: reap: list containers: %w", err)
	}
	for _, c := range cs {
		consider(c.Labels)
	}
	ns, err := b.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("docker backend: reap: list networks: %w", err)
	}
	for _, n := range ns {
		consider(n.Labels)
	}
	vs, err := b.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("docker backend: reap: list volumes: %w", err)
	}
	for _, v := range vs.Volumes {
		consider(v.Labels)
	}
	var errs []error
	for id := range dead {
		b.log.Info("reaping the leftovers of a dead harness", "run", id)
		errs = append(errs, b.removeRun(ctx, id))
	}
	return errors.Join(errs...)
}

// freeSubnets lists /24 subnets of 10.213.0.0/16 that overlap no docker
// network and no address of this host, starting at a random one (so
// concurrent runs rarely race for the same).
func (b *Backend) freeSubnets(ctx context.Context) ([]netip.Prefix, error) {
	var used []netip.Prefix
	ns, err := b.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker backend: list networks: %w", err)
	}
	for _, n := range ns {
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				used = append(used, p)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	// Routes too (a VPN may route a range no interface address is in);
	// the default route (0.0.0.0/0) overlaps everything and is skipped.
	if routes, err := netlink.RouteList(nil, netlink.FAMILY_V4); err == nil {
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if p, err := netip.ParsePrefix(r.Dst.String()); err == nil && p.Bits() > 0 {
				used = append(used, p.Masked())
			}
		}
	}
	start := rand.Intn(256)
	var out []netip.Prefix
	for i := range 256 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte((start + i) % 256), 0}), 24)
		free := true
		for _, u := range used {
			free = free && !p.Overlaps(u)
		}
		if free {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("docker backend: every /24 of 10.213.0.0/16 is taken by a docker network or a host address: remove unused networks (docker network prune)")
	}
	return out, nil
}

// hostAt returns the i-th address of the IPv4 prefix p.
func hostAt(p netip.Prefix, i int) netip.Addr {
	a := p.Masked().Addr().As4()
	a[3] += byte(i)
	return netip.AddrFrom4(a)
}

func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err)
}
