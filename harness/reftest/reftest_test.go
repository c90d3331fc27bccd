package reftest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/workloads"
)

func TestBackendNameFromEnv(t *testing.T) {
	for _, v := range []string{"local", "docker"} {
		t.Setenv(BackendEnv, v)
		got, err := BackendName(context.Background())
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
	t.Setenv(BackendEnv, "k8s")
	_, err := BackendName(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `FAULTLINE_BACKEND="k8s": valid values are local and docker`)

	_, err = NewBackend("k8s", nil)
	assert.ErrorContains(t, err, "valid backends are local and docker")
	b, err := NewBackend("local", nil)
	require.NoError(t, err)
	assert.Equal(t, "local", b.Name())
}

func TestStorenodeEnv(t *testing.T) {
	t.Setenv(StorenodeEnv, "/nonexistent/storenode")
	_, err := StorenodePath()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such binary")
	assert.Contains(t, err.Error(), "unset it")
}

// The default: storenode built with go build into the user cache dir, a
// static binary that runs; then a real run of the reference store through
// Run on the local backend.
func TestBuildAndRun(t *testing.T) {
	t.Setenv(StorenodeEnv, "")
	t.Setenv(BackendEnv, "local")
	p, err := StorenodePath()
	require.NoError(t, err)
	cache, _ := os.UserCacheDir()
	assert.True(t, strings.HasPrefix(p, filepath.Join(cache, "faultline", "bin")), p)
	out, err := exec.Command(p, "--help").CombinedOutput()
	assert.Contains(t, string(out), "Usage of storenode", "the built binary is storenode (err %v)", err)
	elf, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.NotContains(t, string(elf[:min(len(elf), 4096)]), "/lib64/ld-linux", "static: no dynamic loader")

	res := Run(t, Case{
		Mode: "causal", Test: harness.Test{Workload: workloads.KV(), TimeLimit: 2 * time.Second, QuietPeriod: 500 * time.Millisecond, Concurrency: 4},
		Expect: harness.Expect{"causal+": checkers.Valid},
	})
	assert.Equal(t, "local", res.Backend)
	assert.Positive(t, res.OK)
	b, err := os.ReadFile(filepath.Join(res.Dir, "test.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), p, "test.json records the binary")
}
