// Package systemtest is the conformance suite of a harness.System: what
// any system under test must do for faultline's verdicts about it to mean
// anything. A system's author runs it from their own _test.go:
//
//	func TestConformance(t *testing.T) {
//		systemtest.Run(t, systemtest.Config{System: &mysys.System{Bin: systemtest.BuildStatic(t, "example.com/mysys/cmd/node")}})
//	}
//
// On one real cluster, in order, it checks that: the nodes start and
// answer Ready; a write and a read are ok and the read sees the write; a
// cas (when the system promises cas) is ok when it matches and fail
// "mismatch" when it does not; every node can be read from (the final
// reads); a write to a killed node is fail (it cannot have been applied);
// a write to a paused node that times out is info (it may have been); the
// nodes restart on their data (everything acknowledged before every node
// was killed is read back); Close leaves no node answering.
//
// The checks are what the checkers rely on: a client that calls a
// possibly-applied write fail makes the linearizable checker report
// anomalies that never happened; one that calls every error info hides
// nothing but drowns the checker in unknowns.
package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/backends"
	"github.com/faultline/faultline/harness/nodebin"
	"github.com/faultline/faultline/history"
)

// Config says which system to test, and where.
type Config struct {
	System harness.System
	// Backend starts the cluster; nil: the one $FAULTLINE_BACKEND names
	// (local or docker; harness/backends.FromEnv), else local.
	Backend harness.Backend
	// Nodes is the cluster size; default 3.
	Nodes int
	// Converge bounds how long a write may take to be visible on every
	// node (replication, a restarted node catching up); default 10s.
	Converge time.Duration
	// OpTimeout bounds one operation; default 3s. A write to a paused
	// node is given this long before it must come back info.
	OpTimeout time.Duration
}

// Run runs the conformance checks as subtests of t; a failed check stops
// the ones after it (they build on it). It fails t when a check fails.
func Run(t *testing.T, c Config) {
	t.Helper()
	if c.System == nil {
		t.Fatal("systemtest: Config.System is nil")
	}
	if c.Backend == nil {
		b, err := backends.FromEnv(context.Background(), "local", backends.Options{})
		if err != nil {
			t.Fatalf("systemtest: %v", err)
		}
		c.Backend = b
		if cl, ok := b.(io.Closer); ok { // docker's holds a client of the daemon
			t.Cleanup(func() { cl.Close() })
		}
	}
	if c.Nodes <= 0 {
		c.Nodes = 3
	}
	if c.Converge <= 0 {
		c.Converge = 10 * time.Second
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 3 * time.Second
	}
	s := &suite{Config: c}
	if p, ok := c.System.(harness.Promiser); ok {
		s.cas = p.Promise().CAS
	}
	defer s.close(t)
	t.Cleanup(func() {
		if s.dir == "" {
			return
		}
		if t.Failed() {
			t.Logf("systemtest: node logs and data kept in %s", s.dir)
		} else {
			os.RemoveAll(s.dir)
		}
	})
	for _, step := range []struct {
		name string
		f    func(t *testing.T)
	}{
		{"nodes start and answer Ready", s.start},
		{"write and read are ok", s.writeRead},
		{"cas matches or fails with mismatch", s.casOutcomes},
		{"every node can be read from", s.readEveryNode},
		{"a write to a killed node is fail", s.killedIsFail},
		{"a write to a paused node that times out is info", s.pausedIsInfo},
		{"nodes restart on their data", s.restartOnData},
		{"Close leaves nothing running", s.closeLeavesNothing},
	} {
		if !t.Run(step.name, step.f) {
			t.Fatalf("systemtest: %q failed; the checks after it need it", step.name)
		}
	}
}

type suite struct {
	Config
	cas     bool
	cluster harness.Cluster
	nodes   []harness.Node
	closed  bool
	dir     string          // the cluster's directory: node logs and data
	last    json.RawMessage // the value of key "st/a" after the last ok write
}

func (s *suite) close(t *testing.T) {
	if s.cluster != nil && !s.closed {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.cluster.Close(ctx); err != nil {
			t.Errorf("systemtest: close the cluster: %v", err)
		}
		s.closed = true
	}
}

func (s *suite) start(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runID := fmt.Sprintf("systemtest-%s-%d", s.System.Name(), time.Now().UnixNano())
	// The nodes' logs and data stay when a check fails.
	dir, err := os.MkdirTemp("", "faultline-systemtest-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	cl, err := s.Backend.Start(ctx, s.System, harness.ClusterSpec{RunID: runID, Nodes: s.Nodes, Dir: dir})
	if err != nil {
		t.Fatalf("start %d nodes of %s on the %s backend: %v", s.Nodes, s.System.Name(), s.Backend.Name(), err)
	}
	s.cluster, s.nodes = cl, cl.Nodes()
	if len(s.nodes) != s.Nodes {
		t.Fatalf("the cluster has %d nodes, want %d", len(s.nodes), s.Nodes)
	}
	for _, n := range s.nodes {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.System.Ready(rctx, n)
		cancel()
		if err != nil {
			t.Fatalf("node %s (%s) is not Ready: %v", n.ID, n.ClientAddr, err)
		}
	}
}

// invoke performs op through a new client on nodes[node].
func (s *suite) invoke(t *testing.T, node int, op harness.Op) harness.Completion {
	t.Helper()
	c, err := s.System.NewClient(s.nodes, node)
	if err != nil {
		t.Fatalf("NewClient(nodes, %d): %v", node, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), s.OpTimeout)
	defer cancel()
	op.Node = node
	return c.Invoke(ctx, op)
}

func write(key string, v int) harness.Op {
	return harness.Op{F: history.FWrite, Key: key, Value: json.RawMessage(fmt.Sprint(v))}
}

func read(key string) harness.Op {
	return harness.Op{F: history.FRead, Key: key, Value: history.Null}
}

// awaitRead reads key on nodes[node] until it reads want (compared as the
// history compares values) or Converge passes.
func (s *suite) awaitRead(t *testing.T, node int, key string, want json.RawMessage) {
	t.Helper()
	deadline := time.Now().Add(s.Converge)
	var last harness.Completion
	for time.Now().Before(deadline) {
		last = s.invoke(t, node, read(key))
		if last.Type == history.OK && history.Canonical(last.Value) == history.Canonical(want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("read %s on %s: want ok %s within %s, last got %s", key, s.nodes[node].ID, want, s.Converge, describe(last))
}

func describe(c harness.Completion) string {
	d := string(c.Type)
	if c.Value != nil {
		d += " " + string(c.Value)
	}
	if c.Error != "" {
		d += " (" + c.Error + ")"
	}
	return d
}

func (s *suite) mustOK(t *testing.T, node int, op harness.Op) {
	t.Helper()
	if c := s.invoke(t, node, op); c.Type != history.OK {
		t.Fatalf("%s %s %s on %s: want ok on a healthy cluster, got %s", op.F, op.Key, op.Value, s.nodes[node].ID, describe(c))
	}
}

func (s *suite) writeRead(t *testing.T) {
	if c := s.invoke(t, 0, read("st/absent")); c.Type != history.OK || history.Canonical(c.Value) != "null" {
		t.Errorf("read of a key never written: want ok null, got %s", describe(c))
	}
	s.mustOK(t, 0, write("st/a", 1))
	s.last = json.RawMessage("1")
	s.awaitRead(t, 0, "st/a", s.last)
}

func (s *suite) casOutcomes(t *testing.T) {
	if !s.cas {
		t.Skipf("%s does not promise cas (harness.Promise)", s.System.Name())
	}
	cas := func(exp, v int) harness.Op {
		return harness.Op{F: history.FCAS, Key: "st/a", Value: json.RawMessage(fmt.Sprintf("[%d,%d]", exp, v))}
	}
	s.mustOK(t, 0, cas(1, 2))
	s.last = json.RawMessage("2")
	if c := s.invoke(t, 0, cas(1, 3)); c.Type != history.Fail || c.Error != history.ErrorMismatch {
		t.Fatalf("cas [1,3] on a key holding 2: want fail %q, got %s", history.ErrorMismatch, describe(c))
	}
	s.awaitRead(t, 0, "st/a", s.last)
}

func (s *suite) readEveryNode(t *testing.T) {
	for i := range s.nodes {
		s.awaitRead(t, i, "st/a", s.last)
	}
	// One client moved from node to node with Use, as final reads do.
	c, err := s.System.NewClient(s.nodes, 0)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer c.Close()
	for i := range s.nodes {
		c.Use(i)
		ctx, cancel := context.WithTimeout(context.Background(), s.OpTimeout)
		got := c.Invoke(ctx, harness.Op{F: history.FRead, Key: "st/a", Value: history.Null, Node: i, Final: true})
		cancel()
		if got.Type != history.OK {
			t.Errorf("after Use(%d), read st/a: want ok, got %s", i, describe(got))
		}
	}
}

func (s *suite) killedIsFail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	last := len(s.nodes) - 1
	id := s.nodes[last].ID
	if err := s.cluster.Kill(ctx, id); err != nil {
		t.Fatalf("Kill(%s): %v", id, err)
	}
	defer func() {
		if err := s.cluster.Restart(ctx, id); err != nil {
			t.Errorf("Restart(%s) after kill: %v", id, err)
		}
	}()
	if c := s.invoke(t, last, write("st/killed", 1)); c.Type != history.Fail {
		t.Errorf("write to killed node %s: want fail (no process listens, so nothing was sent), got %s", id, describe(c))
	}
}

func (s *suite) pausedIsInfo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The node killed before has restarted: wait until it serves.
	for _, n := range s.nodes {
		if err := s.System.Ready(ctx, n); err != nil {
			t.Fatalf("node %s not Ready after its restart: %v", n.ID, err)
		}
	}
	last := len(s.nodes) - 1
	id := s.nodes[last].ID
	if err := s.cluster.Pause(ctx, id); err != nil {
		t.Fatalf("Pause(%s): %v", id, err)
	}
	c := s.invoke(t, last, write("st/paused", 1))
	if err := s.cluster.Resume(ctx, id); err != nil {
		t.Errorf("Resume(%s): %v", id, err)
	}
	if c.Type != history.Info {
		t.Errorf("write to paused node %s: want info (the request reached a node that may apply it later), got %s", id, describe(c))
	}
}

func (s *suite) restartOnData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range s.nodes {
		if err := s.System.Ready(ctx, n); err != nil {
			t.Fatalf("node %s not Ready: %v", n.ID, err)
		}
	}
	s.mustOK(t, 0, write("st/b", 7))
	// Every node goes down, so what is read afterwards can only come from
	// what the nodes kept on disk.
	for _, n := range s.nodes {
		if err := s.cluster.Kill(ctx, n.ID); err != nil {
			t.Fatalf("Kill(%s): %v", n.ID, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.nodes))
	for i, n := range s.nodes {
		wg.Add(1)
		go func() { // together: a node may wait for a quorum to start
			defer wg.Done()
			errs[i] = s.cluster.Restart(ctx, n.ID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Restart(%s): %v", s.nodes[i].ID, err)
		}
	}
	for _, n := range s.nodes {
		if err := s.System.Ready(ctx, n); err != nil {
			t.Fatalf("node %s not Ready after a restart: %v", n.ID, err)
		}
	}
	for i := range s.nodes {
		s.awaitRead(t, i, "st/b", json.RawMessage("7"))
		s.awaitRead(t, i, "st/a", s.last)
	}
}

func (s *suite) closeLeavesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.closed = true
	if err := s.cluster.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// A node still serving would answer Ready. (A bare TCP connect proves
	// nothing: on some hosts a proxy accepts connections to any address.)
	for _, n := range s.nodes {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.System.Ready(rctx, n)
		cancel()
		if err == nil {
			t.Errorf("node %s still answers Ready on %s after Close", n.ID, n.ClientAddr)
		}
	}
}

// BuildStatic builds the main package pkg (an import path, or a path
// starting with ./ relative to the test's directory) once per test binary,
// statically linked (CGO_ENABLED=0: the docker backend packs the binary
// into a FROM-scratch image), and returns the binary's path, in the user's
// cache directory (see harness/nodebin.Build). It fails t when the build
// fails.
func BuildStatic(t testing.TB, pkg string) string {
	t.Helper()
	name := strings.Trim(strings.NewReplacer("/", "_", ".", "_").Replace(pkg), "_")
	p, err := nodebin.Build(pkg, name)
	if err != nil {
		t.Fatalf("systemtest: %v", err)
	}
	return p
}
