package etcd

import (
	"testing"

	"github.com/faultline/faultline/harness/systemtest"
)

// etcd passes the conformance suite every System must, on the docker
// backend (the local backend cannot host it: README.md).
func TestConformance(t *testing.T) {
	b := dockerBackend(t)
	sys, err := New(testBinary(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	systemtest.Run(t, systemtest.Config{System: sys, Backend: b})
}
