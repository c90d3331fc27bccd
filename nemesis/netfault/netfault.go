// Package netfault writes network faults into one Linux network namespace:
// nftables rules that drop the packets of chosen peers (partitions), a
// netem qdisc on an interface (delay, loss, duplication, reordering) and a
// TCP probe that dials from inside the namespace. It talks netlink directly
// (github.com/google/nftables, github.com/vishvananda/netlink), so it needs
// CAP_NET_ADMIN in the namespace's owner and no nft or tc binary.
//
// It is used from the host, on a container's /proc/<pid>/ns/net, by the
// docker backend, and inside a container by `storenode netfault`.
package netfault

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Namespace names a network namespace by the path of its nsfs file
// (/proc/<pid>/ns/net); the empty Namespace is the caller's own.
type Namespace string

// Table names of the nftables tables netfault owns (family ip). Nothing
// else in the namespace is touched.
const (
	PartitionTable = "faultline_partition"
	PacketTable    = "faultline_packet"
)

// withNFT runs f on an nftables connection into ns.
func (ns Namespace) withNFT(f func(c *nftables.Conn) error) error {
	var opts []nftables.ConnOption
	if ns != "" {
		fh, err := os.Open(string(ns))
		if err != nil {
			return fmt.Errorf("open network namespace %s: %w", ns, err)
		}
		defer fh.Close()
		opts = append(opts, nftables.WithNetNSFd(int(fh.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("nftables connection: %w", err)
	}
	return f(c)
}

// SetDrops makes the namespace drop every IPv4 packet it receives from the
// addresses in from, replacing the previous set; an empty from removes the
// rules. The rules live in the input hook of table ip faultline_partition,
// so established connections are cut too.
func SetDrops(ns Namespace, from []netip.Addr) error {
	err := ns.withNFT(func(c *nftables.Conn) error {
		t := &nftables.Table{Name: PartitionTable, Family: nftables.TableFamilyIPv4}
		// add + delete in one transaction: removes the table whether or
		// not it existed, without failing the batch.
		c.AddTable(t)
		c.DelTable(t)
		if len(from) == 0 {
			return c.Flush()
		}
		c.AddTable(t)
		ch := c.AddChain(&nftables.Chain{
			Name:     "input",
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookInput,
			Priority: nftables.ChainPriorityFilter,
		})
		for _, a := range from {
			if !a.Is4() {
				return fmt.Errorf("drop rule for %s: only IPv4 addresses are supported", a)
			}
			ip := a.As4()
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				// ip saddr == a
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("set partition rules in %s: %w", ns.describe(), explainPerm(err))
	}
	return nil
}

// Drops lists the addresses whose packets the namespace drops now.
func Drops(ns Namespace) ([]netip.Addr, error) {
	var out []netip.Addr
	err := ns.withNFT(func(c *nftables.Conn) error {
		t := &nftables.Table{Name: PartitionTable, Family: nftables.TableFamilyIPv4}
		rules, err := c.GetRules(t, &nftables.Chain{Name: "input", Table: t})
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if cmp, ok := e.(*expr.Cmp); ok && len(cmp.Data) == 4 {
					out = append(out, netip.AddrFrom4([4]byte(cmp.Data)))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list partition rules in %s: %w", ns.describe(), explainPerm(err))
	}
	return out, nil
}

// setLossRule replaces table ip faultline_packet with a rule dropping
// lossPercent of outgoing packets at random (0 removes it). It stands in
// for netem's loss on kernels without sch_netem.
func setLossRule(ns Namespace, lossPercent float64) error {
	return ns.withNFT(func(c *nftables.Conn) error {
		t := &nftables.Table{Name: PacketTable, Family: nftables.TableFamilyIPv4}
		c.AddTable(t)
		c.DelTable(t)
		if lossPercent <= 0 {
			return c.Flush()
		}
		c.AddTable(t)
		ch := c.AddChain(&nftables.Chain{
			Name:     "output",
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookOutput,
			Priority: nftables.ChainPriorityFilter,
		})
		// numgen random mod 10000 < loss*100 → drop. numgen yields a
		// host-order integer and cmp compares bytes, so convert to
		// network order first (as nft itself does).
		threshold := uint32(lossPercent * 100)
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Numgen{Register: 1, Modulus: 10000, Type: unix.NFT_NG_RANDOM},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(threshold)},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
		return c.Flush()
	})
}

func (ns Namespace) describe() string {
	if ns == "" {
		return "this network namespace"
	}
	return "network namespace " + string(ns)
}

// explainPerm adds what to do to a permission error.
func explainPerm(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (netfault needs CAP_NET_ADMIN: run the harness as root, or give the container NET_ADMIN)", err)
	}
	return err
}
