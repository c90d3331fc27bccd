package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/lazyfs"
)

// TestPowerLossInContainer: with ClusterSpec.LazyFS the node's /data is a
// host lazyfs mount bound into its container. testnode fsyncs each key's
// file but never the directory, so its names are not durable: a kill
// keeps them (the page cache survives), a power loss takes them back.
// Close leaves nothing mounted and nothing of the run in Docker.
func TestPowerLossInContainer(t *testing.T) {
	requireDocker(t)
	if err := lazyfs.Available(); err != nil {
		t.Skipf("FUSE is not usable here: %v", err)
	}
	b := newBackend(t)
	sys := newTestSystem(t)
	runID := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.StartCluster(ctx, sys, harness.ClusterSpec{RunID: runID, Nodes: 1, Dir: dir, LazyFS: true})
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.Close(context.Background())
		}
	})
	mnt := filepath.Join(dir, "data", "n1.mnt")
	mounted, err := lazyfs.IsMounted(mnt)
	require.NoError(t, err)
	require.True(t, mounted, "n1's data directory is a host lazyfs mount")
	addr := c.Nodes()[0].ClientAddr

	require.NoError(t, kvPut(ctx, addr, "a", "1"))
	_, err = os.Stat(filepath.Join(dir, "data", "n1", "a"))
	require.NoError(t, err, "the container's write reached the backing directory on the host")
	require.NoError(t, c.Kill(ctx, "n1"))
	require.NoError(t, c.Restart(ctx, "n1"))
	require.NoError(t, c.waitReady(ctx))
	v, err := kvGet(ctx, addr, "a")
	require.NoError(t, err, "a kill keeps what the node wrote")
	assert.Equal(t, "1", v)

	assert.ErrorContains(t, c.LoseUnsynced(ctx, "n1"), "is running")
	require.NoError(t, kvPut(ctx, addr, "b", "2"))
	require.NoError(t, c.Kill(ctx, "n1"))
	require.NoError(t, c.LoseUnsynced(ctx, "n1"))
	require.NoError(t, c.Restart(ctx, "n1"))
	require.NoError(t, c.waitReady(ctx))
	for _, k := range []string{"a", "b"} {
		_, err := kvGet(ctx, addr, k)
		assert.ErrorContains(t, err, "404", "key %s: its file was fsynced, its name (the directory) never was", k)
	}

	require.NoError(t, c.Close(context.Background()))
	closed = true
	mounted, err = lazyfs.IsMounted(mnt)
	require.NoError(t, err)
	assert.False(t, mounted, "the mount is gone after Close")
	requireNothingLeft(t, runID)
}
