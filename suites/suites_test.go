package suites

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/reftest"
	"github.com/faultline/faultline/nemesis"
)

// The suites run on the local backend unless FAULTLINE_BACKEND says
// otherwise: it is several times faster to start on this machine, and
// the suites measure verdicts, not deployment. TestDockerBackend runs one
// case in containers so that both backends are covered.
func suiteBackend(t *testing.T) (harness.Backend, string) {
	t.Helper()
	name := os.Getenv(reftest.BackendEnv)
	if name == "" {
		name = "local"
	}
	b, err := reftest.NewBackend(name, nil)
	require.NoError(t, err)
	return b, name
}

// strongKillBackend is the backend of strong-mode cases whose nemesis
// kills nodes: docker when a daemon answers (unless FAULTLINE_BACKEND
// says otherwise), so that both backends are covered, and because there a
// killed leader refuses connections, which a follower's forward reports as
// not applied. Through the local backend's link proxies the same forward
// ends in EOF after the request was sent — an unknown outcome — and the
// dozens of open-ended writes per key this leaves can make the
// linearizability search run past any budget. Without a daemon it falls
// back to local (and fails when CI=true: CI must cover docker).
func strongKillBackend(t *testing.T) harness.Backend {
	t.Helper()
	if os.Getenv(reftest.BackendEnv) == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		up := docker.Available(ctx)
		cancel()
		if up {
			b, err := reftest.NewBackend("docker", nil)
			require.NoError(t, err)
			return b
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("no Docker daemon answers, and CI=true: the docker backend must be tested in CI")
		}
		t.Log("no Docker daemon answers: running on the local backend")
	}
	b, _ := suiteBackend(t)
	return b
}

// run runs c on the suite backend with a seed whose nemesis schedule the
// backend can apply (the local backend cannot duplicate or reorder
// packets, docker here has no netem), further restricted by ok.
func run(t *testing.T, c reftest.Case, ok func(int, nemesis.Step) bool) harness.RunResult {
	t.Helper()
	if c.Backend == nil {
		c.Backend, _ = suiteBackend(t)
	}
	return runOn(t, c, ok)
}

func runOn(t *testing.T, c reftest.Case, ok func(int, nemesis.Step) bool) harness.RunResult {
	t.Helper()
	supported := harness.SupportedBy(c.Backend.Name(), false)
	test := harness.PrepareT(c.Test, c.Expect, testing.Short())
	from := c.Seed
	if from == 0 {
		from = 1
	}
	if v := os.Getenv(SeedEnv); v != "" {
		base, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "%s must be an integer", SeedEnv)
		from += base
	}
	seed, err := harness.PickSeed(test, from, func(i int, st nemesis.Step) bool {
		return supported(i, st) && (ok == nil || ok(i, st))
	})
	require.NoError(t, err)
	c.Seed = seed
	return reftest.Run(t, c)
}

// SeedEnv shifts the seeds the suites start their search from (to
// measure how reliable a verdict is over many runs).
const SeedEnv = "FAULTLINE_SUITE_SEED"

// Defaults of the suites' runs (divided by harness.ShortFactor under
// -short).
const (
	timeLimit = 30 * time.Second
	interval  = 6 * time.Second
)
