package local

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/internal/procstat"
)

// Shared peer addresses (harness.SharedPeerAddresses): each node has one
// inbound proxy, its front, that every other node dials. The proxy cannot
// tell the links apart by address, so it asks the kernel who dialed: the
// accepted connection's remote port is the dialer's ephemeral port; the
// dialing socket is the row of /proc/net/tcp (or tcp6) whose local end is
// that port and whose remote end is the front; its inode appears as
// socket:[inode] in /proc/<pid>/fd of the process that holds it, which is
// one of the nodes' processes (or of their process groups) or nobody we
// know. Linux only, like the rest of this backend (Pdeathsig).

// errUnknownSource is a connection no node's process made.
var errUnknownSource = errors.New("no node's process holds the dialing socket")

// procRow renders addr as /proc/net/tcp writes a local or remote address:
// IPv4 as 8 hex digits in host (little-endian) byte order, IPv6 as four
// such 32-bit words, then the port in 4 hex digits.
func procRow(addr netip.AddrPort, v6 bool) string {
	a := addr.Addr().Unmap()
	var b []byte
	if v6 {
		x := netip.AddrFrom16(a.As16()).As16() // IPv4 as ::ffff:a.b.c.d
		b = x[:]
	} else {
		if !a.Is4() {
			return ""
		}
		x := a.As4()
		b = x[:]
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		fmt.Fprintf(&sb, "%02X%02X%02X%02X", b[i+3], b[i+2], b[i+1], b[i])
	}
	fmt.Fprintf(&sb, ":%04X", addr.Port())
	return sb.String()
}

// dialerInode returns the inode of the socket that dialed the accepted
// connection conn (its local end is conn's remote end and the reverse).
func dialerInode(conn net.Conn) (uint64, error) {
	remote, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		return 0, fmt.Errorf("the dialer's address %s: %w", conn.RemoteAddr(), err)
	}
	local, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return 0, fmt.Errorf("the front's address %s: %w", conn.LocalAddr(), err)
	}
	for _, f := range []struct {
		path string
		v6   bool
	}{{"/proc/net/tcp", false}, {"/proc/net/tcp6", true}} {
		wantLocal, wantRemote := procRow(remote, f.v6), procRow(local, f.v6)
		if wantLocal == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			// sl local_address rem_address st queues tr retrnsmt uid timeout inode
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[1] != wantLocal || fs[2] != wantRemote {
				continue
			}
			inode, err := strconv.ParseUint(fs[9], 10, 64)
			if err == nil && inode != 0 {
				return inode, nil
			}
		}
	}
	return 0, fmt.Errorf("no socket %s→%s in /proc/net/tcp: %w", remote, local, errUnknownSource)
}

// holdsSocket reports whether process pid has socket:[inode] open.
func holdsSocket(pid int, inode uint64) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == want {
			return true
		}
	}
	return false
}

// groupMembers returns the pids of process group pgid other than pgid
// itself (a node's children, if it has any).
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pgid {
			continue
		}
		f, err := procstat.Read(pid)
		if err == nil && f[procstat.PGrp] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// identify returns the id of the node whose process (or process group:
// every node leads its own) holds the socket that dialed conn. pgids maps
// each running node's id to its process group id.
func identify(conn net.Conn, pgids map[string]int) (string, error) {
	var inode uint64
	var err error
	// The dialer's row can lag the accept by a moment: retry briefly.
	for try := 0; try < 5; try++ {
		if inode, err = dialerInode(conn); err == nil {
			break
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	if err != nil {
		return "", err
	}
	for id, pg := range pgids {
		if holdsSocket(pg, inode) {
			return id, nil
		}
	}
	for id, pg := range pgids {
		for _, pid := range groupMembers(pg) {
			if holdsSocket(pid, inode) {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("socket:[%d]: %w", inode, errUnknownSource)
}

// front is node to's one inbound peer address (shared mode): it accepts,
// identifies the dialing node and hands the connection to the link
// dialer→to, whose blackholes and shaping apply as if it had been dialed
// on its own address. Like a link, it stops listening while its node is
// down, so that dials are refused as the dead node's port would refuse
// them.
type front struct {
	to      string
	address string
	route   func(net.Conn) // identifies the dialer; owns the connection

	mu     sync.Mutex
	ln     net.Listener
	closed bool
	wg     sync.WaitGroup // the accept loop and routings in progress
}

func newFront(to string, route func(net.Conn)) (*front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &front{to: to, address: ln.Addr().String(), route: route, ln: ln}
	f.wg.Add(1)
	go f.accept(ln)
	return f, nil
}

func (f *front) accept(ln net.Listener) {
	defer f.wg.Done()
	for {
		a, err := ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.route(a)
		}()
	}
}

func (f *front) down() {
	f.mu.Lock()
	ln := f.ln
	f.ln = nil
	f.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

func (f *front) up() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil || f.closed {
		return nil
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ln, err = net.Listen("tcp", f.address); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("local backend: reopen node %s's peer proxy on %s: %w", f.to, f.address, err)
	}
	f.ln = ln
	f.wg.Add(1)
	go f.accept(ln)
	return nil
}

// close stops accepting and waits for the routings in progress, so that
// no connection reaches a link after the links close.
func (f *front) close() {
	f.mu.Lock()
	f.closed = true
	ln := f.ln
	f.ln = nil
	f.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	f.wg.Wait()
}

// refuse closes a connection with RST and, when warn, says why in the log.
func refuse(to string, a net.Conn, err error, warn bool) {
	if warn {
		slog.Warn("local backend: refused a peer connection", "to", to, "from", a.RemoteAddr().String(), "err", err)
	}
	if tc, ok := a.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	a.Close()
}
