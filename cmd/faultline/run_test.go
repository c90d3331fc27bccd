package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/testbin"
)

func TestMain(m *testing.M) {
	// The signal tests run this test binary as the faultline command
	// (cliBinary), which spares them a build of their own.
	if os.Getenv("FAULTLINE_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(testbin.Main(m))
}

// cliCommand returns a command that runs faultline with args, in a child
// process: this test binary, acting as main.
func cliCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FAULTLINE_TEST_AS_CLI=1")
	return cmd
}

// runCLI runs the faultline command in-process and returns its exit code
// (as main would) and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 3
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func TestRunBadInput(t *testing.T) {
	sn := testbin.Storenode(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"mode", []string{"--mode", "linear"}, "strong, causal, eventual"},
		{"model", []string{"--model", "strong"}, `--model: unknown model "strong": valid models are linearizable, causal, causal+, eventual`},
		{"workload", []string{"--workload", "queue"}, "register, kv, set"},
		{"nemesis", []string{"--nemesis", "meteor"}, "partition, kill, pause, clock, packet"},
		{"backend", []string{"--backend", "k8s"}, "docker, local"},
		{"faults", []string{"--faults", "oops"}, "stale-reads"},
		{"nodes", []string{"--nodes", "0"}, "at least 1"},
		{"key-ops", []string{"--key-ops", "0"}, "--key-ops must be at least 1 (or -1"},
		{"key-unknown", []string{"--key-unknown", "-3"}, "--key-unknown must be at least 1 (or -1"},
		{"check-timeout", []string{"--check-timeout", "-1s"}, "--check-timeout must be >= 0 (0: none but the run's own 10 minutes), like 10m, not -1s"},
		{"search-memory", []string{"--search-memory", "0"}, `"0" is not a size: give a positive number of bytes`},
		{"storenode", []string{"--storenode", "/nonexistent/storenode"}, "make build"},
		{"nats workload", []string{"--system", "nats", "--workload", "kv"}, "runs the set workload only"},
		{"nats mode", []string{"--system", "nats", "--workload", "set", "--mode", "causal"}, "NATS is configured with --nats-sync"},
		{"nats faults", []string{"--system", "nats", "--workload", "set", "--faults", "stale-reads"}, "NATS has none"},
		{"nats-sync without nats", []string{"--nats-sync", "always"}, "use them with --system nats"},
		{"nats-sync bad", []string{"--system", "nats", "--workload", "set", "--nats-sync", "sometimes"}, `--nats-sync: nats: sync interval "sometimes": want "always"`},
		{"power-names", []string{"--nemesis", "power", "--power-names", "lenient"}, "want strict"},
		{"system", []string{"--system", "kafka"}, "store (the reference store), etcd and nats"},
		{"quiet-period negative", []string{"--quiet-period", "-1s"}, "--quiet-period must be positive, like 3s, not -1s"},
		{"base-port negative", []string{"--base-port", "-5"}, "--base-port must be 0 (free ports) or a port from 1 to 65530 for 3 nodes, not -5"},
		{"base-port past 65535", []string{"--base-port", "65535"}, "--base-port 65535: 3 nodes listen on ports 65535..65540, past 65535: give 0 (free ports) or a port from 1 to 65530"},
		{"partitions without partition", []string{"--nemesis", "kill", "--partitions", "majority"}, "use it with partition in --nemesis"},
		{"packet-modes without packet", []string{"--packet-modes", "loss"}, "use it with packet in --nemesis"},
		{"power-names without power", []string{"--nemesis", "kill", "--power-names", "kept"}, "use it with power in --nemesis"},
		{"key-ops with kv", []string{"--key-ops", "5"}, "use them with --workload register (now kv)"},
		{"key-unknown with set", []string{"--workload", "set", "--key-unknown", "5"}, "use them with --workload register (now set)"},
		{"etcd-version without etcd", []string{"--etcd-version", "3.5.0"}, "configure etcd: use them with --system etcd"},
		{"etcd-binary without etcd", []string{"--etcd-binary", "/bin/true"}, "configure etcd: use them with --system etcd"},
		{"model with set", []string{"--mode", "eventual", "--model", "linearizable", "--workload", "set"}, "--model linearizable: the set workload is judged by the set checker"},
		{"partition on one node", []string{"--nodes", "1", "--nemesis", "partition"}, "partition needs at least 2 nodes"},
		{"all on one node", []string{"--nodes", "1", "--nemesis", "all"}, "partition needs at least 2 nodes"},
		{"none with a fault", []string{"--nemesis", "none,kill"}, "none means no faults and cannot be combined with others"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"run", "--backend", "local", "--storenode", sn, "--out", out}, tc.args...)
			code, _, stderr := runCLI(t, args...)
			assert.Equal(t, 3, code)
			assert.Contains(t, stderr, tc.want)
			entries, _ := os.ReadDir(out)
			assert.Empty(t, entries, "nothing started, nothing written")
		})
	}
}

func TestRunDockerWithoutDaemon(t *testing.T) {
	// Pretend no daemon answers: this machine may have one.
	saved := dockerAvailable
	dockerAvailable = func(context.Context) bool { return false }
	t.Cleanup(func() { dockerAvailable = saved })
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--backend", "docker", "--storenode", testbin.Storenode(t), "--out", out)
	assert.Equal(t, 3, code)
	assert.Contains(t, stderr, "no Docker daemon answers")
	assert.Contains(t, stderr, "--backend local")
}

// --base-port places the local backend's nodes: with docker, chosen or
// defaulted to (a daemon answers), it is refused before anything starts.
func TestRunBasePortWithDocker(t *testing.T) {
	saved := dockerAvailable
	dockerAvailable = func(context.Context) bool { return true }
	t.Cleanup(func() { dockerAvailable = saved })
	for _, backend := range []string{"docker", ""} {
		out := t.TempDir()
		args := []string{"run", "--storenode", testbin.Storenode(t), "--out", out, "--base-port", "20000"}
		if backend != "" {
			args = append(args, "--backend", backend)
		}
		code, _, stderr := runCLI(t, args...)
		assert.Equal(t, 3, code, stderr)
		assert.Contains(t, stderr, "--base-port 20000: it places the local backend's nodes")
		entries, _ := os.ReadDir(out)
		assert.Empty(t, entries, "nothing started")
	}
}

func TestRunLocalEndToEnd(t *testing.T) {
	// No --backend and no daemon: the run falls back to local and says so.
	saved := dockerAvailable
	dockerAvailable = func(context.Context) bool { return false }
	t.Cleanup(func() { dockerAvailable = saved })
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--storenode", testbin.Storenode(t),
		"--out", out, "--mode", "strong", "--workload", "register", "--time-limit", "2s",
		"--quiet-period", "200ms", "--concurrency", "4", "--seed", "7")
	t.Log(stdout, stderr)
	assert.Contains(t, stderr, `msg="backend chosen" backend=local why="no Docker daemon answers"`)
	assert.Contains(t, stdout, "run directory: "+filepath.Join(out, "strong-register-none"))
	assert.Contains(t, stdout, "seed 7, backend local")
	if strings.Contains(stdout, "could not be checked") {
		assert.Equal(t, 2, code, "no checkers: unknown, never a faked verdict")
	} else {
		assert.Contains(t, stdout, "linearizable:")
		assert.Equal(t, 0, code, "a fault-free strong register is linearizable")
	}
	h, err := history.ReadFile(filepath.Join(out, "latest", "history.jsonl"))
	require.NoError(t, err)
	assert.NotEmpty(t, h.Events)
	assert.FileExists(t, filepath.Join(out, "latest", "report.html"), "the CLI asks for the report")
	var meta map[string]any
	b, err := os.ReadFile(filepath.Join(out, "latest", "test.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &meta))
	assert.Equal(t, "strong", meta["mode"], "test.json keeps the mode")
	assert.Equal(t, "linearizable", meta["model"], "and says the model checked: the one strong promises")
}

// TestRunInterruptStopsNodes runs the real faultline binary and sends it
// SIGINT, or SIGHUP as a closed terminal does: it must stop, leave a
// readable history and no node behind.
func TestRunInterruptStopsNodes(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) { testRunInterruptStopsNodes(t, sig) })
	}
}

func testRunInterruptStopsNodes(t *testing.T, sig syscall.Signal) {
	out := t.TempDir()
	cmd := cliCommand("run", "--backend", "local", "--storenode", testbin.Storenode(t),
		"--out", out, "--mode", "strong", "--workload", "kv", "--time-limit", "5m", "--concurrency", "3")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Wait until it records ops.
	require.Eventually(t, func() bool {
		st, err := os.Stat(filepath.Join(out, "latest", "history.jsonl"))
		return err == nil && st.Size() > 10000
	}, 60*time.Second, 100*time.Millisecond)
	dir, err := filepath.EvalSymlinks(filepath.Join(out, "latest"))
	require.NoError(t, err)
	require.NotEmpty(t, nodeProcs(dir), "nodes run")

	require.NoError(t, cmd.Process.Signal(sig))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("faultline did not stop after %s", sig)
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "an interrupted run never exits 0: %s", stdout.String())
	assert.Equal(t, exitInterrupted, ee.ExitCode(), "interrupted runs exit with their own code: %s", stdout.String())
	assert.Contains(t, stdout.String(), "interrupted")
	assert.Contains(t, stdout.String(), "verdict:", "what was recorded is still checked")
	assert.Empty(t, nodeProcs(dir), "no node left after the interrupt")
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	require.NoError(t, err)
	assert.NotEmpty(t, h.Events)
	var meta map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "test.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &meta))
	assert.Equal(t, true, meta["interrupted"])
}

// Ctrl-C or SIGTERM while the nodes start (here: a storenode that never
// answers) is an interrupt, not a cluster failure: exit 130, a message
// that says nothing was recorded, no node log dump, test.json interrupted.
func TestRunInterruptedWhileStarting(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			never := filepath.Join(t.TempDir(), "storenode")
			require.NoError(t, os.WriteFile(never, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755))
			cmd := cliCommand("run", "--backend", "local", "--storenode", never, "--out", out, "--time-limit", "5s", "--nodes", "1")
			var output bytes.Buffer
			cmd.Stdout, cmd.Stderr = &output, &output
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			require.Eventually(t, func() bool {
				_, err := os.Stat(filepath.Join(out, "latest", "test.json"))
				return err == nil
			}, 30*time.Second, 50*time.Millisecond)
			dir, err := filepath.EvalSymlinks(filepath.Join(out, "latest"))
			require.NoError(t, err)
			time.Sleep(300 * time.Millisecond) // the node is starting
			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("faultline did not stop")
			}
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, output.String())
			assert.Equal(t, exitInterrupted, ee.ExitCode(), output.String())
			assert.Contains(t, output.String(), "interrupted while the cluster started: nothing was recorded")
			assert.NotContains(t, output.String(), "is not ready", "not a cluster failure")
			assert.NotContains(t, output.String(), "its log", "no node log dump")
			var meta map[string]any
			raw, err := os.ReadFile(filepath.Join(dir, "test.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &meta))
			assert.Equal(t, true, meta["interrupted"])
			assert.NotEmpty(t, meta["end"])
		})
	}
}

// A closed stdout and stderr (faultline run 2>&1 | head) must not kill
// the command: Go raises SIGPIPE on a broken pipe on fd 1 or 2 unless it
// is caught. The run goes on to its end, stops its nodes and checks.
func TestBrokenPipeDoesNotKill(t *testing.T) {
	sn := testbin.Storenode(t)
	checked := checkRunDir(t, validKV(), []string{"linearizable"})
	for _, tc := range []struct {
		name    string
		args    []string
		results func(out string) string
	}{
		{"run", []string{"run", "--backend", "local", "--storenode", sn, "--mode", "strong", "--workload", "kv",
			"--time-limit", "1s", "--concurrency", "2", "--quiet-period", "100ms"},
			func(out string) string { return filepath.Join(out, "latest", "results.json") }},
		{"check", []string{"check", checked}, func(string) string { return filepath.Join(checked, "results.json") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := tc.args
			if tc.name == "run" {
				args = append(args, "--out", out)
			}
			r, w, err := os.Pipe()
			require.NoError(t, err)
			require.NoError(t, r.Close()) // the reader is gone before the first write
			cmd := cliCommand(args...)
			cmd.Stdout, cmd.Stderr = w, w
			require.NoError(t, cmd.Start())
			w.Close()
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(90 * time.Second):
				t.Fatal("faultline did not finish")
			}
			require.NoError(t, err, "finishes and exits 0 (valid), not killed by SIGPIPE")
			assert.FileExists(t, tc.results(out), "checked")
			if tc.name == "run" {
				dir, err := filepath.EvalSymlinks(filepath.Join(out, "latest"))
				require.NoError(t, err)
				assert.Empty(t, nodeProcs(dir), "nodes stopped")
			}
		})
	}
}

// nodeProcs returns the pids of processes whose command line mentions dir.
func nodeProcs(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), dir) && strings.Contains(string(b), "storenode") {
			st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if s := string(st); strings.Contains(s, ") Z ") {
				continue // a zombie is dead
			}
			out = append(out, e.Name())
		}
	}
	return out
}

// TestRunKilledLeavesReadableHistoryAndNoNodes SIGKILLs the real faultline
// binary mid-run: the history written so far must be readable (at most a
// torn last line skipped) and the nodes must die with it (parent-death
// signal).
func TestRunKilledLeavesReadableHistoryAndNoNodes(t *testing.T) {
	out := t.TempDir()
	cmd := cliCommand("run", "--backend", "local", "--storenode", testbin.Storenode(t),
		"--out", out, "--mode", "strong", "--workload", "kv", "--time-limit", "5m", "--concurrency", "3")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	require.Eventually(t, func() bool {
		st, err := os.Stat(filepath.Join(out, "latest", "history.jsonl"))
		return err == nil && st.Size() > 20000
	}, 60*time.Second, 100*time.Millisecond)
	dir, err := filepath.EvalSymlinks(filepath.Join(out, "latest"))
	require.NoError(t, err)
	require.NotEmpty(t, nodeProcs(dir))

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	assert.Eventually(t, func() bool { return len(nodeProcs(dir)) == 0 }, 5*time.Second, 50*time.Millisecond,
		"nodes die with a SIGKILLed harness")
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	require.NoError(t, err)
	assert.NotEmpty(t, h.Events)
	assert.LessOrEqual(t, len(h.Warnings), 1)
}

func TestProgressPrinter(t *testing.T) {
	var buf bytes.Buffer
	p := &progressPrinter{w: &buf, tty: true}
	p.print(harness.Progress{Phase: "main", Elapsed: 3 * time.Second, Total: 30 * time.Second, OpsPerSec: 412, OK: 10, Fail: 2, Info: 1, ActiveFault: "partition"})
	p.done()
	assert.Equal(t, "\r\033[K[main] 3s/30s  412 ops/s  ok 10  fail 2  info 1  fault: partition\n", buf.String())

	// A log line clears the progress line first.
	buf.Reset()
	p.print(harness.Progress{Phase: "heal"})
	p.logWriter().Write([]byte("a log line\n"))
	assert.Equal(t, "\r\033[K[heal] 0s/0s  0 ops/s  ok 0  fail 0  info 0  fault: none\r\033[Ka log line\n", buf.String())

	buf.Reset()
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p = &progressPrinter{w: &buf, log: log}
	p.print(harness.Progress{Phase: "main", OK: 1})
	p.print(harness.Progress{Phase: "main", OK: 2}) // within 5s: skipped
	p.done()
	assert.Equal(t, 1, strings.Count(buf.String(), "msg=progress"), buf.String())
	assert.NotContains(t, buf.String(), "\r")
}

func TestPowerNamesDefaultPerSystem(t *testing.T) {
	tests := []struct {
		flag    string
		isStore bool
		keep    bool
	}{
		{"", true, false}, // the store fsyncs its directories: strict tests that
		{"", false, true}, // others: Jepsen lazyfs's model
		{"strict", false, false},
		{"kept", true, true},
	}
	for _, tc := range tests {
		got, err := powerNames(tc.flag, tc.isStore)
		require.NoError(t, err)
		assert.Equal(t, tc.keep, got, "--power-names %q, store %v", tc.flag, tc.isStore)
	}
}
