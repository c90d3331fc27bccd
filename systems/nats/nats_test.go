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
	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
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
	if testing.Short() {
		t.Skip("-short: suites/nats_test.go has the kill case")
	}
	sys := newSystem(t, Config{})
	harnesstest.Run(t, harness.Test{
		Name:   "nats-sync-default-set-kill",
		System: sys, Backend: local.New(local.Options{}), Workload: workloads.Set(),
		Nemesis:   nemesis.New(nemesis.Config{Faults: []string{"kill"}, Interval: 5 * time.Second}),
		TimeLimit: 20 * time.Second, Options: sys.Options(),
	}, harness.Expect{"set": checkers.Valid})
}

// TestPowerLoss is Jepsen's finding on a real 3-node cluster on the
// local backend, short: the seed's schedule first cuts the power of every
// node (names kept, un-fsynced contents lost: Jepsen's lazyfs model). With
// the server's default sync_interval acknowledged publishes are lost; with
// sync_interval always none is. suites/nats_test.go repeats it ten times.
func TestPowerLoss(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("the power fault needs FUSE: %v", err)
	}
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
			test := harness.Test{
				Name:   "nats-sync-" + sys.SyncLabel() + "-set-power",
				System: sys, Backend: local.New(local.Options{}), Workload: workloads.Set(),
				Nemesis:   nemesis.New(nemesis.Config{Faults: []string{"power"}, Interval: 4 * time.Second}),
				TimeLimit: 12 * time.Second, Options: sys.Options(),
			}
			seed, err := harness.PickSeed(test, 1, func(i int, st nemesis.Step) bool {
				return i > 0 || (st.Start && st.Fault == "power" && st.Mode == "all")
			})
			require.NoError(t, err)
			test.Seed = seed
			harnesstest.Run(t, test, harness.Expect{"set": tc.want})
		})
	}
}

// TestEnsureBinaryCaches builds (or finds) the nats-server the other tests
// run; .ci/run calls it first so that a cold build's minutes show on a
// line of their own rather than inside another test's timeout.
func TestEnsureBinaryCaches(t *testing.T) {
	b := testBinary(t)
	st, err := os.Stat(b.Path)
	require.NoError(t, err, "the cached binary exists")
	require.NotZero(t, st.Mode()&0o111, "and is executable")
}
