package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

	"github.com/faultline/faultline/internal/procstat"
)

// More owner labels. A pid means something only in its pid namespace
// and on its kernel, so the owner is named by all of: its pid as it sees
// it (LabelOwnerPID), its start time (LabelOwnerStart), its pid
// namespace (LabelOwnerPIDNS, the inode of /proc/self/ns/pid) and the
// kernel's boot id (LabelOwnerBoot). LabelOwnerHost is for people.
const (
	LabelOwnerHost  = "faultline.owner-host"
	LabelOwnerPIDNS = "faultline.owner-pidns"
	LabelOwnerBoot  = "faultline.owner-boot"
)

// initPIDNS is the link text of the kernel's initial pid namespace
// (PROC_PID_INIT_INO, fixed by Linux): a /proc whose pid 1 is in it shows
// every process on the machine.
const initPIDNS = "pid:[4026531836]"

// ownerLabels are the labels of everything a run creates.
func ownerLabels(runID string) map[string]string {
	host, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return map[string]string{
		LabelRun:        runID,
		LabelOwnerPID:   strconv.Itoa(os.Getpid()),
		LabelOwnerStart: selfStart(),
		LabelOwnerPIDNS: ns,
		LabelOwnerBoot:  bootID(),
		LabelOwnerHost:  host,
	}
}

// bootID names the running kernel ("" when unknown): the same in every
// container and namespace of one machine, new after each boot.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// selfStart is this process's start time, read through /proc/self, which
// is right whichever pid namespace /proc was mounted for ("" when this
// process is not visible in it).
func selfStart() string { return procStat("self") }

// procStart is the start time of process pid as /proc shows it.
func procStart(pid int) string { return procStat(strconv.Itoa(pid)) }

// procStat is field 22 of /proc/<name>/stat, the start time in clock
// ticks since boot, "" when unknown. With the pid, it names a process
// even after its pid is reused.
func procStat(name string) string {
	f, err := procstat.ReadFile("/proc/" + name + "/stat")
	if err != nil {
		return ""
	}
	return f[procstat.StartTime]
}

// ownerAlive reports whether the harness that labelled an object may
// still run. It answers false only when the owner is provably gone:
//
//   - labels without the full identity (an older harness), another
//     kernel's boot id (another machine sharing the daemon, or a run from
//     before a reboot), or a pid namespace this process cannot see into:
//     alive, because nothing here can prove otherwise;
//   - the owner's pid namespace is this process's: kill(pid, 0) and the
//     start time decide, as they always could;
//   - another pid namespace, with a /proc that shows it (a /proc of the
//     initial namespace shows all): dead when no process of that
//     namespace has the owner's pid and start time.
//
// Such runs are never reaped automatically; remove them by hand by their
// faultline.run label once their harness is known to be gone.
func ownerAlive(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[LabelOwnerPID])
	ns, boot, start := labels[LabelOwnerPIDNS], labels[LabelOwnerBoot], labels[LabelOwnerStart]
	if err != nil || pid <= 0 || ns == "" || boot == "" {
		return true
	}
	if boot != bootID() {
		return true
	}
	self, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return true
	}
	if ns == self {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return false
		}
		if procShowsSelf() && start != "" {
			if got := procStart(pid); got != "" && got != start {
				return false // the pid was reused by another process
			}
		}
		return true
	}
	return findOwner(ns, pid, start)
}

// procShowsSelf reports whether /proc was mounted for this process's own
// pid namespace (its pids are this process's pids).
func procShowsSelf() bool {
	me, err := os.Readlink("/proc/self")
	return err == nil && me == strconv.Itoa(os.Getpid())
}

// findOwner scans /proc for the process of pid namespace ns whose pid
// there is pid: alive if its start time is start (or start is ""). When
// there is none, the owner is dead only if this /proc shows every process
// of ns — it was mounted for the initial namespace or for ns itself (a
// process with a single pid in NSpid is in /proc's namespace) — and no
// process that might be the owner was hidden (a namespace link this
// process may not read, as pid 1's may be).
func findOwner(ns string, pid int, start string) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	want := strconv.Itoa(pid)
	procNS := ""
	var hidden []int // depths of unreadable processes with the owner's pid
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue // exited meanwhile
		}
		inner, depth := nsPID(status)
		got, err := os.Readlink("/proc/" + e.Name() + "/ns/pid")
		if err != nil {
			if inner == want && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
				hidden = append(hidden, depth)
			}
			continue
		}
		if depth == 1 {
			procNS = got
		}
		if got == ns && inner == want {
			// The one process with that pid in that namespace.
			return start == "" || procStat(e.Name()) == start
		}
	}
	if procNS != initPIDNS && procNS != ns {
		return true // ns may have processes this /proc does not show
	}
	for _, d := range hidden {
		if d != 1 || procNS == ns {
			return true // it may be the owner
		}
	}
	return false
}

// nsPID reads the NSpid line of a /proc/<pid>/status: the process's pid
// in its own pid namespace (the last one) and how many namespaces, from
// /proc's down to its own, it has a pid in.
func nsPID(status []byte) (string, int) {
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return f[len(f)-1], len(f)
			}
		}
	}
	return "", 0
}

// Reap removes the containers, networks and volumes of runs whose owning
// harness is provably gone (killed before it could clean up); see
// ownerAlive. Runs of harnesses that may be alive are left alone.
func (b *Backend) Reap(ctx context.Context) error { return b.reap(ctx, "") }

// reap reaps the run only, or every run when only is "".
func (b *Backend) reap(ctx context.Context, only string) error {
	label := LabelRun
	if only != "" {
		label += "=" + only
	}
	f := filters.NewArgs(filters.Arg("label", label))
	// A run is reaped only if no object of it names a live owner.
	dead, alive := map[string]bool{}, map[string]bool{}
	judged := map[string]bool{} // by owner identity: a /proc scan each is enough
	consider := func(labels map[string]string) {
		id := labels[LabelRun]
		if id == "" || alive[id] {
			return
		}
		key := labels[LabelOwnerPID] + "|" + labels[LabelOwnerStart] + "|" + labels[LabelOwnerPIDNS] + "|" + labels[LabelOwnerBoot]
		live, ok := judged[key]
		if !ok {
			live = ownerAlive(labels)
			judged[key] = live
		}
		if live {
			alive[id], dead[id] = true, false
		} else {
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
	for id, d := range dead {
		if !d {
			continue
		}
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
