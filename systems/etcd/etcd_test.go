package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/local"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

func TestArgs(t *testing.T) {
	s, err := New(Binary{Path: "/etcd", Version: "v3.7.3"}, Config{})
	require.NoError(t, err)
	args := strings.Join(s.Args(harness.NodeLayout{
		ID: "n2", ClientListen: "10.0.0.2:7000", PeerListen: "10.0.0.2:7001", DataDir: "/data",
		Peers: map[string]string{"n1": "10.0.0.1:7001", "n3": "10.0.0.3:7001"},
	}), " ")
	assert.Contains(t, args, "--name n2 --data-dir /data")
	assert.Contains(t, args, "--listen-client-urls http://10.0.0.2:7000 --advertise-client-urls http://10.0.0.2:7000")
	assert.Contains(t, args, "--initial-advertise-peer-urls http://10.0.0.2:7001")
	assert.Contains(t, args, "--initial-cluster n1=http://10.0.0.1:7001,n2=http://10.0.0.2:7001,n3=http://10.0.0.3:7001")
	assert.NotContains(t, args, "--election-timeout", "etcd's defaults unless set")

	// The local backend's shared peer addresses: the node listens on one
	// address and is dialed (and named in the cluster) at its proxy's.
	args = strings.Join(s.Args(harness.NodeLayout{
		ID: "n2", ClientListen: "127.0.0.1:7000", PeerListen: "127.0.0.1:7001", PeerAdvertise: "127.0.0.1:9002", DataDir: "/data",
		Peers: map[string]string{"n1": "127.0.0.1:9001", "n3": "127.0.0.1:9003"},
	}), " ")
	assert.Contains(t, args, "--listen-peer-urls http://127.0.0.1:7001 --initial-advertise-peer-urls http://127.0.0.1:9002")
	assert.Contains(t, args, "--initial-cluster n1=http://127.0.0.1:9001,n2=http://127.0.0.1:9002,n3=http://127.0.0.1:9003")

	s, err = New(Binary{Path: "/etcd"}, Config{HeartbeatInterval: 50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	args = strings.Join(s.Args(harness.NodeLayout{ID: "n1", PeerListen: "a:1"}), " ")
	assert.Contains(t, args, "--heartbeat-interval 50 --election-timeout 500")
	assert.Equal(t, int64(50), s.Options()["etcd_heartbeat_interval_ms"])

	_, err = New(Binary{Path: "/etcd"}, Config{HeartbeatInterval: 200 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond})
	assert.ErrorContains(t, err, "at least 5 heartbeat")
}

// TestOutcomes is the mapping of the package doc, written as data.
func TestOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want history.Type
	}{
		{"ok", nil, history.OK},
		{"no leader (require-leader)", rpctypes.ErrGRPCNoLeader, history.Fail},
		{"no leader (client side)", rpctypes.ErrNoLeader, history.Fail},
		{"too many requests", rpctypes.ErrTooManyRequests, history.Fail},
		{"request too large", rpctypes.ErrGRPCRequestTooLarge, history.Fail},
		{"no space", rpctypes.ErrGRPCNoSpace, history.Fail},
		{"permission denied", rpctypes.ErrGRPCPermissionDenied, history.Fail},
		{"dial refused", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.1:7000: connect: connection refused"`), history.Fail},
		{"leader changed", rpctypes.ErrLeaderChanged, history.Info},
		{"server timeout", rpctypes.ErrTimeout, history.Info},
		{"timeout due to leader fail", rpctypes.ErrTimeoutDueToLeaderFail, history.Info},
		{"server stopped", rpctypes.ErrStopped, history.Info},
		{"deadline", context.DeadlineExceeded, history.Info},
		{"deadline wrapped", fmt.Errorf("put: %w", context.DeadlineExceeded), history.Info},
		{"deadline status", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), history.Info},
		{"canceled", context.Canceled, history.Info},
		{"connection lost after sending", status.Error(codes.Unavailable, "error reading from server: EOF"), history.Info},
		{"transport closing", status.Error(codes.Unavailable, "transport is closing"), history.Info},
		{"unknown", errors.New("something else"), history.Info},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := writeOutcome(tc.err)
			assert.Equal(t, tc.want, got.Type, "error %v", tc.err)
			if tc.err != nil {
				assert.NotEmpty(t, got.Error)
			}
			// A read never takes effect: any error is fail.
			if tc.err != nil {
				assert.Equal(t, history.Fail, readOutcome(tc.err).Type)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	assert.Equal(t, "12", string(decode([]byte("12"))))
	assert.Equal(t, `[1,2]`, string(decode([]byte("[1,2]"))))
	var str string
	require.NoError(t, json.Unmarshal(decode([]byte("<b>&")), &str))
	assert.Equal(t, "<b>&", str)
	assert.Equal(t, `""`, string(decode(nil)))
}

func dockerBackend(t *testing.T) *docker.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if !docker.Available(ctx) {
		t.Skip("no Docker daemon answers")
	}
	b, err := docker.New(docker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// backends are the backends etcd runs on; each returns its backend or
// skips the test when it cannot run here.
var backends = []struct {
	name string
	get  func(t *testing.T) harness.Backend
}{
	{"docker", func(t *testing.T) harness.Backend { return dockerBackend(t) }},
	{"local", func(t *testing.T) harness.Backend { return local.New(local.Options{}) }},
}

// TestClientOnRealCluster drives a real 3-node etcd cluster on each
// backend: each function's outcomes, the node pinning, a cas on an absent
// key, a killed node's refused write (fail) and the leader lookup.
func TestClientOnRealCluster(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { clientOnRealCluster(t, be.get(t)) })
	}
}

// startCluster starts three etcd nodes on b, closed when t ends.
func startCluster(ctx context.Context, t *testing.T, b harness.Backend, sys *System) harness.Cluster {
	t.Helper()
	c, err := b.Start(ctx, sys, harness.ClusterSpec{RunID: fmt.Sprintf("etcdtest-%d", time.Now().UnixNano()), Nodes: 3, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		assert.NoError(t, c.Close(cctx))
	})
	return c
}

func clientOnRealCluster(t *testing.T, b harness.Backend) {
	sys, err := New(testBinary(t), Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startCluster(ctx, t, b, sys)
	nodes := c.Nodes()
	cl, err := sys.NewClient(nodes, 0)
	require.NoError(t, err)
	defer cl.Close()

	op := func(f, key, v string) harness.Completion {
		octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
		defer ocancel()
		var raw json.RawMessage
		if v != "" {
			raw = json.RawMessage(v)
		}
		return cl.Invoke(octx, harness.Op{F: f, Key: key, Value: raw, Node: -1})
	}
	assert.Equal(t, harness.Completion{Type: history.OK, Value: history.Null}, op(history.FRead, "k", ""))
	assert.Equal(t, harness.Completion{Type: history.Fail, Error: history.ErrorMismatch}, op(history.FCAS, "k", "[1,2]"), "cas on an absent key")
	assert.Equal(t, history.OK, op(history.FWrite, "k", "1").Type)
	assert.Equal(t, history.OK, op(history.FCAS, "k", "[1,2]").Type)
	assert.Equal(t, harness.Completion{Type: history.Fail, Error: history.ErrorMismatch}, op(history.FCAS, "k", "[1,3]"))
	assert.Equal(t, "2", string(op(history.FRead, "k", "").Value))
	for _, e := range []string{"3", "1", "2", "1"} {
		assert.Equal(t, history.OK, op(history.FAdd, "set", e).Type)
	}
	assert.Equal(t, "[1,2,3]", string(op(history.FRead, "set", "").Value))

	leader, err := sys.Leader(ctx, nodes)
	require.NoError(t, err)
	assert.Contains(t, []string{"n1", "n2", "n3"}, leader)

	// A killed node: the client pinned to it cannot send, so its write
	// is fail (not applied), never served by another node.
	require.NoError(t, c.Kill(ctx, nodes[1].ID))
	cl.Use(1)
	got := op(history.FWrite, "k", "9")
	assert.Equal(t, history.Fail, got.Type, "write to a killed node: %+v", got)
	cl.Use(0)
	assert.Equal(t, "2", string(op(history.FRead, "k", "").Value), "the refused write took no effect")
	require.NoError(t, c.Restart(ctx, nodes[1].ID))
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	require.NoError(t, sys.Ready(rctx, nodes[1]))
	cl.Use(1)
	assert.Equal(t, "2", string(op(history.FRead, "k", "").Value), "the restarted node has the data")
}

// TestLinearizableUnderPartition runs a short real test through the
// harness on each backend.
func TestLinearizableUnderPartition(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := be.get(t)
			sys, err := New(testBinary(t), Config{})
			require.NoError(t, err)
			harnesstest.Run(t, harness.Test{
				System: sys, Backend: b, Workload: workloads.KV(),
				Nemesis:   nemesis.New(nemesis.Config{Faults: []string{"partition", "kill", "pause"}, Interval: 5 * time.Second}),
				TimeLimit: 20 * time.Second, Options: sys.Options(),
			}, harness.Expect{"linearizable": checkers.Valid})
		})
	}
}

// TestPartitionIsolatesLeader shows that a partition reaches etcd's own
// peer traffic on each backend: the majority elects another leader and
// commits, the isolated old leader cannot, and after the heal it serves
// the majority's value.
func TestPartitionIsolatesLeader(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := be.get(t)
			sys, err := New(testBinary(t), Config{})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := startCluster(ctx, t, b, sys)
			nodes := c.Nodes()
			clients := make([]harness.Client, len(nodes))
			for i := range nodes {
				clients[i], err = sys.NewClient(nodes, i)
				require.NoError(t, err)
				defer clients[i].Close()
			}
			op := func(i int, f, v string) harness.Completion {
				octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
				defer ocancel()
				var raw json.RawMessage
				if v != "" {
					raw = json.RawMessage(v)
				}
				return clients[i].Invoke(octx, harness.Op{F: f, Key: "x", Value: raw, Node: -1})
			}
			require.Equal(t, history.OK, op(0, history.FWrite, "1").Type)
			leader, err := sys.Leader(ctx, nodes)
			require.NoError(t, err)
			li, g := -1, nemesis.Grudge{}
			for i, n := range nodes {
				if n.ID == leader {
					li = i
					continue
				}
				g[leader] = append(g[leader], n.ID)
				g[n.ID] = []string{leader}
			}
			require.NoError(t, c.Partition(ctx, g))
			oi := (li + 1) % len(nodes)
			var got harness.Completion
			require.Eventually(t, func() bool {
				got = op(oi, history.FWrite, "3")
				return got.Type == history.OK
			}, 30*time.Second, 100*time.Millisecond, "the majority never committed (last: %+v)", got)
			newLeader, err := sys.Leader(ctx, []harness.Node{nodes[oi]})
			require.NoError(t, err)
			assert.NotEqual(t, leader, newLeader, "the majority elected another leader")
			got = op(li, history.FWrite, "2")
			assert.NotEqual(t, history.OK, got.Type, "the isolated old leader must not commit: %+v", got)

			require.NoError(t, c.Partition(ctx, nil))
			require.Eventually(t, func() bool {
				got = op(li, history.FRead, "")
				return got.Type == history.OK && string(got.Value) == "3"
			}, 30*time.Second, 100*time.Millisecond, "after the heal the old leader serves the majority's value (last: %+v)", got)
		})
	}
}
