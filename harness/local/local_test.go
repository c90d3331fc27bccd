package local

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

func TestMain(m *testing.M) {
	// The test binary doubles as the pinger node of shared_test.go.
	if len(os.Args) > 1 && os.Args[1] == pingerArg {
		os.Exit(pingerNode(os.Args[2:]))
	}
	os.Exit(testbin.Main(m))
}

// startCluster starts n real storenode processes in strong mode.
func startCluster(t *testing.T, n int, opts Options) (*Cluster, *refstore.System) {
	t.Helper()
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := New(opts).Start(ctx, sys, harness.ClusterSpec{RunID: "test", Nodes: n, Dir: dir})
	require.NoError(t, err)
	c := cl.(*Cluster)
	t.Cleanup(func() {
		pids := c.Pids()
		require.NoError(t, c.Close(context.Background()))
		for id, pid := range pids {
			assert.False(t, alive(pid), "node %s (pid %d) still runs after Close", id, pid)
		}
	})
	return c, sys
}

func alive(pid int) bool {
	// A zombie would still answer kill(0); Close waits for the process, so
	// it is reaped.
	return syscall.Kill(pid, 0) == nil
}

func invoke(t *testing.T, sys *refstore.System, nodes []harness.Node, i int, op harness.Op, timeout time.Duration) harness.Completion {
	t.Helper()
	c, err := sys.NewClient(nodes, i)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Invoke(ctx, op)
}

func write(key string, v int64) harness.Op {
	return harness.Op{F: history.FWrite, Key: key, Value: history.IntValue(v), Node: -1}
}
func read(key string) harness.Op {
	return harness.Op{F: history.FRead, Key: key, Value: history.Null, Node: -1}
}

// eventually retries op on node i until it is ok.
func eventuallyOK(t *testing.T, sys *refstore.System, nodes []harness.Node, i int, op harness.Op) harness.Completion {
	t.Helper()
	var c harness.Completion
	require.Eventually(t, func() bool {
		c = invoke(t, sys, nodes, i, op, 2*time.Second)
		return c.Type == history.OK
	}, 30*time.Second, 100*time.Millisecond, "op on node %d never ok (last: %+v)", i, c)
	return c
}

func TestClusterStartsAndCloses(t *testing.T) {
	c, sys := startCluster(t, 3, Options{})
	nodes := c.Nodes()
	require.Len(t, nodes, 3)
	assert.Len(t, c.Pids(), 3)
	seen := map[string]bool{}
	for _, n := range nodes {
		assert.True(t, strings.HasPrefix(n.ClientAddr, "127.0.0.1:"), "loopback only")
		assert.False(t, seen[n.ClientAddr], "distinct ports")
		seen[n.ClientAddr] = true
	}
	eventuallyOK(t, sys, nodes, 0, write("a", 1))
	got := eventuallyOK(t, sys, nodes, 2, read("a"))
	assert.Equal(t, "1", string(got.Value))
	// Node logs are in the run directory.
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.logPath)
		require.NoError(t, err)
		assert.Contains(t, string(b), "=== faultline: ")
		assert.Equal(t, filepath.Join("nodes", n.id+".log"), filepath.Join(filepath.Base(filepath.Dir(n.logPath)), filepath.Base(n.logPath)))
	}
}

func TestKillAndRestartKeepData(t *testing.T) {
	c, sys := startCluster(t, 1, Options{})
	nodes := c.Nodes()
	eventuallyOK(t, sys, nodes, 0, write("k", 42))
	pid := c.Pids()["n1"]
	ctx := context.Background()
	require.NoError(t, c.Kill(ctx, "n1"))
	assert.False(t, alive(pid), "SIGKILL took effect")
	assert.Empty(t, c.Pids())
	got := invoke(t, sys, nodes, 0, read("k"), time.Second)
	assert.NotEqual(t, history.OK, got.Type, "a killed node answers nothing")
	require.NoError(t, c.Kill(ctx, "n1"), "killing a dead node is a no-op")

	require.NoError(t, c.Restart(ctx, "n1"))
	assert.NotEqual(t, pid, c.Pids()["n1"])
	got = eventuallyOK(t, sys, nodes, 0, read("k"))
	assert.Equal(t, "42", string(got.Value), "the data survived the kill")
}

// TestKilledNodesLinksRefuse: while a node is down, its peers' links to it
// refuse connections as the dead node would (a proxy that accepted and
// dropped them would turn forwarded requests into unknown outcomes); after
// the restart they carry traffic again.
func TestKilledNodesLinksRefuse(t *testing.T) {
	c, _ := startCluster(t, 2, Options{})
	ctx := context.Background()
	link := c.links[[2]string{"n1", "n2"}]
	dial := func() error {
		conn, err := net.DialTimeout("tcp", link.addr(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	}
	require.NoError(t, dial(), "the link accepts while n2 runs")
	require.NoError(t, c.Kill(ctx, "n2"))
	err := dial()
	require.Error(t, err, "the link must refuse while n2 is down")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.NoError(t, c.Restart(ctx, "n2"))
	require.NoError(t, dial(), "the link accepts again after the restart")
}

func TestPauseResume(t *testing.T) {
	c, sys := startCluster(t, 1, Options{})
	nodes := c.Nodes()
	eventuallyOK(t, sys, nodes, 0, write("p", 1))
	ctx := context.Background()
	// Busy goroutines load both cores, as a CI machine is: SIGSTOP is
	// queued at once but takes hold only when a thread of the node gets a
	// core, and Pause must not return before that.
	stop := make(chan struct{})
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	err := c.Pause(ctx, "n1")
	pid := c.Pids()["n1"]
	for _, task := range tasks(t, pid) {
		assert.Contains(t, []string{"T", "t"}, procState(t, filepath.Join("/proc", strconv.Itoa(pid), "task", task)), "thread %s stopped when Pause returns", task)
	}
	close(stop)
	require.NoError(t, err)
	got := invoke(t, sys, nodes, 0, read("p"), 500*time.Millisecond)
	assert.Equal(t, history.Info, got.Type, "a paused node does not answer: outcome unknown")
	require.NoError(t, c.Resume(ctx, "n1"))
	got = eventuallyOK(t, sys, nodes, 0, read("p"))
	assert.Equal(t, "1", string(got.Value))
}

func tasks(t *testing.T, pid int) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	require.NoError(t, err)
	var ids []string
	for _, e := range es {
		ids = append(ids, e.Name())
	}
	require.NotEmpty(t, ids)
	return ids
}

// procState is the state letter of the process or thread at dir (a
// /proc/<pid> or /proc/<pid>/task/<tid> directory).
func procState(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	require.NoError(t, err)
	// pid (comm) state ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return strings.Fields(s[i+1:])[0]
}

func TestPartitionIsolatesLeader(t *testing.T) {
	c, sys := startCluster(t, 3, Options{})
	nodes := c.Nodes()
	ctx := context.Background()
	eventuallyOK(t, sys, nodes, 0, write("x", 1))
	leader, err := sys.Leader(ctx, nodes)
	require.NoError(t, err)
	li := -1
	var others []string
	for i, n := range nodes {
		if n.ID == leader {
			li = i
		} else {
			others = append(others, n.ID)
		}
	}
	// The leader drops packets from the others and they from it.
	g := nemesis.Grudge{leader: others}
	for _, o := range others {
		g[o] = []string{leader}
	}
	require.NoError(t, c.Partition(ctx, g))
	// The isolated leader cannot commit a write.
	got := invoke(t, sys, nodes, li, write("x", 2), 3*time.Second)
	assert.NotEqual(t, history.OK, got.Type, "an isolated leader must not commit: %+v", got)
	// The majority elects a new leader and commits.
	oi := (li + 1) % 3
	eventuallyOK(t, sys, nodes, oi, write("x", 3))
	newLeader, err := sys.Leader(ctx, []harness.Node{nodes[oi]})
	require.NoError(t, err)
	assert.NotEqual(t, leader, newLeader, "the majority elected another leader")

	require.NoError(t, c.Partition(ctx, nil))
	got = eventuallyOK(t, sys, nodes, li, read("x"))
	assert.Equal(t, "3", string(got.Value), "after the heal the old leader serves the majority's value")
}

func TestOneWayPartitionMapsOntoLinks(t *testing.T) {
	c, _ := startCluster(t, 3, Options{})
	// n1 drops packets from n2: traffic n2→n1 is cut on both links.
	require.NoError(t, c.Partition(context.Background(), nemesis.Grudge{"n1": {"n2"}}))
	for k, l := range c.links {
		l.mu.Lock()
		b := l.block
		l.mu.Unlock()
		switch k {
		case [2]string{"n2", "n1"}:
			assert.Equal(t, [2]bool{true, false}, b, "n2's requests to n1 are cut")
		case [2]string{"n1", "n2"}:
			assert.Equal(t, [2]bool{false, true}, b, "n2's answers to n1 are cut")
		default:
			assert.Equal(t, [2]bool{false, false}, b, "link %v untouched", k)
		}
	}
	err := c.Partition(context.Background(), nemesis.Grudge{"n9": {"n1"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "n9")
}

func TestPacketRefusesWhatTCPHides(t *testing.T) {
	c, _ := startCluster(t, 2, Options{})
	err := c.Packet(context.Background(), "n1", nemesis.PacketFault{Duplicate: 5})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "duplication")
	require.NoError(t, c.Packet(context.Background(), "n1", nemesis.PacketFault{Delay: 50 * time.Millisecond}))
	l := c.links[[2]string{"n1", "n2"}]
	assert.Equal(t, 50*time.Millisecond, l.shape[forward].delay)
	assert.Equal(t, 50*time.Millisecond, c.links[[2]string{"n2", "n1"}].shape[backward].delay)
	assert.Zero(t, c.links[[2]string{"n2", "n1"}].shape[forward].delay)
	require.NoError(t, c.Packet(context.Background(), "n1", nemesis.PacketFault{}))
	assert.Zero(t, l.shape[forward].delay)
}

func TestPortInUseIsAClearError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	_, err = New(Options{BasePort: port}).Start(context.Background(), sys, harness.ClusterSpec{Nodes: 1, Dir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use")
	assert.Contains(t, err.Error(), ln.Addr().String())
}

func TestMissingBinaryIsAClearError(t *testing.T) {
	sys, err := refstore.New("/nonexistent/storenode", store.Strong, nil)
	require.NoError(t, err)
	_, err = New(Options{}).Start(context.Background(), sys, harness.ClusterSpec{Nodes: 1, Dir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make build")
}

func TestNodeThatExitsFailsStartFast(t *testing.T) {
	// A bad mode flag makes storenode exit at once with code 2.
	sys := badArgs{refstoreOrFail(t)}
	start := time.Now()
	_, err := New(Options{}).Start(context.Background(), sys, harness.ClusterSpec{Nodes: 1, Dir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited while starting")
	assert.Contains(t, err.Error(), "flag provided but not defined: -nosuchflag", "the log tail says why")
	assert.Less(t, time.Since(start), 30*time.Second, "well before the 60 s ready timeout")
}

// usageSystem is a node that fails as a Go program given an unknown flag
// does, but with a long usage text after the cause (a real process: a
// shell).
type usageSystem struct{ *refstore.System }

func (usageSystem) Binary() string { return "/bin/sh" }
func (usageSystem) Args(harness.NodeLayout) []string {
	return []string{"-c", `echo "flag provided but not defined: -bogus"; echo "Usage of node:"; i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "  -option$i string"; done; echo "last words"; exit 2`}
}

// A node that fails to start is shown by the head and the tail of its
// log: the cause at the top is not cut off by a long usage text.
func TestFailedStartShowsTheLogsHeadAndTail(t *testing.T) {
	_, err := New(Options{}).Start(context.Background(), usageSystem{refstoreOrFail(t)}, harness.ClusterSpec{Nodes: 1, Dir: t.TempDir()})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "exited while starting")
	assert.Contains(t, msg, "    flag provided but not defined: -bogus", "the head")
	assert.Contains(t, msg, "    … 64 lines left out …") // 104 lines with the harness's own first one
	assert.Contains(t, msg, "    last words", "the tail")
	assert.NotContains(t, msg, "-option50 ", "the middle is left out")
}

func refstoreOrFail(t *testing.T) *refstore.System {
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	return sys
}

type badArgs struct{ *refstore.System }

func (b badArgs) Args(n harness.NodeLayout) []string {
	return append(b.System.Args(n), "--nosuchflag")
}
