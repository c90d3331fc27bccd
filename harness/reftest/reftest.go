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
//			Test: harness.Test{Workload: workloads.KV(), TimeLimit: 30 * time.Second,
//				Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition"}})},
//			Expect: harness.Expect{"linearizable": checkers.Valid},
//		})
//	}
//
// It is its own package because harness cannot import the packages that
// implement its interfaces (refstore, local, docker import harness).
package reftest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/backends"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/harness/nodebin"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/results"
	"github.com/faultline/faultline/store"
)

// Environment variables that override the defaults.
const (
	// BackendEnv forces a backend: "local" or "docker" (backends.Env,
	// which harnesstest.Run and systemtest.Run read too).
	BackendEnv = backends.Env
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
	if test.Name == "" && test.Workload != nil {
		nem := "none"
		if test.Nemesis != nil {
			nem = test.Nemesis.Name()
		}
		test.Name = fmt.Sprintf("%s-%s-%s", c.Mode, test.Workload.Name(), nem)
	}
	// The store fsyncs every directory it changes: strict names test that.
	test.PowerStrictNames = true
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
		for k, v := range sys.Options() {
			opts[k] = v
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
	v := os.Getenv(BackendEnv)
	name, _, err := backends.Resolve(ctx, v, backends.Options{})
	if err != nil {
		return "", fmt.Errorf("%s=%q: valid values are local and docker (unset: docker when a Docker daemon answers, else local)", BackendEnv, v)
	}
	return name, nil
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
	if name == "" {
		return nil, errors.New("unknown backend \"\": valid backends are local and docker")
	}
	return backends.New(context.Background(), name, backends.Options{Logger: log,
		Hint: "set " + BackendEnv + "=local to run nodes as local processes"})
}

// Storenode returns the storenode binary: $FAULTLINE_STORENODE when set,
// else StorenodePkg built once per test binary with `go build`
// (CGO_ENABLED=0, static, as the docker backend needs) into
// <user cache dir>/faultline/bin (see harness/nodebin). It fails t when
// the build fails.
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
	return nodebin.Find(nodebin.Spec{Name: "storenode", Env: StorenodeEnv, Pkg: StorenodePkg, NoSearch: true})
}
