// Package netfaultcli is the command line of the network-fault helper that
// runs inside a node's container (docker exec) and writes faults into the
// container's own network namespace with nemesis/netfault. Two binaries
// carry it: faultline-netfault, which the docker backend packs into every
// node image (so any system gets network faults), and `storenode netfault`.
// It needs CAP_NET_ADMIN (the docker backend adds it).
//
//	PROG drop [--from ip,ip,...]   drop packets from these IPs (none: heal)
//	PROG drops                     list the IPs dropped now
//	PROG packet [--iface eth0] [--delay 100ms] [--jitter 10ms]
//	            [--loss 5] [--duplicate 5] [--reorder 25]
//	                               set the packet fault (no numbers: clear)
//	PROG probe [--timeout 1s] host:port
//	                               can this namespace open a TCP connection?
package netfaultcli

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/faultline/faultline/nemesis/netfault"
)

const netfaultUsage = `usage: PROG <command> [flags]
commands:
  drop [--from ip,ip,...]     drop every packet from these IPv4 addresses (no --from: heal)
  drops                       list the addresses dropped now
  packet [--iface eth0] [--delay d] [--jitter d] [--loss %] [--duplicate %] [--reorder %]
                              set the interface's packet fault (no numbers: clear it)
  probe [--timeout 1s] host:port
                              open a TCP connection from this namespace (exit 0 if it connects)
`

// Main runs the helper as prog (the name its messages and usage give)
// with args (the command and its flags) and returns the exit code: 0
// done (probe: connected), 1 the fault could not be applied (probe: not
// connected), 2 bad usage.
func Main(prog string, args []string, stdout, stderr io.Writer) int {
	usageText := strings.ReplaceAll(netfaultUsage, "PROG", prog)
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet(prog+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, prog+": "+format+"\n", a...)
		fmt.Fprint(stderr, usageText)
		return 2
	}
	switch cmd {
	case "drop":
		from := fs.String("from", "", "comma-separated IPv4 addresses whose packets to drop")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() > 0 {
			return usage("drop takes no arguments, got %q (use --from ip,ip)", fs.Args())
		}
		var addrs []netip.Addr
		for _, s := range strings.Split(*from, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() {
				return usage("--from: %q is not an IPv4 address (write e.g. 10.213.4.12)", s)
			}
			addrs = append(addrs, a)
		}
		if err := netfault.SetDrops("", addrs); err != nil {
			fmt.Fprintln(stderr, prog+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "dropping packets from %d addresses\n", len(addrs))
		return 0
	case "drops":
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		addrs, err := netfault.Drops("")
		if err != nil {
			fmt.Fprintln(stderr, prog+":", err)
			return 1
		}
		for _, a := range addrs {
			fmt.Fprintln(stdout, a)
		}
		return 0
	case "packet":
		var p netfault.Packet
		iface := fs.String("iface", "eth0", "interface")
		fs.DurationVar(&p.Delay, "delay", 0, "added delay")
		fs.DurationVar(&p.Jitter, "jitter", 0, "delay jitter")
		fs.Float64Var(&p.Loss, "loss", 0, "percent of packets lost")
		fs.Float64Var(&p.Duplicate, "duplicate", 0, "percent of packets duplicated")
		fs.Float64Var(&p.Reorder, "reorder", 0, "percent of packets reordered (needs --delay)")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if err := p.Validate(); err != nil {
			return usage("%v", err)
		}
		how, err := netfault.SetPacket("", *iface, p)
		if err != nil {
			fmt.Fprintln(stderr, prog+":", err)
			return 1
		}
		if p.IsZero() {
			fmt.Fprintf(stdout, "packet fault on %s cleared\n", *iface)
		} else {
			fmt.Fprintf(stdout, "packet fault on %s set via %s: %+v\n", *iface, how, p)
		}
		return 0
	case "probe":
		timeout := fs.Duration("timeout", time.Second, "connect timeout")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() != 1 {
			return usage("probe takes one host:port, got %d arguments", fs.NArg())
		}
		if err := netfault.Probe("", fs.Arg(0), *timeout); err != nil {
			fmt.Fprintf(stdout, "unreachable %s: %v\n", fs.Arg(0), err)
			return 1
		}
		fmt.Fprintf(stdout, "connected %s\n", fs.Arg(0))
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return 0
	}
	return usage("unknown command %q", cmd)
}
