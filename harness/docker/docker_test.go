package docker

import (
	"context"
	"errors"
	"fmt"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/nemesis/netfault"
)

const probeTimeout = 700 * time.Millisecond

func TestImageIsCachedByHash(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	sys := newTestSystem(t)
	b := newBackend(t)
	ctx := context.Background()
	ref1, _, err := b.ensureImage(ctx, sys.Binary())
	require.NoError(t, err)
	ref2, _, err := b.ensureImage(ctx, sys.Binary())
	require.NoError(t, err)
	assert.Equal(t, ref1, ref2)
	assert.Regexp(t, `^faultline/testnode:[0-9a-f]{12}$`, ref1)
	img, err := b.cli.ImageInspect(ctx, ref1)
	require.NoError(t, err)
	assert.Equal(t, "testnode", img.Config.Labels[LabelImage])
	assert.Equal(t, []string{"/testnode"}, []string(img.Config.Entrypoint))
}

// TestImageCacheIsPruned: each rebuilt binary makes an image; the cache
// keeps the newest KeepImages per binary name and removes the others.
func TestImageCacheIsPruned(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b := newBackend(t)
	ctx := context.Background()
	orig, err := os.ReadFile(newTestSystem(t).Binary())
	require.NoError(t, err)
	name := fmt.Sprintf("prunetest%d", os.Getpid())
	t.Cleanup(func() {
		list, _ := b.cli.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+name))})
		for _, img := range list {
			b.cli.ImageRemove(context.Background(), img.ID, image.RemoveOptions{Force: true})
		}
	})
	var refs []string
	for i := 0; i < KeepImages+2; i++ {
		// Bytes appended to an ELF file change its hash, not its program.
		bin := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(bin, append(append([]byte{}, orig...), byte(i)), 0o755))
		ref, _, err := b.ensureImage(ctx, bin)
		require.NoError(t, err)
		refs = append(refs, ref)
		time.Sleep(1100 * time.Millisecond) // image creation times are in seconds
	}
	list, err := b.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+name))})
	require.NoError(t, err)
	var tags []string
	for _, img := range list {
		tags = append(tags, img.RepoTags...)
	}
	assert.ElementsMatch(t, refs[len(refs)-KeepImages:], tags, "only the newest images stay")
}

func TestImageRejectsDynamicBinary(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b := newBackend(t)
	// /bin/sh is dynamically linked on every distribution this runs on.
	sh, err := filepath.EvalSymlinks("/bin/sh")
	require.NoError(t, err)
	_, _, err = b.ensureImage(context.Background(), sh)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CGO_ENABLED=0")
}

func TestClusterLifecycleAndLogs(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b := newBackend(t)
	c := startCluster(t, b, newTestSystem(t), 3)
	ctx := context.Background()
	nodes := c.Nodes()
	require.Len(t, nodes, 3)
	for i, n := range nodes {
		assert.Equal(t, fmt.Sprintf("n%d", i+1), n.ID)
		require.NoError(t, kvPut(ctx, n.ClientAddr, "k", n.ID))
		got, err := kvGet(ctx, n.ClientAddr, "k")
		require.NoError(t, err)
		assert.Equal(t, n.ID, got)
	}
	// The harness reaches each node at its container IP on the run's
	// network (nothing is published on the host).
	for _, n := range nodes {
		host, _, err := net.SplitHostPort(n.ClientAddr)
		require.NoError(t, err)
		ip, err := c.NodeIP(n.ID)
		require.NoError(t, err)
		assert.Equal(t, ip.String(), host)
		assert.True(t, c.subnet.Contains(ip))
	}
	// The next run's subnet avoids this one.
	free, err := b.freeSubnets(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, free)
	for _, p := range free {
		assert.False(t, p.Overlaps(c.subnet), "%s overlaps the running cluster's %s", p, c.subnet)
	}
	// Every container carries the run's labels and NET_ADMIN.
	for _, n := range nodes {
		name, err := c.ContainerName(n.ID)
		require.NoError(t, err)
		st, err := b.cli.ContainerInspect(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, c.runID, st.Config.Labels[LabelRun])
		assert.Equal(t, fmt.Sprint(os.Getpid()), st.Config.Labels[LabelOwnerPID])
		caps := strings.Join(st.HostConfig.CapAdd, ",")
		assert.Regexp(t, `(^|,)(CAP_)?NET_ADMIN(,|$)`, caps)
	}
	require.NoError(t, c.Close(ctx))
	requireNothingLeft(t, c.runID)
	for _, n := range nodes {
		log, err := os.ReadFile(filepath.Join(c.dir, "nodes", n.ID+".log"))
		require.NoError(t, err)
		assert.Contains(t, string(log), "put k", "node %s's log was not copied", n.ID)
	}
	// Close again returns the same (nil) result.
	require.NoError(t, c.Close(ctx))
}

// linkMatrix probes every ordered pair (a, b): can a open a TCP connection
// to b's peer port? Probes run in parallel.
func linkMatrix(t *testing.T, c *Cluster) map[[2]string]bool {
	t.Helper()
	var mu sync.Mutex
	out := map[[2]string]bool{}
	var wg sync.WaitGroup
	for _, a := range c.Nodes() {
		for _, b := range c.Nodes() {
			if a.ID == b.ID {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr, err := c.PeerAddr(b.ID)
				require.NoError(t, err)
				err = c.Probe(context.Background(), a.ID, addr, probeTimeout)
				mu.Lock()
				out[[2]string{a.ID, b.ID}] = err == nil
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// testPartitions checks partitions on a 5-node cluster by a probe matrix
// from inside every container (run by TestFiveNodeStrongStore).
func testPartitions(t *testing.T, c *Cluster) {
	ctx := context.Background()
	ids := []string{"n1", "n2", "n3", "n4", "n5"}

	for _, link := range linkMatrix(t, c) {
		require.True(t, link, "before any partition, every link must work")
	}

	ring, err := nemesis.MajoritiesRing(ids)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		g    nemesis.Grudge
	}{
		{"one", nemesis.Isolate(ids, "n1")},
		{"majorities-ring", ring},
		{"one-way", nemesis.OneWay(ids, "n2")},
		{"bridge", must(nemesis.Bridge(ids))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.Partition(ctx, tc.g))
			m := linkMatrix(t, c)
			for pair, ok := range m {
				// a reaches b iff b accepts a's packets and a accepts
				// b's answers.
				want := tc.g.Connected(pair[0], pair[1])
				assert.Equal(t, want, ok, "link %s -> %s", pair[0], pair[1])
			}
			if tc.name == "majorities-ring" {
				for _, id := range ids {
					sees := 1
					for _, o := range ids {
						if o != id && m[[2]string{id, o}] {
							sees++
						}
					}
					assert.Equal(t, 3, sees, "%s must see exactly a majority", id)
				}
			}
			drops, err := c.Drops(ctx, "n1")
			require.NoError(t, err)
			assert.Len(t, drops, len(tc.g["n1"]))
			if tc.name == "one" {
				// Dropped, not refused: the connect times out.
				peer, err := c.PeerAddr("n2")
				require.NoError(t, err)
				err = c.Probe(ctx, "n1", peer, probeTimeout)
				var ne net.Error
				require.ErrorAs(t, err, &ne)
				assert.True(t, ne.Timeout(), "the isolated node's connect must time out: %v", err)
			}
		})
	}

	require.NoError(t, c.Partition(ctx, nil))
	for pair, ok := range linkMatrix(t, c) {
		assert.True(t, ok, "after heal, link %s -> %s must work", pair[0], pair[1])
	}
	drops, err := c.Drops(ctx, "n1")
	require.NoError(t, err)
	assert.Empty(t, drops)

	err = c.Partition(ctx, nemesis.Grudge{"n9": {"n1"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the nodes are")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKillRestartKeepsDataAndPartition(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b := newBackend(t)
	c := startCluster(t, b, newTestSystem(t), 2)
	ctx := context.Background()
	n1 := c.Nodes()[0]
	require.NoError(t, kvPut(ctx, n1.ClientAddr, "durable", "42"))

	require.NoError(t, c.Partition(ctx, nemesis.Isolate([]string{"n1", "n2"}, "n1")))
	require.NoError(t, c.Kill(ctx, "n1"))
	st, err := b.cli.ContainerInspect(ctx, c.nodes[0].container)
	require.NoError(t, err)
	assert.False(t, st.State.Running, "a killed node's container must not run")
	assert.Equal(t, 137, st.State.ExitCode, "SIGKILL exits with 128+9")
	qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = kvGet(qctx, n1.ClientAddr, "durable")
	qcancel()
	require.Error(t, err, "a killed node must not answer")
	require.Error(t, c.Kill(ctx, "n1"), "killing a dead node is an error")

	require.NoError(t, c.Restart(ctx, "n1"))
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, c.waitNodeReady(rctx, c.nodes[0]))
	got, err := kvGet(ctx, n1.ClientAddr, "durable")
	require.NoError(t, err)
	assert.Equal(t, "42", got, "the restarted node serves its old data")

	// Its new namespace got the partition back.
	drops, err := c.Drops(ctx, "n1")
	require.NoError(t, err)
	assert.Len(t, drops, 1)
	peer, err := c.PeerAddr("n2")
	require.NoError(t, err)
	assert.Error(t, c.Probe(ctx, "n1", peer, probeTimeout), "the restarted n1 must still be isolated")
	require.NoError(t, c.Partition(ctx, nil))
	assert.NoError(t, c.Probe(ctx, "n1", peer, probeTimeout))
}

// Pause and packet faults on one 2-node cluster (cluster starts are the
// slow part of these tests).
func TestPauseAndPacketFaults(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b := newBackend(t)
	c := startCluster(t, b, newTestSystem(t), 2)
	ctx := context.Background()

	t.Run("packet", func(t *testing.T) {
		peer, err := c.PeerAddr("n2")
		require.NoError(t, err)
		// 100% loss: nothing n1 sends gets out (netem, or the nftables
		// fallback on kernels without netem).
		require.NoError(t, c.Packet(ctx, "n1", nemesis.PacketFault{Loss: 100}))
		assert.Error(t, c.Probe(ctx, "n1", peer, probeTimeout))
		// A restarted node gets its packet fault back.
		require.NoError(t, c.Kill(ctx, "n1"))
		require.NoError(t, c.Restart(ctx, "n1"))
		assert.Error(t, c.Probe(ctx, "n1", peer, probeTimeout), "the loss survives a restart")
		require.NoError(t, c.Packet(ctx, "n1", nemesis.PacketFault{}))
		assert.NoError(t, c.Probe(ctx, "n1", peer, probeTimeout))

		// A delay needs netem: it either shows in the connect time or
		// fails loudly.
		err = c.Packet(ctx, "n1", nemesis.PacketFault{Delay: 300 * time.Millisecond})
		// The backend said so before any run (harness.Run draws only
		// what PacketModes lists): nil only when it cannot tell.
		t.Logf("the backend says it can apply packet faults %v (nil: cannot tell)", b.PacketModes())
		if modes := b.PacketModes(); modes != nil {
			assert.Equal(t, !errors.Is(err, netfault.ErrNoNetem), slices.Contains(modes, "delay"), "PacketModes %v, delay: %v", modes, err)
			assert.Contains(t, modes, "loss")
		}
		if errors.Is(err, netfault.ErrNoNetem) {
			t.Logf("this kernel has no netem: delay is refused as it must be: %v", err)
		} else {
			require.NoError(t, err)
			start := time.Now()
			require.NoError(t, c.Probe(ctx, "n1", peer, 3*time.Second))
			assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
			require.NoError(t, c.Packet(ctx, "n1", nemesis.PacketFault{}))
		}
		require.Error(t, c.Packet(ctx, "n1", nemesis.PacketFault{Loss: 150}), "loss above 100% is rejected")
	})

	t.Run("pause", func(t *testing.T) {
		n2 := c.Nodes()[1]
		require.NoError(t, c.Pause(ctx, "n2"))
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := kvGet(qctx, n2.ClientAddr, "x")
		cancel()
		require.Error(t, err, "a paused node must answer nothing")
		require.True(t, errors.Is(err, context.DeadlineExceeded), "it must hang, not refuse: %v", err)

		require.NoError(t, c.Resume(ctx, "n2"))
		require.NoError(t, c.Resume(ctx, "n2"), "resuming a running node is a no-op")
		qctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, kvPut(qctx, n2.ClientAddr, "x", "1"))

		// A paused node can be killed (it is thawed first) and restarted.
		require.NoError(t, c.Pause(ctx, "n2"))
		require.NoError(t, c.Kill(ctx, "n2"))
		require.NoError(t, c.Restart(ctx, "n2"))
		require.NoError(t, c.waitNodeReady(qctx, c.nodes[1]))
	})
}

// A node binary that knows nothing of faultline (testnode has no netfault
// subcommand) still gets partitions and packet faults when the harness
// cannot reach the namespaces from the host: the image carries the
// network-fault helper.
func TestNetFaultHelperForAnyBinary(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b, err := New(Options{NoReap: true, NetFault: "exec", ReadyTimeout: 30 * time.Second})
	require.NoError(t, err)
	c := startCluster(t, b, newTestSystem(t), 3)
	require.True(t, c.helper, "the image has the helper")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	require.NoError(t, c.Partition(ctx, nemesis.Isolate([]string{"n1", "n2", "n3"}, "n1")))
	drops, err := c.Drops(ctx, "n1")
	require.NoError(t, err)
	assert.Len(t, drops, 2)
	for pair, ok := range linkMatrix(t, c) {
		want := pair[0] != "n1" && pair[1] != "n1"
		assert.Equal(t, want, ok, "link %s -> %s", pair[0], pair[1])
	}
	require.NoError(t, c.Partition(ctx, nil))
	for pair, ok := range linkMatrix(t, c) {
		assert.True(t, ok, "after heal, link %s -> %s must work", pair[0], pair[1])
	}
	require.NoError(t, c.Packet(ctx, "n2", nemesis.PacketFault{Loss: 100}))
	peer, err := c.PeerAddr("n3")
	require.NoError(t, err)
	assert.Error(t, c.Probe(ctx, "n2", peer, probeTimeout), "100%% loss on n2")
	require.NoError(t, c.Packet(ctx, "n2", nemesis.PacketFault{}))
	assert.NoError(t, c.Probe(ctx, "n2", peer, probeTimeout), "loss cleared")
}

// A node that exits while starting fails Start with its log's head and
// tail (logexcerpt, as the local backend shows it), read through the
// daemon's multiplexed log stream.
func TestNodeThatExitsShowsItsLog(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.StartCluster(ctx, badFlagSystem{newTestSystem(t)}, harness.ClusterSpec{
		RunID: fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano()), Nodes: 1, Dir: t.TempDir()})
	if c != nil {
		c.Close(context.Background())
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited (code 2) before it was ready")
	assert.Contains(t, err.Error(), "\n    flag provided but not defined: -bogus", "the cause, indented as an excerpt")
}
