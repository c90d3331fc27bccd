package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Bad etcd flags are usage errors (exit 3) that say what was wrong,
// before any cluster starts or any build begins.
func TestEtcdFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown system", []string{"run", "--system", "zookeeper"}, `unknown system "zookeeper"`},
		{"local backend", []string{"run", "--system", "etcd", "--backend", "local"}, "cluster ID mismatch"},
		{"store mode", []string{"run", "--system", "etcd", "--mode", "causal"}, "--mode configures the reference store"},
		{"store faults", []string{"run", "--system", "etcd", "--faults", "stale-reads"}, "etcd has none"},
		{"serializable store", []string{"run", "--serializable"}, "--system etcd"},
		{"compare local", []string{"compare", "--systems", "store,etcd", "--backend", "local"}, "cluster ID mismatch"},
		{"compare unknown", []string{"compare", "--systems", "store,zk"}, `unknown system "zk"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			assert.Equal(t, 3, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}
