package refstore_test

import (
	"os"
	"testing"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/reftest"

	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/harness/systemtest"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
)

// The reference store passes the conformance suite every System must, in
// each of its modes.
func TestConformance(t *testing.T) {
	bin := testbin.Storenode(t)
	for _, mode := range []store.Mode{store.Strong, store.Causal, store.Eventual} {
		t.Run(string(mode), func(t *testing.T) {
			sys, err := refstore.New(bin, mode, nil)
			if err != nil {
				t.Fatal(err)
			}
			systemtest.Run(t, systemtest.Config{System: sys, Backend: conformanceBackend(t)})
		})
	}
}

// conformanceBackend is the local backend, or docker when
// FAULTLINE_BACKEND=docker asks for it.
func conformanceBackend(t *testing.T) harness.Backend {
	if os.Getenv(reftest.BackendEnv) == "docker" {
		return reftest.Backend(t)
	}
	return nil // systemtest's default: local
}
