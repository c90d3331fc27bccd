package node_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/node"
	"github.com/faultline/faultline/store/strong"
)

// testRaft is the default timing, spelled out: shorter timeouts make
// leaders step down on this shared, busy machine.
var testRaft = strong.Config{HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond, LeaderLeaseTimeout: 250 * time.Millisecond}

// syncBuffer collects a test's node logs; they are printed if it fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func testLogger(t *testing.T) *slog.Logger {
	buf := &syncBuffer{}
	t.Cleanup(func() { // registered first, so it runs after the cluster closed
		if t.Failed() {
			buf.mu.Lock()
			t.Logf("node logs:\n%s", buf.b.String())
			buf.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startCluster(t *testing.T, cfg node.ClusterConfig) *node.Cluster {
	t.Helper()
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.Mode == "" {
		cfg.Mode = store.Strong
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Strong == (strong.Config{}) {
		cfg.Strong = testRaft
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := node.StartCluster(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func waitLeader(t *testing.T, c *node.Cluster) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := c.Leader(ctx)
	require.NoError(t, err)
	return id
}
