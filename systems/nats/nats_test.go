package nats

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/local"
)

// testBinary is the nats-server the tests run: $FAULTLINE_NATS, else the
// cached build of the default version (built on first use, minutes).
func testBinary(t *testing.T) Binary {
	t.Helper()
	binOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		binVal, binErr = EnsureBinary(ctx, BinaryOptions{Binary: os.Getenv("FAULTLINE_NATS")})
	})
	require.NoError(t, binErr)
	return binVal
}

var (
	binOnce sync.Once
	binVal  Binary
	binErr  error
)

func newSystem(t *testing.T, cfg Config) *System {
	t.Helper()
	s, err := New(testBinary(t), cfg)
	require.NoError(t, err)
	return s
}

// TestSetUnderKill: a 3-node cluster on the local backend, the set
// workload with nodes killed and restarted: a kill keeps the page cache,
// so nothing acknowledged may be lost whatever the sync interval.
func TestSetUnderKill(t *testing.T) {
	sys := newSystem(t, Config{})
	harnesstest.Run(t, harness.Test{
		System: sys, Backend: local.New(local.Options{}), Workload: "set",
		Nemesis: []string{"kill"}, NemesisInterval: 5 * time.Second,
		TimeLimit: 20 * time.Second, Options: sys.Options(),
	}, harness.Expect{"set": checkers.Valid})
}
