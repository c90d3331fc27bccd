package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/store"
)

// invokeUntil retries op on node i until it completes OK or ctx ends.
func invokeUntil(ctx context.Context, t *testing.T, sys harness.System, nodes []harness.Node, i int, op harness.Op) harness.Completion {
	t.Helper()
	cl, err := sys.NewClient(nodes, i)
	require.NoError(t, err)
	defer cl.Close()
	var last harness.Completion
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = cl.Invoke(octx, op)
		cancel()
		if last.Type == history.OK {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s %s on %s never succeeded: last %+v", op.F, op.Key, nodes[i].ID, last)
	return last
}

// The reference store in strong mode on 5 containers (one cluster for
// both: starts are the slow part): every partition topology checked by a
// probe matrix; then partition one
// isolates a node for real (probed from inside its container with
// storenode netfault) while the majority commits; the clock bump shows in
// the node's status; a killed node serves its old data after restart;
// after heal every link works.
func TestFiveNodeStrongStore(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	b := newBackend(t)
	c := startCluster(t, b, sys, 5)
	t.Run("partitions drop real packets", func(t *testing.T) { testPartitions(t, c) })
	t.Run("strong store under faults", func(t *testing.T) { testStrongStore(t, c, sys) })
}

func testStrongStore(t *testing.T, c *Cluster, sys *refstore.System) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := c.Nodes()
	require.NoError(t, c.waitReady(ctx), "the store recovers from the partitions before")
	var leader string
	require.Eventually(t, func() bool {
		var err error
		leader, err = sys.Leader(ctx, nodes)
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "a leader is elected")
	var victim string
	var majority []int
	for i, n := range nodes {
		if n.ID != leader && victim == "" {
			victim = n.ID
		} else {
			majority = append(majority, i)
		}
	}
	ids := []string{"n1", "n2", "n3", "n4", "n5"}
	require.NoError(t, c.Partition(ctx, nemesis.Isolate(ids, victim)))

	leaderPeer, err := c.PeerAddr(leader)
	require.NoError(t, err)
	out, code, err := c.Exec(ctx, victim, "/storenode", "netfault", "probe", "--timeout", "700ms", leaderPeer)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "the isolated node must not reach the leader: %s", out)
	assert.Contains(t, out, "unreachable")
	assert.Contains(t, out, "timeout", "dropped packets make the connect time out")
	other := nodes[majority[1]].ID
	out, code, err = c.Exec(ctx, other, "/storenode", "netfault", "probe", "--timeout", "700ms", leaderPeer)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "a majority node still reaches the leader: %s", out)
	out, code, err = c.Exec(ctx, victim, "/storenode", "netfault", "drops")
	require.NoError(t, err)
	require.Equal(t, 0, code, out)
	assert.Len(t, strings.Fields(out), 4, "the victim drops its 4 peers: %s", out)

	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	invokeUntil(wctx, t, sys, nodes, majority[1], harness.Op{F: history.FWrite, Key: "k", Value: history.IntValue(7), Node: -1})
	wcancel()

	require.NoError(t, c.Partition(ctx, nil))
	for pair, ok := range linkMatrix(t, c) {
		assert.True(t, ok, "after heal, link %s -> %s must work", pair[0], pair[1])
	}

	// Clock: the bump shows in the node's status.
	require.NoError(t, sys.SetClockOffset(ctx, nodes[1], 90*time.Second))
	st := statusOf(ctx, t, nodes[1])
	assert.Equal(t, int64(90*time.Second), st.ClockOffsetNS)
	require.NoError(t, sys.SetClockOffset(ctx, nodes[1], 0))

	// Kill and restart: the node serves its old data.
	k := majority[len(majority)-1]
	require.NoError(t, c.Kill(ctx, nodes[k].ID))
	running, _, _, err := c.state(ctx, c.nodes[k])
	require.NoError(t, err)
	assert.False(t, running)
	require.NoError(t, c.Restart(ctx, nodes[k].ID))
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	require.NoError(t, c.waitNodeReady(rctx, c.nodes[k]))
	got := invokeUntil(rctx, t, sys, nodes, k, harness.Op{F: history.FRead, Key: "k", Value: history.Null, Node: -1})
	assert.Equal(t, "7", history.Canonical(got.Value))
}

func statusOf(ctx context.Context, t *testing.T, n harness.Node) store.Status {
	t.Helper()
	var st store.Status
	body, err := httpDo(ctx, "GET", "http://"+n.ClientAddr+store.PathStatus, "")
	require.NoError(t, err)
	require.NoError(t, jsonUnmarshal(body, &st))
	return st
}

// With NetFault "exec", every network fault goes through `storenode
// netfault` run inside the container (the path for harnesses that cannot
// open a container's namespace from the host).
func TestNetFaultThroughExec(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	sys, err := refstore.New(testbin.Storenode(t), store.Eventual, nil)
	require.NoError(t, err)
	b, err := New(Options{NetFault: "exec", ReadyTimeout: 30 * time.Second})
	require.NoError(t, err)
	c := startCluster(t, b, sys, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	require.NoError(t, c.Partition(ctx, nemesis.Isolate([]string{"n1", "n2", "n3"}, "n1")))
	drops, err := c.Drops(ctx, "n1")
	require.NoError(t, err)
	assert.Len(t, drops, 2)
	m := linkMatrix(t, c)
	for pair, ok := range m {
		want := pair[0] != "n1" && pair[1] != "n1"
		assert.Equal(t, want, ok, "link %s -> %s", pair[0], pair[1])
	}
	require.NoError(t, c.Partition(ctx, nil))
	for pair, ok := range linkMatrix(t, c) {
		assert.True(t, ok, "after heal, link %s -> %s must work", pair[0], pair[1])
	}

	// No exec into a frozen container: a partition set while n3 is paused
	// reaches it when it resumes.
	require.NoError(t, c.Pause(ctx, "n3"))
	require.NoError(t, c.Partition(ctx, nemesis.Isolate([]string{"n1", "n2", "n3"}, "n3")))
	require.NoError(t, c.Resume(ctx, "n3"))
	drops, err = c.Drops(ctx, "n3")
	require.NoError(t, err)
	assert.Len(t, drops, 2, "n3 got its rules on resume")
	require.NoError(t, c.Partition(ctx, nil))

	peer, err := c.PeerAddr("n2")
	require.NoError(t, err)
	require.NoError(t, c.Packet(ctx, "n1", nemesis.PacketFault{Loss: 100}))
	assert.Error(t, c.Probe(ctx, "n1", peer, probeTimeout))
	require.NoError(t, c.Packet(ctx, "n1", nemesis.PacketFault{}))
	assert.NoError(t, c.Probe(ctx, "n1", peer, probeTimeout))
}

func TestBadNetFaultOption(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	_, err := New(Options{NetFault: "magic"})
	require.ErrorContains(t, err, "use host, exec")
}
