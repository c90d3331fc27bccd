package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/store"
)

// TestLazyFSCluster: with ClusterSpec.LazyFS every node works through a
// real lazyfs mount; LoseUnsynced refuses a running node and works on a
// killed one, which then restarts on what is left; Close leaves nothing
// mounted and the data in data/<id>.
func TestLazyFSCluster(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("FUSE is not usable here: %v", err)
	}
	sys, err := refstore.New(testbin.Storenode(t), store.Eventual, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := New(Options{}).Start(ctx, sys, harness.ClusterSpec{RunID: "test", Nodes: 2, Dir: dir, LazyFS: true})
	require.NoError(t, err)
	c := cl.(*Cluster)
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.Close(context.Background())
		}
	})
	mnt := filepath.Join(dir, "data", "n1.mnt")
	mounted, err := lazyfs.IsMounted(mnt)
	require.NoError(t, err)
	require.True(t, mounted, "n1's data directory is a mount")

	assert.ErrorContains(t, c.LoseUnsynced(ctx, "n1"), "is running")
	require.NoError(t, c.Kill(ctx, "n1"))
	require.NoError(t, c.LoseUnsynced(ctx, "n1"))
	require.NoError(t, c.Restart(ctx, "n1"))
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	require.NoError(t, waitReady(rctx, sys, c.Nodes()[0]), "n1 restarts on what the power loss left")

	require.NoError(t, c.Close(context.Background()))
	closed = true
	for _, id := range []string{"n1", "n2"} {
		m, err := lazyfs.IsMounted(filepath.Join(dir, "data", id+".mnt"))
		require.NoError(t, err)
		assert.False(t, m, "%s's mount is gone after Close", id)
		ents, err := os.ReadDir(filepath.Join(dir, "data", id))
		require.NoError(t, err)
		assert.NotEmpty(t, ents, "%s's data stays in data/%s", id, id)
	}
}

func waitReady(ctx context.Context, sys *refstore.System, n harness.Node) error {
	for {
		err := sys.Ready(ctx, n)
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
