// Package reftest runs tests of the reference store under `go test`, from
// any module: it supplies what harnesstest.Run needs besides the test — the
// storenode binary (built with `go build` into a cache directory, or taken
// from FAULTLINE_STORENODE), the reference store as the System, and a
// Backend (docker when a daemon answers, else local; FAULTLINE_BACKEND
// forces one).
//
//	func TestStrongPartition(t *testing.T) {
//		reftest.Run(t, reftest.Case{
//			Mode:   "strong",
//			Test:   harness.Test{Workload: "kv", Nemesis: []string{"partition"}, TimeLimit: 30 * time.Second},
//			Expect: harness.Expect{"linearizable": checkers.Valid},
//		})
//	}
//
// It is its own package because harness cannot import the packages that
// implement its interfaces (refstore, local, docker import harness).
package reftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/local"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/results"
	"github.com/faultline/faultline/store"
)

// Environment variables that override the defaults.
const (
	// BackendEnv forces a backend: "local" or "docker".
	BackendEnv = "FAULTLINE_BACKEND"
	// StorenodeEnv is the path of a storenode binary to use instead of
	// building one.
	StorenodeEnv = "FAULTLINE_STORENODE"
)

// StorenodePkg is the import path of the reference store's node binary.
const StorenodePkg = "github.com/faultline/faultline/cmd/storenode"

// Case is one test of the reference store.
type Case struct {
	// Test is the run. Its System and Backend, when nil, are the
	// reference store in Mode with Faults, and Backend(t); its Model,
	// when empty, is the one Mode promises; its Name, when empty, is
	// <mode>-<workload>-<nemesis or none>, as `faultline run` names it.
	harness.Test
	// Mode is the store's mode: strong, causal or eventual.
	Mode string
	// Faults are the store's deliberate faults (stale-reads,
	// ack-before-fsync, skip-deps) every node starts with.
	Faults []string
	// Storenode is the node binary; "" = Storenode(t).
	Storenode string
	// Expect is the verdict expected of each checker (harnesstest.Run).
	Expect harness.Expect
}

// Run runs c with harnesstest.Run and returns its result; t fails when a
// verdict differs from c.Expect.
func Run(t testing.TB, c Case) harness.RunResult {
	t.Helper()
	test := c.Test
	if test.Name == "" {
		nem := "none"
		if len(test.Nemesis) > 0 {
			nem = strings.Join(test.Nemesis, "+")
		}
		test.Name = fmt.Sprintf("%s-%s-%s", c.Mode, test.Workload, nem)
	}
	if test.Report == nil {
		// A failed suite run keeps its run directory: with the report,
		// it holds everything a person needs to see why.
		test.Report = results.WriteReports
	}
	if test.System == nil {
		mode, err := store.ParseMode(c.Mode)
		if err != nil {
			t.Fatalf("reftest: Case.Mode: %v", err)
		}
		bin := c.Storenode
		if bin == "" {
			bin = Storenode(t)
		}
		sys, err := refstore.New(bin, mode, c.Faults)
		if err != nil {
			t.Fatalf("reftest: %v", err)
		}
		test.System = sys
		opts := map[string]any{"mode": c.Mode, "faults": c.Faults, "storenode": bin}
		if opts["faults"] == nil {
			opts["faults"] = []string{}
		}
		for k, v := range test.Options {
			opts[k] = v
		}
		test.Options = opts
	}
	if test.Backend == nil {
		test.Backend = Backend(t)
	}
	return harnesstest.Run(t, test, c.Expect)
}

// BackendName is the backend Backend picks: $FAULTLINE_BACKEND when set
// (an error if it is neither local nor docker), else docker when a daemon
// answers within 3s, else local.
func BackendName(ctx context.Context) (string, error) {
	switch v := os.Getenv(BackendEnv); v {
	case "local", "docker":
		return v, nil
	case "":
	default:
		return "", fmt.Errorf("%s=%q: valid values are local and docker (unset: docker when a Docker daemon answers, else local)", BackendEnv, v)
	}
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if docker.Available(actx) {
		return "docker", nil
	}
	return "local", nil
}

// Backend returns the backend BackendName picks; it fails t when the
// docker backend cannot be set up.
func Backend(t testing.TB) harness.Backend {
	t.Helper()
	name, err := BackendName(context.Background())
	if err != nil {
		t.Fatalf("reftest: %v", err)
	}
	b, err := NewBackend(name, nil)
	if err != nil {
		t.Fatalf("reftest: %v", err)
	}
	return b
}

// NewBackend returns the backend named name (local or docker).
func NewBackend(name string, log *slog.Logger) (harness.Backend, error) {
	switch name {
	case "local":
		return local.New(local.Options{}), nil
	case "docker":
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		b, err := docker.New(docker.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("docker backend: %w (set %s=local to run nodes as local processes)", err, BackendEnv)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown backend %q: valid backends are local and docker", name)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Storenode returns the storenode binary: $FAULTLINE_STORENODE when set,
// else StorenodePkg built once per test binary with `go build`
// (CGO_ENABLED=0, static, as the docker backend needs) into
// <user cache dir>/faultline/bin. Go's build cache makes a rebuild of
// unchanged sources cheap, and building every time keeps the binary in
// step with the source. It fails t when the build fails.
func Storenode(t testing.TB) string {
	t.Helper()
	p, err := StorenodePath()
	if err != nil {
		t.Fatalf("reftest: %v", err)
	}
	return p
}

// StorenodePath is Storenode for callers without a testing.TB.
func StorenodePath() (string, error) {
	if p := os.Getenv(StorenodeEnv); p != "" {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			return "", fmt.Errorf("%s=%q: no such binary (unset it to build storenode with go build)", StorenodeEnv, p)
		}
		return filepath.Abs(p)
	}
	buildOnce.Do(func() { buildPath, buildErr = build() })
	return buildPath, buildErr
}

func build() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	wd, _ := os.Getwd()
	// One binary per module directory, so that two checkouts do not
	// overwrite each other's binary.
	sum := sha256.Sum256([]byte(wd))
	dir := filepath.Join(cache, "faultline", "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s for the storenode binary: %w", dir, err)
	}
	out := filepath.Join(dir, "storenode-"+hex.EncodeToString(sum[:6]))
	tmp, err := os.CreateTemp(dir, ".storenode-*")
	if err != nil {
		return "", fmt.Errorf("create a file in %s for the storenode binary: %w", dir, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool(), "build", "-o", tmp.Name(), StorenodePkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %w\n%s\n(or set %s to a storenode binary)", StorenodePkg, wd, err, strings.TrimSpace(string(msg)), StorenodeEnv)
	}
	// Rename is atomic: a concurrent test binary, or a node still running
	// the previous binary, is not disturbed.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("install the storenode binary at %s: %w", out, err)
	}
	return out, nil
}

// goTool is the go command of the toolchain that built the test, else
// the one on PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}
