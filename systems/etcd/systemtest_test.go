package etcd

import (
	"testing"

	"github.com/faultline/faultline/harness/systemtest"
)

// etcd passes the conformance suite every System must, on each backend.
func TestConformance(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := be.get(t)
			sys, err := New(testBinary(t), Config{})
			if err != nil {
				t.Fatal(err)
			}
			systemtest.Run(t, systemtest.Config{System: sys, Backend: b})
		})
	}
}
