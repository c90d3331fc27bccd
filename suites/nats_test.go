package suites

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/systems/nats"
	"github.com/faultline/faultline/workloads"
)

// NATS JetStream reproduces Jepsen's finding on NATS 2.12.1 (2025): with
// the server's default sync_interval (an fsync every two minutes) a
// whole-cluster power loss loses acknowledged publishes; with
// sync_interval always it does not; a kill alone (the page cache
// survives it) loses nothing either way. The power fault keeps names
// (Jepsen's lazyfs model, see cmd/faultline's --power-names).
//
// These are full-suite cases only (make suite): the first one builds
// nats-server from the module proxy (minutes on a fresh cache), and ten
// runs per case take several minutes. $FAULTLINE_NATS names a prebuilt
// binary; $FAULTLINE_NATS_RUNS changes the number of runs per case.

var (
	natsOnce sync.Once
	natsBin  nats.Binary
	natsErr  error
)

func natsBinary(t *testing.T) nats.Binary {
	t.Helper()
	natsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		natsBin, natsErr = nats.EnsureBinary(ctx, nats.BinaryOptions{Binary: os.Getenv("FAULTLINE_NATS")})
	})
	require.NoError(t, natsErr)
	return natsBin
}

func natsRuns(t *testing.T) int {
	n := 10
	if v := os.Getenv("FAULTLINE_NATS_RUNS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "FAULTLINE_NATS_RUNS must be an integer")
	}
	return n
}

// natsCase runs the set workload on NATS with sync and nemesis, n times,
// each with the first seed from its own range (run k searches from
// k*1000+1, shifted by $FAULTLINE_SUITE_SEED) whose schedule ok accepts,
// and returns the verdicts. A run the harness could not complete fails t.
func natsCase(t *testing.T, sync string, fault string, ok func(int, nemesis.Step) bool) []checkers.Validity {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the NATS cases are in the full suite (make suite)")
	}
	if fault == "power" {
		needFUSE(t)
	}
	b, _ := suiteBackend(t)
	sys, err := nats.New(natsBinary(t), nats.Config{SyncInterval: sync})
	require.NoError(t, err)
	base := int64(0)
	if v := os.Getenv(SeedEnv); v != "" {
		base, err = strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
	}
	runsDir := os.Getenv("FAULTLINE_RUNS_DIR")
	if runsDir == "" {
		runsDir = t.TempDir()
	}
	var out []checkers.Validity
	for k := 0; k < natsRuns(t); k++ {
		test := harness.Test{
			Name:   fmt.Sprintf("nats-sync-%s-set-%s", sys.SyncLabel(), fault),
			System: sys, Backend: b, Workload: workloads.Set(),
			Nemesis: nemesis.New(nemesis.Config{Faults: []string{fault}, Interval: 5 * time.Second}), TimeLimit: 20 * time.Second,
			RunsDir: runsDir, Options: sys.Options(),
		}
		seed, err := harness.PickSeed(test, base+int64(k)*1000+1, ok)
		require.NoError(t, err)
		test.Seed = seed
		res, err := harness.Run(t.Context(), test)
		require.NoError(t, err, "run %d (seed %d): %s", k, seed, res.Dir)
		require.True(t, res.Checked, "run %d (seed %d) was not checked: %v (%s)", k, seed, res.CheckErr, res.Dir)
		require.Positive(t, res.OK, "run %d (seed %d): no operation succeeded (%s)", k, seed, res.Dir)
		v := res.Summary.Valid
		lost := 0
		for _, r := range res.Summary.Results {
			lost += r.Counts["lost"]
		}
		t.Logf("run %d seed %d: %s, %d ok adds and reads, %d lost (%s)", k, seed, v, res.OK, lost, res.Dir)
		out = append(out, v)
	}
	return out
}

func count(vs []checkers.Validity, v checkers.Validity) int {
	n := 0
	for _, x := range vs {
		if x == v {
			n++
		}
	}
	return n
}

// TestNatsDefaultSyncLosesOnPowerLoss: acknowledged publishes lost in at
// least 9 of 10 runs whose schedule first cuts the power of every node.
func TestNatsDefaultSyncLosesOnPowerLoss(t *testing.T) {
	vs := natsCase(t, "", "power", powerAllFirst)
	n := len(vs)
	require.GreaterOrEqual(t, count(vs, checkers.Invalid), n-n/10, "verdicts %v: the default sync_interval must lose acknowledged publishes", vs)
}

// TestNatsSyncAlwaysKeepsOnPowerLoss: nothing acknowledged lost, in any run.
func TestNatsSyncAlwaysKeepsOnPowerLoss(t *testing.T) {
	vs := natsCase(t, nats.SyncAlways, "power", powerAllFirst)
	require.Equal(t, len(vs), count(vs, checkers.Valid), "verdicts %v: sync_interval always must lose nothing", vs)
}

// TestNatsDefaultSyncKeepsOnKill: the contrast that shows why the power
// fault matters: kill -9 of every node loses nothing with the default.
func TestNatsDefaultSyncKeepsOnKill(t *testing.T) {
	vs := natsCase(t, "", "kill", killAllFirst)
	require.Equal(t, len(vs), count(vs, checkers.Valid), "verdicts %v: a kill keeps the page cache", vs)
}
