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

// TestPowerLoss is Jepsen's finding on a real 3-node cluster on the
// local backend: power loss (Jepsen's lazyfs model: names kept, un-fsynced
// contents lost) with the server's default sync_interval loses
// acknowledged publishes; with sync_interval always it loses none. The
// seed's schedule powers the whole cluster off once (at ~19 s).
func TestPowerLoss(t *testing.T) {
	for _, tc := range []struct {
		sync string
		want checkers.Validity
	}{
		{"", checkers.Invalid},
		{SyncAlways, checkers.Valid},
	} {
		name := "default"
		if tc.sync != "" {
			name = tc.sync
		}
		t.Run(name, func(t *testing.T) {
			sys := newSystem(t, Config{SyncInterval: tc.sync})
			harnesstest.Run(t, harness.Test{
				System: sys, Backend: local.New(local.Options{}), Workload: "set",
				Nemesis: []string{"power"}, NemesisInterval: 5 * time.Second, Seed: 3,
				PowerKeepsNames: true,
				TimeLimit:       20 * time.Second, Options: sys.Options(),
			}, harness.Expect{"set": tc.want})
		})
	}
}
