package netfault

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Packet is a packet fault on one interface (a mirror of
// nemesis.PacketFault, so that this package stands alone). The zero value
// clears it.
type Packet struct {
	Delay     time.Duration `json:"delay,omitempty"`
	Jitter    time.Duration `json:"jitter,omitempty"`
	Loss      float64       `json:"loss,omitempty"`      // percent
	Duplicate float64       `json:"duplicate,omitempty"` // percent
	Reorder   float64       `json:"reorder,omitempty"`   // percent
}

// IsZero reports whether p clears the fault.
func (p Packet) IsZero() bool { return p == Packet{} }

// Validate checks that p's numbers make sense.
func (p Packet) Validate() error {
	for name, v := range map[string]float64{"loss": p.Loss, "duplicate": p.Duplicate, "reorder": p.Reorder} {
		if v < 0 || v > 100 {
			return fmt.Errorf("packet fault: %s %v%% is not a percentage in [0, 100]", name, v)
		}
	}
	if p.Delay < 0 || p.Jitter < 0 {
		return fmt.Errorf("packet fault: delay %v and jitter %v must not be negative", p.Delay, p.Jitter)
	}
	if p.Reorder > 0 && p.Delay == 0 {
		return errors.New("packet fault: reorder needs a delay (netem reorders by sending some packets without the delay)")
	}
	return nil
}

// ErrNoNetem is returned when the kernel has no netem qdisc (sch_netem)
// and the fault needs more than random loss. It matches
// errors.ErrUnsupported: no retry will apply it on this kernel, so the
// nemesis ends the run instead of going on without it.
var ErrNoNetem error = noNetem{}

type noNetem struct{}

func (noNetem) Error() string {
	return "the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM / module sch_netem): delay, jitter, duplication and reordering cannot be applied; only loss can (through nftables)"
}

func (noNetem) Is(target error) bool { return target == errors.ErrUnsupported }

// SetPacket replaces the packet fault on interface ifname of ns with p (the
// zero value clears it). It installs a netem root qdisc; on a kernel
// without netem a loss-only fault falls back to an nftables rule that drops
// that share of outgoing packets at random, and any other fault fails with
// ErrNoNetem. It reports which mechanism it used ("netem", "nftables" or
// "" when clearing).
func SetPacket(ns Namespace, ifname string, p Packet) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	h, err := ns.netlinkHandle()
	if err != nil {
		return "", err
	}
	defer h.Close()
	link, err := h.LinkByName(ifname)
	if err != nil {
		return "", fmt.Errorf("packet fault: interface %s in %s: %w", ifname, ns.describe(), err)
	}
	if p.IsZero() {
		var errs []error
		if err := clearRoot(h, link); err != nil {
			errs = append(errs, err)
		}
		if err := setLossRule(ns, 0); err != nil {
			errs = append(errs, fmt.Errorf("remove loss rule: %w", explainPerm(err)))
		}
		return "", errors.Join(errs...)
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{
		LinkIndex: link.Attrs().Index,
		Handle:    netlink.MakeHandle(1, 0),
		Parent:    netlink.HANDLE_ROOT,
	}, netlink.NetemQdiscAttrs{
		Latency:     uint32(p.Delay / time.Microsecond),
		Jitter:      uint32(p.Jitter / time.Microsecond),
		Loss:        float32(p.Loss),
		Duplicate:   float32(p.Duplicate),
		ReorderProb: float32(p.Reorder),
	})
	err = h.QdiscReplace(q)
	if err == nil {
		return "netem", nil
	}
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP) {
		return "", fmt.Errorf("packet fault: install netem on %s in %s: %w", ifname, ns.describe(), explainPerm(err))
	}
	// No netem in this kernel.
	if p.Delay != 0 || p.Jitter != 0 || p.Duplicate != 0 || p.Reorder != 0 {
		return "", fmt.Errorf("packet fault %+v on %s: %w", p, ns.describe(), ErrNoNetem)
	}
	if err := setLossRule(ns, p.Loss); err != nil {
		return "", fmt.Errorf("packet fault: loss rule in %s: %w", ns.describe(), explainPerm(err))
	}
	return "nftables", nil
}

// clearRoot removes a netem root qdisc from link, if there is one.
func clearRoot(h *netlink.Handle, link netlink.Link) error {
	qs, err := h.QdiscList(link)
	if err != nil {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Type() == "netem" {
			if err := h.QdiscDel(q); err != nil {
				return fmt.Errorf("remove netem qdisc: %w", explainPerm(err))
			}
		}
	}
	return nil
}

func (ns Namespace) netlinkHandle() (*netlink.Handle, error) {
	if ns == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink handle: %w", err)
		}
		return h, nil
	}
	nsh, err := netns.GetFromPath(string(ns))
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	return h, nil
}

// NetemAvailable reports whether this kernel has the netem qdisc, by
// installing one on the loopback of a throwaway network namespace (so no
// interface anyone uses is touched). It needs CAP_SYS_ADMIN and
// CAP_NET_ADMIN; an error means it could not tell. A backend asks before
// a run, so that a packet fault this kernel cannot apply is left out of
// the schedule (or refused) instead of ending the run when it is drawn.
func NetemAvailable() (bool, error) {
	type result struct {
		ok  bool
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the goroutine ends on this thread, and the
		// runtime then ends the thread with the namespace it was moved
		// into, so no other goroutine ever runs there.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			ch <- result{err: fmt.Errorf("netem probe: new network namespace: %w", explainPerm(err))}
			return
		}
		defer ns.Close()
		h, err := netlink.NewHandle()
		if err != nil {
			ch <- result{err: fmt.Errorf("netem probe: netlink handle: %w", err)}
			return
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		if err != nil {
			ch <- result{err: fmt.Errorf("netem probe: loopback of the new namespace: %w", err)}
			return
		}
		err = h.QdiscReplace(netlink.NewNetem(netlink.QdiscAttrs{
			LinkIndex: lo.Attrs().Index,
			Handle:    netlink.MakeHandle(1, 0),
			Parent:    netlink.HANDLE_ROOT,
		}, netlink.NetemQdiscAttrs{Latency: 1000}))
		switch {
		case err == nil:
			ch <- result{ok: true}
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP):
			ch <- result{ok: false} // as SetPacket reads it
		default:
			ch <- result{err: fmt.Errorf("netem probe: install netem: %w", explainPerm(err))}
		}
	}()
	r := <-ch
	return r.ok, r.err
}
