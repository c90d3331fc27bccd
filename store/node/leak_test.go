package node_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store/node"
)

// Closing a cluster leaves no goroutine behind: no Raft loop, no
// listener, no peer connection.
func TestCloseLeavesNothingBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := node.StartCluster(ctx, node.ClusterConfig{Nodes: 3, Mode: "strong", Dir: t.TempDir(), Strong: testRaft, Logger: testLogger(t)})
	require.NoError(t, err)
	_, err = c.Leader(ctx)
	require.NoError(t, err)
	cl := newClient(t, c.ClientAddrs()...)
	for i := range c.ClientAddrs() {
		cl.Use(i)
		require.NoError(t, cl.Write(ctx, "k", "v"))
		_, _, err := cl.Read(ctx, "k")
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	var after int
	require.Eventually(t, func() bool {
		after = runtime.NumGoroutine()
		return after <= before+4 // the client's keep-alive pool may hold a few
	}, 5*time.Second, 50*time.Millisecond, "goroutines: %d before, %d after close", before, after)
	if t.Failed() {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}
