package suites

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/reftest"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// The soak: every fault at once (--nemesis all) with a short interval,
// for minutes, on each mode and both backends. Faults overlap and clash
// (a pause drawn on a killed node, a clock on a lossy one); the nemesis
// must resolve every clash by choosing other nodes or waiting, record
// what it could not apply, and never end the run; every check must end
// within its bound; and nothing may be left behind.

const (
	// soakTime is a soak case's main phase; -short runs soakShort
	// (divided by harness.ShortFactor: 20 s) on the local backend only.
	soakTime     = 5 * time.Minute
	soakShort    = 60 * time.Second
	soakInterval = 2 * time.Second // 1 s under -short
	// soakRate bounds the clients' total ops/s: with every node down or
	// cut off, strong mode fails ops in a tight loop (3,600 ops/s on the
	// local backend), and five minutes of that is a history to soak the
	// checker, not the faults.
	soakRate = 300
	// soakCheckBound bounds the linearizability search of a soak run: an
	// undecided key is unknown, which fails the case.
	soakCheckBound = time.Minute
)

// soakCases: the register workload in strong mode (one key at a time
// shared by every worker: the case whose unknown outcomes made checks
// explode before keys were bounded), kv in the others.
var soakCases = []struct {
	mode, workload, checker string
}{
	{"strong", "register", "linearizable"},
	{"causal", "kv", "causal+"},
	{"eventual", "kv", "eventual"},
}

func TestSoakAllFaults(t *testing.T) {
	backends := []string{"local", "docker"}
	if testing.Short() {
		backends = []string{"local"}
	}
	for _, bname := range backends {
		for _, c := range soakCases {
			t.Run(c.mode+"/"+bname, func(t *testing.T) {
				b := soakBackend(t, bname)
				tl := soakTime
				if testing.Short() {
					tl = soakShort
				}
				want := harness.Expect{c.checker: checkers.Valid}
				// What --nemesis all means: every fault but those that need
				// the data directories on lazyfs (power).
				all, err := nemesis.ParseSpec("all")
				require.NoError(t, err)
				// The packet faults each backend can apply here: the local
				// backend's proxies cannot duplicate or reorder, and this
				// machine's kernel has no netem for docker.
				packets := []string{"delay", "loss"}
				if bname == "docker" {
					packets = []string{"loss"}
				}
				wl, err := workloads.New(c.workload, workloads.Options{Search: checkers.Options{Timeout: soakCheckBound}})
				require.NoError(t, err)
				res := run(t, reftest.Case{
					Mode: c.mode, Test: harness.Test{
						Backend: b, Workload: wl, TimeLimit: tl, Rate: soakRate,
						Nemesis: nemesis.New(nemesis.Config{Faults: all, Interval: soakInterval, Packets: packets}),
					},
					Expect: want,
				}, nil)
				ns := res.Nemesis
				t.Logf("soak %s/%s/%s: %d ops (%d ok, %d fail, %d info); nemesis: %d started, %d stopped, %d failed, clashes resolved: %d by other nodes, %d by waiting; %d strobe flips failed",
					c.mode, c.workload, bname, res.Invoked, res.OK, res.Fail, res.Info,
					ns.Started, ns.Stopped, ns.Failed, ns.Moved, ns.Waited, ns.StrobeFailures)
				assert.Positive(t, ns.Started, "the nemesis started no fault")
				if !testing.Short() {
					// Every one of 2,000 seeds clashes within 5 minutes at a
					// 2 s interval; in 20 s at 1 s, 8% do not.
					assert.Positive(t, ns.Moved+ns.Waited, "no clash in a soak of every fault: the composition was not exercised")
				}
				if crashed := nodePanics(t, res.Dir); len(crashed) > 0 {
					// Not a harness failure and not in any verdict: the
					// store crashed by itself. The 5-minute soak fails on
					// it; the 20-second one only says so, so that make
					// test stays about the harness.
					report := t.Errorf
					if testing.Short() {
						report = t.Logf
					}
					report("a node crashed by itself during the soak (not a fault the nemesis injected): %s", strings.Join(crashed, "; "))
				}
				soakCheckCost(t, res.Dir, res.Checkers)
				if bname == "docker" {
					requireNoDockerLeft(t, res.Dir)
				}
				requireNoProcessLeft(t, res.Dir)
			})
		}
	}
}

// soakBackend returns the named backend; without a Docker daemon the
// docker cases skip, except in CI, which must cover docker.
func soakBackend(t *testing.T, name string) harness.Backend {
	t.Helper()
	if name == "docker" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		up := docker.Available(ctx)
		cancel()
		if !up {
			if os.Getenv("CI") == "true" {
				t.Fatal("no Docker daemon answers, and CI=true: the docker backend must be tested in CI")
			}
			t.Skip("no Docker daemon answers")
		}
	}
	b, err := reftest.NewBackend(name, nil)
	require.NoError(t, err)
	return b
}

// soakCheckCost checks the run's history again, alone, and logs what the
// check cost (wall time, bytes allocated): the figures of suites/README.md.
func soakCheckCost(t *testing.T, dir string, names []string) {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, e := range h.Events {
		if !e.IsNemesis() {
			keys[e.Key] = true
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	sum, err := checkers.CheckAll(context.Background(), h.Events, names, checkers.Options{Timeout: soakCheckBound})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	t.Logf("check of %d events, %d keys: %s in %v, %d MB allocated", len(h.Events), len(keys), sum.Valid, took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20)
	assert.Less(t, took, soakCheckBound, "the check ran past its bound")
}

// nodePanics returns, for each node log of the run in dir that holds a
// Go panic, the node and the panic's first line.
func nodePanics(t *testing.T, dir string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "nodes", "*.log"))
	require.NoError(t, err)
	var out []string
	for _, l := range logs {
		raw, err := os.ReadFile(l)
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "panic: ") {
				out = append(out, strings.TrimSuffix(filepath.Base(l), ".log")+": "+line)
				break
			}
		}
	}
	return out
}

// requireNoDockerLeft fails when a container, network or volume of the
// run in dir is left.
func requireNoDockerLeft(t *testing.T, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "test.json"))
	require.NoError(t, err)
	var meta struct{ Name, Start string }
	require.NoError(t, json.Unmarshal(raw, &meta))
	at, err := time.Parse(time.RFC3339Nano, meta.Start)
	require.NoError(t, err)
	// The run id the harness labels everything with: name and start.
	id := meta.Name + "-" + at.UTC().Format("20060102T150405.000Z")
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", docker.LabelRun+"="+id))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	require.NoError(t, err)
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	require.NoError(t, err)
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	require.NoError(t, err)
	require.Zero(t, len(cs)+len(ns)+len(vs.Volumes), "run %s left %d containers, %d networks, %d volumes", id, len(cs), len(ns), len(vs.Volumes))
}

// requireNoProcessLeft fails when a process still runs with the run
// directory on its command line (a local node keeps its data there).
func requireNoProcessLeft(t *testing.T, dir string) {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		if bytes.Contains(cmd, []byte(dir)) {
			t.Errorf("process %s is left: %s", filepath.Base(filepath.Dir(p)), bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		}
	}
}
