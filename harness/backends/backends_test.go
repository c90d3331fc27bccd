package backends_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness/backends"
)

func TestResolve(t *testing.T) {
	up := func(context.Context) bool { return true }
	down := func(context.Context) bool { return false }
	tests := []struct {
		name      string
		available func(context.Context) bool
		want, why string
	}{
		{"", up, "docker", "a Docker daemon answers"},
		{"", down, "local", "no Docker daemon answers"},
		{"local", up, "local", "asked for"},
		{"docker", down, "docker", "asked for"},
	}
	for _, tc := range tests {
		got, why, err := backends.Resolve(context.Background(), tc.name, backends.Options{Available: tc.available})
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "%q", tc.name)
		assert.Equal(t, tc.why, why, "%q", tc.name)
	}
	_, _, err := backends.Resolve(context.Background(), "k8s", backends.Options{})
	assert.ErrorContains(t, err, `unknown backend "k8s": valid backends are local and docker`)
}

// Asked for docker without a daemon: a clear error with the caller's hint,
// nothing started.
func TestNewDockerWithoutDaemon(t *testing.T) {
	_, err := backends.New(context.Background(), "docker", backends.Options{
		Available: func(context.Context) bool { return false }, Hint: "use --backend local"})
	assert.ErrorContains(t, err, "no Docker daemon answers")
	assert.ErrorContains(t, err, "use --backend local")
	b, err := backends.New(context.Background(), "", backends.Options{Available: func(context.Context) bool { return false }})
	require.NoError(t, err)
	assert.Equal(t, "local", b.Name())
}

func TestFromEnv(t *testing.T) {
	down := func(context.Context) bool { return false }
	tests := []struct {
		env, fallback string
		want, err     string
	}{
		{"", "local", "local", ""},
		{"local", "", "local", ""},
		{"", "", "local", ""}, // no daemon answers
		{"k8s", "local", "", `FAULTLINE_BACKEND="k8s": valid values are local and docker (unset: local)`},
		{"k8s", "", "", `(unset: docker when a Docker daemon answers, else local)`},
		{"docker", "local", "", "no Docker daemon answers (is it running, and is DOCKER_HOST right?); set FAULTLINE_BACKEND=local to run nodes as local processes"},
	}
	for _, tc := range tests {
		t.Setenv(backends.Env, tc.env)
		b, err := backends.FromEnv(context.Background(), tc.fallback, backends.Options{Available: down})
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%q, fallback %q", tc.env, tc.fallback)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, b.Name(), "%q, fallback %q", tc.env, tc.fallback)
	}
}
