package main

import (
	"testing"
	"time"

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
		{"store mode", []string{"run", "--system", "etcd", "--mode", "causal"}, "--mode configures the reference store"},
		{"store faults", []string{"run", "--system", "etcd", "--faults", "stale-reads"}, "etcd has none"},
		{"clock", []string{"run", "--system", "etcd", "--nemesis", "all"}, "--nemesis partition,kill,pause,packet"},
		{"serializable store", []string{"run", "--serializable"}, "--system etcd"},
		{"compare unknown", []string{"compare", "--systems", "store,zk"}, `unknown system "zk"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			assert.Equal(t, 3, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// etcd's rows: linearizable and serializable reads, no clock cell (etcd
// has no clock API), "all" without clock.
func TestCompareCellsWithEtcd(t *testing.T) {
	cells, err := parseCompareCells(compareFlags{systems: "store,etcd", modes: "strong", workloads: "kv", nemeses: "none,clock,all",
		timeLimit: time.Second, nemesisInterval: time.Second, concurrency: 1, nodes: 3, format: "text"})
	assert.NoError(t, err)
	var got []string
	for _, c := range cells {
		got = append(got, c.mode+"/"+c.nemesis)
	}
	assert.ElementsMatch(t, []string{
		"etcd-linearizable/none", "etcd-linearizable/all", "etcd-serializable/none", "etcd-serializable/all",
		"strong/none", "strong/clock", "strong/all",
	}, got)
	assert.Equal(t, []string{"partition", "kill", "pause", "packet"}, etcdFaults([]string{"partition", "kill", "pause", "clock", "packet"}))
}
