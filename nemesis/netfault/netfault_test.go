package netfault

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// newNamespace creates a real, empty network namespace with its loopback
// up and a TCP listener on 127.0.0.1 inside it, and removes both when the
// test ends. It needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); without it the
// test skips, as nothing can stand in for a namespace.
func newNamespace(t *testing.T) (Namespace, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	name := fmt.Sprintf("faultline-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	type result struct {
		ln  net.Listener
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.NewNamed(name) // creates and enters it
		if err != nil {
			netns.Set(orig)
			res <- result{err: err}
			return
		}
		defer ns.Close()
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		var ln net.Listener
		if err == nil {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
		}
		if serr := netns.Set(orig); serr == nil {
			runtime.UnlockOSThread()
		}
		res <- result{ln, err}
	}()
	r := <-res
	t.Cleanup(func() {
		if r.ln != nil {
			r.ln.Close()
		}
		_ = netns.DeleteNamed(name)
	})
	if r.err != nil {
		t.Skipf("cannot create a network namespace here: %v", r.err)
	}
	go func() {
		for {
			c, err := r.ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return Namespace("/var/run/netns/" + name), r.ln.Addr().String()
}

func TestDropsCutRealPackets(t *testing.T) {
	ns, addr := newNamespace(t)
	require.NoError(t, Probe(ns, addr, time.Second), "the listener answers before any rule")

	lo := netip.MustParseAddr("127.0.0.1")
	other := netip.MustParseAddr("10.1.2.3")
	require.NoError(t, SetDrops(ns, []netip.Addr{other, lo}))
	got, err := Drops(ns)
	require.NoError(t, err)
	assert.ElementsMatch(t, []netip.Addr{other, lo}, got)
	err = Probe(ns, addr, 300*time.Millisecond)
	require.Error(t, err, "packets from 127.0.0.1 are dropped")

	// Replacing the set and then clearing it.
	require.NoError(t, SetDrops(ns, []netip.Addr{other}))
	got, err = Drops(ns)
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{other}, got)
	require.NoError(t, Probe(ns, addr, time.Second))
	require.NoError(t, SetDrops(ns, nil))
	got, err = Drops(ns)
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, SetDrops(ns, nil), "clearing twice is fine")

	require.Error(t, SetDrops(ns, []netip.Addr{netip.MustParseAddr("::1")}), "IPv6 is refused, not ignored")
}

func TestPacketLossAndNetem(t *testing.T) {
	ns, addr := newNamespace(t)
	how, err := SetPacket(ns, "lo", Packet{Loss: 100})
	require.NoError(t, err)
	assert.Contains(t, []string{"netem", "nftables"}, how)
	require.Error(t, Probe(ns, addr, 300*time.Millisecond), "100%% loss via %s drops everything", how)
	_, err = SetPacket(ns, "lo", Packet{})
	require.NoError(t, err)
	require.NoError(t, Probe(ns, addr, time.Second))

	how, err = SetPacket(ns, "lo", Packet{Delay: 200 * time.Millisecond})
	if how == "" {
		require.ErrorIs(t, err, ErrNoNetem)
		return
	}
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, Probe(ns, addr, 3*time.Second))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

func TestPacketValidate(t *testing.T) {
	for _, p := range []Packet{{Loss: -1}, {Loss: 101}, {Duplicate: 200}, {Delay: -time.Second}, {Reorder: 10}} {
		assert.Error(t, p.Validate(), "%+v", p)
	}
	for _, p := range []Packet{{}, {Loss: 100}, {Delay: time.Second, Reorder: 50}} {
		assert.NoError(t, p.Validate(), "%+v", p)
	}
}

// NetemAvailable says what SetPacket finds on a real namespace: a delay is
// applied through netem exactly when the probe says netem exists.
func TestNetemAvailableAgreesWithSetPacket(t *testing.T) {
	ns, _ := newNamespace(t)
	ok, err := NetemAvailable()
	require.NoError(t, err)
	how, err := SetPacket(ns, "lo", Packet{Delay: 10 * time.Millisecond})
	if ok {
		require.NoError(t, err)
		assert.Equal(t, "netem", how)
	} else {
		require.ErrorIs(t, err, ErrNoNetem, "the probe said there is no netem")
	}
	t.Logf("netem available: %v", ok)
}
