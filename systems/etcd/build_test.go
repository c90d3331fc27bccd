package etcd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testBinary is the etcd the tests run: $FAULTLINE_ETCD, else the cached
// build of the default version (built on first use, several minutes).
func testBinary(t *testing.T) Binary {
	t.Helper()
	binOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		binVal, binErr = EnsureBinary(ctx, BinaryOptions{Binary: os.Getenv("FAULTLINE_ETCD")})
	})
	require.NoError(t, binErr)
	return binVal
}

var (
	binOnce sync.Once
	binVal  Binary
	binErr  error
)

func TestCheckBinaryRefuses(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "etcd")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho 'etcd Version: 3.7.3'\n"), 0o755))

	// A static Go binary that is not etcd.
	src := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello 3.7.3\") }\n"), 0o644))
	notEtcd := filepath.Join(dir, "notetcd")
	cmd := exec.Command("go", "build", "-o", notEtcd, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, tc := range []struct{ name, path, err string }{
		{"missing", filepath.Join(dir, "nope"), "not a Linux ELF"},
		{"script", script, "not a Linux ELF"},
		{"not etcd", notEtcd, "does not say etcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckBinary(context.Background(), tc.path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	// A dynamically linked binary, when the host has one.
	if p, err := exec.LookPath("ls"); err == nil {
		_, err := CheckBinary(context.Background(), p)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "dynamically linked")
	}
	// Given as --etcd-binary, the same checks apply.
	_, err = EnsureBinary(context.Background(), BinaryOptions{Binary: notEtcd})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not say etcd")
}

// TestEnsureBinaryBadVersions asks the real module proxy.
func TestEnsureBinaryBadVersions(t *testing.T) {
	cache := t.TempDir()
	_, err := EnsureBinary(context.Background(), BinaryOptions{Version: "v3.5.999", CacheDir: cache})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not serve go.etcd.io/etcd/server/v3@v3.5.999")
	assert.Contains(t, err.Error(), "v3.7.3", "the error lists the versions it serves")
	_, err = EnsureBinary(context.Background(), BinaryOptions{Version: "v3.4.0", CacheDir: cache})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "older than v3.5.0")
	assertOnlyLock(t, cache)
}

// TestEnsureBinaryFailedBuild stands a script in for the go command (a
// real build that fails on demand is not available): the error names the
// version and carries the go command's own output, and the cache holds
// nothing afterwards.
func TestEnsureBinaryFailedBuild(t *testing.T) {
	cache := t.TempDir()
	fakeGo := filepath.Join(t.TempDir(), "go")
	require.NoError(t, os.WriteFile(fakeGo, []byte(`#!/bin/sh
case "$1" in
list) echo "go.etcd.io/etcd/server/v3 v3.6.0 v3.7.3" ;;
get) echo "go: go.etcd.io/etcd/server/v3@v3.7.3: verifying module: checksum mismatch" >&2; exit 1 ;;
esac
`), 0o755))
	_, err := EnsureBinary(context.Background(), BinaryOptions{CacheDir: cache, Go: fakeGo})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "building v3.7.3 failed")
	assert.Contains(t, err.Error(), "checksum mismatch")
	assertOnlyLock(t, cache)
}

func assertOnlyLock(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.Equal(t, ".lock", e.Name(), "left behind in the cache")
	}
}

// TestEnsureBinaryCaches builds (or finds) the default version and checks
// that a second call reuses the cached binary.
func TestEnsureBinaryCaches(t *testing.T) {
	if os.Getenv("FAULTLINE_ETCD") != "" {
		t.Skip("FAULTLINE_ETCD is set: the tests use that binary")
	}
	b := testBinary(t)
	assert.True(t, strings.HasPrefix(b.Version, DefaultSeries+"."), b.Version)
	if b.Built {
		t.Logf("built etcd %s in %s", b.Version, b.BuildTime.Round(time.Second))
	}
	again, err := EnsureBinary(context.Background(), BinaryOptions{Version: b.Version})
	require.NoError(t, err)
	assert.False(t, again.Built)
	assert.Equal(t, b.Path, again.Path)
}
