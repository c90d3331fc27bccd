package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/harnesstest"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/systems/etcd"
	"github.com/faultline/faultline/workloads"
)

// etcd is judged as a real system nobody here wrote: with linearizable
// reads it must be linearizable under every nemesis, and with
// serializable reads the linearizable checker must catch the stale read
// of a node that a partition cut off.

// EtcdEnv names a prebuilt etcd binary for the suites; unset, the cached
// build of the default version is used (built on first use).
const EtcdEnv = "FAULTLINE_ETCD"

var (
	etcdOnce sync.Once
	etcdBin  etcd.Binary
	etcdErr  error
)

func etcdBinary(t *testing.T) etcd.Binary {
	t.Helper()
	etcdOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		etcdBin, etcdErr = etcd.EnsureBinary(ctx, etcd.BinaryOptions{Binary: os.Getenv(EtcdEnv)})
	})
	require.NoError(t, etcdErr)
	return etcdBin
}

// etcdBackend is docker, where these cases' seeds and catch rates were
// measured (suites/README.md); systems/etcd tests the local backend.
// Without a daemon the etcd cases skip, except under CI=true, where docker
// must be tested.
func etcdBackend(t *testing.T) harness.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	up := docker.Available(ctx)
	cancel()
	if !up {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Docker daemon answers, and CI=true: the etcd suites need docker")
		}
		t.Skip("no Docker daemon answers: the etcd suites run on the docker backend")
	}
	b, err := docker.New(docker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// runEtcd runs test against etcd (serializable reads or not) with a seed
// whose nemesis schedule docker can apply and ok accepts.
func runEtcd(t *testing.T, serializable bool, test harness.Test, want harness.Expect, ok func(int, nemesis.Step) bool) harness.RunResult {
	t.Helper()
	sys, err := etcd.New(etcdBinary(t), etcd.Config{Serializable: serializable})
	require.NoError(t, err)
	test.System, test.Backend, test.Model = sys, etcdBackend(t), "linearizable"
	test.Options = sys.Options()
	if test.Name == "" {
		nem := "none"
		if test.Nemesis != nil {
			nem = test.Nemesis.Name()
		}
		reads := "linearizable"
		if serializable {
			reads = "serializable"
		}
		test.Name = fmt.Sprintf("etcd-%s-%s-%s", reads, test.Workload.Name(), nem)
	}
	prepared := harness.PrepareT(test, want, testing.Short())
	from := int64(1)
	if v := os.Getenv(SeedEnv); v != "" {
		var base int64
		_, err := fmt.Sscan(v, &base)
		require.NoError(t, err, "%s must be an integer", SeedEnv)
		from += base
	}
	supported := harness.SupportedBy("docker", false)
	test.Seed, err = harness.PickSeed(prepared, from, func(i int, st nemesis.Step) bool {
		return supported(i, st) && (ok == nil || ok(i, st))
	})
	require.NoError(t, err)
	return harnesstest.Run(t, test, want)
}

// With linearizable reads etcd is linearizable under every nemesis.
// (No clock cell: etcd has no clock API, and the harness refuses the
// clock nemesis for it rather than pretend.)
func TestEtcdLinearizable(t *testing.T) {
	cells := [][]string{{"partition"}, {"kill"}, {"pause"}, {"packet"}, {"partition", "kill", "pause", "packet"}, {"partition", "kill", "pause"}}
	if testing.Short() {
		cells = [][]string{{"partition", "kill", "pause"}}
	}
	for _, nem := range cells {
		name := nem[0]
		if len(nem) == 4 {
			name = "all"
		} else if len(nem) == 3 {
			name = "partition+kill+pause"
		}
		t.Run(name, func(t *testing.T) {
			runEtcd(t, false, harness.Test{
				Workload: workloads.KV(), Nemesis: nemesis.New(nemesis.Config{Faults: nem, Interval: interval}), TimeLimit: timeLimit,
			}, harness.Expect{"linearizable": checkers.Valid}, nil)
		})
	}
	t.Run("none", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short runs the partition+kill+pause cell")
		}
		runEtcd(t, false, harness.Test{Workload: workloads.KV(), TimeLimit: timeLimit},
			harness.Expect{"linearizable": checkers.Valid}, nil)
	})
}

// With serializable reads a node answers from its own state: a follower
// lags the leader's commits by a little even when nothing is wrong, and a
// node that a partition cut off (first, here) serves values the majority
// has overwritten for as long as the cut lasts. The linearizable checker
// must find it, with a read among the witnesses (the stale read; the log
// says which witnesses a cut-off node served).
func TestEtcdSerializableStaleReadCaught(t *testing.T) {
	res := runEtcd(t, true, harness.Test{
		Workload: workloads.KV(), TimeLimit: timeLimit,
		Nemesis: nemesis.New(nemesis.Config{Faults: []string{"partition"}, Partitions: []string{"one", "halves", "minority-third"}, Interval: interval}),
	}, harness.Expect{"linearizable": checkers.Invalid}, partitionFirst)
	if !res.Checked {
		return // harnesstest.Run has failed the test
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	require.NoError(t, err)
	cut := map[string]bool{}
	byIndex := map[int64]history.Event{}
	for _, e := range h.Events {
		byIndex[e.Index] = e
		if e.F == "start-partition" {
			for _, n := range cutOff(e.Value) {
				cut[n] = true
			}
		}
	}
	var reads, onCut int
	for _, r := range res.Summary.Results {
		if r.Checker != "linearizable" {
			continue
		}
		for _, a := range r.Anomalies {
			for _, i := range a.Ops {
				if e, ok := byIndex[i]; ok && e.F == history.FRead {
					reads++
					if cut[e.Node] {
						onCut++
					}
				}
			}
		}
	}
	require.NotZero(t, reads, "no witness of the linearizable violation is a read")
	t.Logf("witness reads: %d, of which %d served by a node a partition cut off", reads, onCut)
}

// cutOff returns the nodes a start-partition event's grudge leaves
// without a majority (they drop packets from at least half the cluster).
func cutOff(value json.RawMessage) []string {
	var v struct {
		Grudge map[string][]string `json:"grudge"`
	}
	if json.Unmarshal(value, &v) != nil {
		return nil
	}
	nodes := map[string]bool{}
	for n, drops := range v.Grudge {
		nodes[n] = true
		for _, d := range drops {
			nodes[d] = true
		}
	}
	var out []string
	for n, drops := range v.Grudge {
		if len(nodes)-len(drops) <= len(nodes)/2 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// etcd under whole-cluster power loss. Under Jepsen lazyfs's model
// (names kept, un-fsynced contents lost) it keeps every acknowledged
// write. Under strict POSIX names it does not: etcd never fsyncs the data
// directory it creates member/ in, so a cut takes member/ back and every
// node restarts as a new, empty member. The strict case is a finding of
// this suite, not a faultline bug (README, etcd section).
func TestEtcdPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: etcd's power-loss runs are in the full suite")
	}
	needFUSE(t)
	for _, tc := range []struct {
		name   string
		strict bool
		want   checkers.Validity
	}{
		{"names kept", false, checkers.Valid},
		{"strict names", true, checkers.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runEtcd(t, false, harness.Test{
				Workload: workloads.KV(), TimeLimit: timeLimit, PowerStrictNames: tc.strict,
				Nemesis: nemesis.New(nemesis.Config{Faults: []string{"power"}, Interval: interval}),
			}, harness.Expect{"linearizable": tc.want}, powerAllFirst)
		})
	}
}
