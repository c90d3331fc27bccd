package suites

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/reftest"
)

// TestDockerBackend runs one case in containers (partitions are nftables
// drops in each node's namespace there), so both backends are covered. It
// skips without a Docker daemon, unless CI=true.
func TestDockerBackend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	up := docker.Available(ctx)
	cancel()
	if !up {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Docker daemon answers, and CI=true: the docker backend must be tested in CI")
		}
		t.Skip("no Docker daemon answers")
	}
	b, err := reftest.NewBackend("docker", nil)
	require.NoError(t, err)
	res := runOn(t, reftest.Case{
		Test: harness.Test{
			Backend: b, Mode: "strong", Workload: "kv", Nemesis: []string{"partition", "kill"},
			NemesisInterval: interval, TimeLimit: timeLimit,
		},
		Expect: harness.Expect{"linearizable": checkers.Valid},
	}, partitionFirst)
	require.Equal(t, "docker", res.Backend)
}
