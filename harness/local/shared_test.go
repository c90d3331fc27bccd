package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
)

// pingerArg, first on the test binary's command line, makes it a pinger
// node instead of running the tests.
const pingerArg = "-faultline-pinger-node"

// pinger is a System whose nodes do one thing: on GET /ping?to=<id> on
// its client address, a node dials the peer's address from its layout,
// sends its own id and returns the peer's answer. It shows which directed
// links carry traffic, with real processes and real TCP through the
// backend's proxies, and asks for shared peer addresses.
type pinger struct{ bin string }

func (pinger) Name() string              { return "pinger" }
func (p pinger) Binary() string          { return p.bin }
func (pinger) SharedPeerAddresses() bool { return true }
func (pinger) NewClient([]harness.Node, int) (harness.Client, error) {
	return nil, errors.New("the pinger has no client")
}

func (pinger) Args(n harness.NodeLayout) []string {
	args := []string{pingerArg, n.ID, n.ClientListen, n.PeerListen}
	for id, addr := range n.Peers {
		args = append(args, id+"="+addr)
	}
	return args
}

func (pinger) Ready(ctx context.Context, n harness.Node) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.ClientAddr+"/ping", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pingerNode runs one pinger node: args are its id, client and peer
// addresses, then id=address for each peer.
func pingerNode(args []string) int {
	id, client, peer := args[0], args[1], args[2]
	peers := map[string]string{}
	for _, a := range args[3:] {
		k, v, _ := strings.Cut(a, "=")
		peers[k] = v
	}
	pl, err := net.Listen("tcp", peer)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				from, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					fmt.Fprintf(c, "%s heard %s\n", id, strings.TrimSpace(from))
				}
			}()
		}
	}()
	http.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		if to == "" {
			return // readiness
		}
		c, err := net.DialTimeout("tcp", peers[to], time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(700 * time.Millisecond))
		fmt.Fprintf(c, "%s\n", id)
		answer, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			http.Error(w, err.Error(), http.StatusGatewayTimeout)
			return
		}
		io.WriteString(w, strings.TrimSpace(answer))
	})
	if err := http.ListenAndServe(client, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startPingers(t *testing.T, n int) *Cluster {
	t.Helper()
	bin, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := New(Options{}).Start(ctx, pinger{bin: bin}, harness.ClusterSpec{RunID: "test", Nodes: n, Dir: t.TempDir()})
	require.NoError(t, err)
	c := cl.(*Cluster)
	t.Cleanup(func() {
		pids := c.Pids()
		require.NoError(t, c.Close(context.Background()))
		for id, pid := range pids {
			assert.False(t, alive(pid), "node %s (pid %d) still runs after Close", id, pid)
		}
	})
	return c
}

// ping asks node from to ping node to; "" when the ping failed.
func ping(t *testing.T, c *Cluster, from, to string) string {
	t.Helper()
	n, err := c.node(from)
	require.NoError(t, err)
	resp, err := http.Get("http://" + n.clientAddr + "/ping?to=" + to)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}

// TestSharedPeerAddresses: every node names a peer by one address, and
// a partition still cuts exactly the directed links asked, because each
// connection is routed on the link of the node that dialed it.
func TestSharedPeerAddresses(t *testing.T) {
	c := startPingers(t, 3)
	ids := []string{"n1", "n2", "n3"}
	for _, n := range c.nodes {
		assert.Equal(t, c.fronts[n.id].address, n.layout.PeerAdvertise, "%s advertises its front", n.id)
		for id, addr := range n.layout.Peers {
			assert.Equal(t, c.fronts[id].address, addr, "%s sees %s at %s's front", n.id, id, id)
		}
	}
	all := func() map[[2]string]string {
		got := map[[2]string]string{}
		for _, a := range ids {
			for _, b := range ids {
				if a != b {
					got[[2]string{a, b}] = ping(t, c, a, b)
				}
			}
		}
		return got
	}
	heard := func(from, to string) string { return to + " heard " + from }
	for k, v := range all() {
		assert.Equal(t, heard(k[0], k[1]), v, "ping %s→%s before any fault", k[0], k[1])
	}

	// n1 drops what n2 sends: n2's ping of n1 (its request) and n1's
	// ping of n2 (n2's answer) fail; every other pair is untouched. A
	// connection routed on the wrong link would show here.
	ctx := context.Background()
	require.NoError(t, c.Partition(ctx, nemesis.Grudge{"n1": {"n2"}}))
	for k, v := range all() {
		if k == [2]string{"n2", "n1"} || k == [2]string{"n1", "n2"} {
			assert.Empty(t, v, "ping %s→%s must be cut", k[0], k[1])
		} else {
			assert.Equal(t, heard(k[0], k[1]), v, "ping %s→%s must pass", k[0], k[1])
		}
	}
	require.NoError(t, c.Partition(ctx, nil))
	for k, v := range all() {
		assert.Equal(t, heard(k[0], k[1]), v, "ping %s→%s after the heal", k[0], k[1])
	}

	// Delay on what n3 sends shows on n3's pings only.
	require.NoError(t, c.Packet(ctx, "n3", nemesis.PacketFault{Delay: 300 * time.Millisecond}))
	start := time.Now()
	assert.Equal(t, heard("n3", "n1"), ping(t, c, "n3", "n1"))
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "n3's request is delayed")
	start = time.Now()
	assert.Equal(t, heard("n1", "n2"), ping(t, c, "n1", "n2"))
	assert.Less(t, time.Since(start), 300*time.Millisecond, "n1→n2 is not shaped")
	require.NoError(t, c.Packet(ctx, "n3", nemesis.PacketFault{}))
}

// TestSharedPeerAddressRefusesStrangers: a connection that no node made
// (here the test process's own) is reset, never proxied: it would cross
// every partition.
func TestSharedPeerAddressRefusesStrangers(t *testing.T) {
	c := startPingers(t, 2)
	conn, err := net.DialTimeout("tcp", c.fronts["n2"].address, time.Second)
	require.NoError(t, err, "the front accepts at the TCP level")
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(conn, "stranger\n")
	_, err = bufio.NewReader(conn).ReadString('\n')
	require.Error(t, err, "no answer reaches a stranger")
	assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the stranger is reset at once, not left hanging: %v", err)
	assert.Equal(t, "n2 heard n1", ping(t, c, "n1", "n2"), "the nodes still get through")
}

// TestSharedPeerAddressKilledNodeRefuses: while a node is down its front
// refuses, as its port would; after the restart it carries traffic again.
func TestSharedPeerAddressKilledNodeRefuses(t *testing.T) {
	c := startPingers(t, 2)
	ctx := context.Background()
	require.NoError(t, c.Kill(ctx, "n2"))
	_, err := net.DialTimeout("tcp", c.fronts["n2"].address, time.Second)
	require.Error(t, err, "the front must refuse while n2 is down")
	require.NoError(t, c.Restart(ctx, "n2"))
	assert.Eventually(t, func() bool { return ping(t, c, "n1", "n2") == "n2 heard n1" }, 5*time.Second, 50*time.Millisecond)
}
