package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/internal/testbin"
)

// checkRunDir writes a run directory with history h and, when names is not
// nil, a test.json naming those checkers.
func checkRunDir(t *testing.T, h *checkertest.Builder, names []string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "history.jsonl"), h.JSONL(), 0o644))
	if names != nil {
		b, err := json.Marshal(map[string]any{"workload": "kv", "checkers": names})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "test.json"), b, 0o644))
	}
	return dir
}

func validKV() *checkertest.Builder {
	return checkertest.New().Write(0, "x", 1).Read(1, "x", 1).FinalRead(9, "n1", "x", 1).FinalRead(10, "n2", "x", 1)
}

// staleKV is causal but not linearizable.
func staleKV() *checkertest.Builder {
	return checkertest.New().Write(0, "x", 1).Read(1, "x", nil).FinalRead(9, "n1", "x", 1)
}

func readResults(t *testing.T, dir string) checkers.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	var s checkers.Summary
	require.NoError(t, json.Unmarshal(b, &s))
	return s
}

func TestCheckVerdictsAndExitCodes(t *testing.T) {
	t.Run("valid run directory: 0, results.json written", func(t *testing.T) {
		dir := checkRunDir(t, validKV(), []string{"linearizable", "causal+", "eventual"})
		code, out, stderr := runCLI(t, "check", dir)
		assert.Equal(t, 0, code, stderr)
		assert.Contains(t, out, "linearizable  valid")
		assert.Contains(t, out, "causal+       valid")
		assert.Contains(t, out, "overall: valid")
		s := readResults(t, dir)
		assert.Equal(t, checkers.Valid, s.Valid)
		require.Len(t, s.Results, 3)
	})
	t.Run("invalid: 1, anomaly and explanation shown", func(t *testing.T) {
		dir := checkRunDir(t, staleKV(), []string{"linearizable", "causal"})
		code, out, _ := runCLI(t, "check", dir)
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "linearizable  invalid  nonlinearizable ×1")
		assert.Contains(t, out, `Key "x"`)
		assert.Contains(t, out, "witness events:")
		assert.Contains(t, out, "causal        valid")
		assert.Equal(t, checkers.Invalid, readResults(t, dir).Valid)
	})
	t.Run("unknown: 2 with the reason", func(t *testing.T) {
		dir := checkRunDir(t, checkertest.New().Write(0, "x", 1), []string{"eventual"})
		code, out, _ := runCLI(t, "check", dir)
		assert.Equal(t, 2, code)
		assert.Contains(t, out, "why: the history has no final reads")
	})
	t.Run("--model overrides test.json; --json prints the summary", func(t *testing.T) {
		dir := checkRunDir(t, staleKV(), []string{"linearizable"})
		code, out, _ := runCLI(t, "check", "--model", "causal, eventual", "--json", dir)
		assert.Equal(t, 0, code)
		var s checkers.Summary
		require.NoError(t, json.Unmarshal([]byte(out), &s), out)
		require.Len(t, s.Results, 2)
		assert.Equal(t, "causal", s.Results[0].Checker)
		assert.Equal(t, "eventual", s.Results[1].Checker)
		assert.Equal(t, checkers.Valid, s.Valid)
	})
	t.Run("bare history.jsonl with --model", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h.jsonl")
		require.NoError(t, os.WriteFile(path, staleKV().JSONL(), 0o644))
		code, _, _ := runCLI(t, "check", "--model", "linearizable", path)
		assert.Equal(t, 1, code)
		_, err := os.Stat(filepath.Join(filepath.Dir(path), "results.json"))
		assert.True(t, errors.Is(err, os.ErrNotExist), "a bare history gets no results.json")
	})
	t.Run("--timeout gives unknown, never valid", func(t *testing.T) {
		dir := t.TempDir()
		events := checkertest.Register(checkertest.RegisterConfig{Seed: 3, Ops: 3000, Processes: 8, Keys: 3, ReadRate: 0.5, CASRate: 0.2})
		require.NoError(t, os.WriteFile(filepath.Join(dir, "history.jsonl"), checkertest.JSONL(events), 0o644))
		code, out, _ := runCLI(t, "check", "--model", "linearizable", "--timeout", "1ns", dir)
		assert.Equal(t, 2, code)
		assert.Contains(t, out, "timed out")
	})
}

func TestCheckResultsJSONMerge(t *testing.T) {
	dir := checkRunDir(t, staleKV(), []string{"linearizable", "causal"})
	code, _, _ := runCLI(t, "check", dir)
	require.Equal(t, 1, code)
	// Re-checking one model replaces its result and keeps the others.
	code, _, _ = runCLI(t, "check", "--model", "causal", dir)
	require.Equal(t, 0, code)
	s := readResults(t, dir)
	require.Len(t, s.Results, 2)
	assert.Equal(t, "linearizable", s.Results[0].Checker)
	assert.Equal(t, "causal", s.Results[1].Checker)
	assert.Equal(t, checkers.Invalid, s.Valid, "the kept linearizable result still counts")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), ".results-"), "no temp file left: %s", e.Name())
	}

	// A results.json that is not one is never overwritten.
	bad := []byte("{not json")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "results.json"), bad, 0o644))
	code, _, stderr := runCLI(t, "check", "--model", "causal", dir)
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "was not updated")
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	assert.Equal(t, bad, b)
}

func TestCheckBadInput(t *testing.T) {
	t.Run("missing path", func(t *testing.T) {
		code, _, stderr := runCLI(t, "check", filepath.Join(t.TempDir(), "nope"))
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, "run directory or a history.jsonl")
	})
	t.Run("no argument", func(t *testing.T) {
		code, _, stderr := runCLI(t, "check")
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, "one argument")
	})
	t.Run("unknown model", func(t *testing.T) {
		dir := checkRunDir(t, validKV(), nil)
		code, _, stderr := runCLI(t, "check", "--model", "linearizable,strict", dir)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, `unknown checker "strict"`)
		assert.Contains(t, stderr, "linearizable, causal, causal+, eventual, set")
	})
	t.Run("bare history without test.json needs --model", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "history.jsonl")
		require.NoError(t, os.WriteFile(path, validKV().JSONL(), 0o644))
		code, _, stderr := runCLI(t, "check", path)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, "--model is needed")
		assert.Contains(t, stderr, "linearizable, causal, causal+, eventual, set")
	})
	t.Run("malformed line: file, line and what is wrong", func(t *testing.T) {
		dir := checkRunDir(t, validKV(), []string{"causal"})
		path := filepath.Join(dir, "history.jsonl")
		b, _ := os.ReadFile(path)
		lines := strings.SplitAfter(string(b), "\n")
		lines[2] = `{"index":2,"time":20,"process":1,"type":"done","f":"read","key":"x","value":null}` + "\n"
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644))
		code, _, stderr := runCLI(t, "check", dir)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, path+":3:")
		assert.Contains(t, stderr, `type "done" is not one of invoke, ok, fail, info`)
		_, err := os.Stat(filepath.Join(dir, "results.json"))
		assert.True(t, errors.Is(err, os.ErrNotExist), "nothing written for unreadable input")
	})
	t.Run("torn last line: warning, the rest is checked", func(t *testing.T) {
		dir := checkRunDir(t, validKV(), []string{"causal"})
		f, err := os.OpenFile(filepath.Join(dir, "history.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(`{"index":8,"time":80,"proc`)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		code, out, stderr := runCLI(t, "check", dir)
		assert.Equal(t, 0, code)
		assert.Contains(t, stderr, "warning")
		assert.Contains(t, stderr, "torn last line")
		assert.Contains(t, out, "(8 events)")
	})
	t.Run("test.json naming an unknown checker", func(t *testing.T) {
		dir := checkRunDir(t, validKV(), []string{"causal", "bogus"})
		code, _, stderr := runCLI(t, "check", dir)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, "test.json")
		assert.Contains(t, stderr, `"bogus"`)
	})
}

// A bound that is negative or zero where zero means nothing is a usage
// error naming the flag and what it takes, before anything is read: a
// negative --timeout would otherwise mean "no bound" to the search.
func TestCheckFlagBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"negative timeout", []string{"--timeout", "-1s"}, "--timeout must be >= 0 (0: no bound), like 10m, not -1s"},
		{"negative timeout in ns", []string{"--timeout=-1ns"}, "--timeout must be >= 0"},
		{"zero search memory", []string{"--search-memory", "0"}, `invalid argument "0" for "--search-memory" flag: "0" is not a size: give a positive number of bytes`},
		{"negative search memory", []string{"--search-memory", "-1MiB"}, `"-1MiB" is not a size: give a positive number of bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := checkRunDir(t, validKV(), []string{"linearizable"})
			code, out, stderr := runCLI(t, append(append([]string{"check"}, tc.args...), dir)...)
			assert.Equal(t, 3, code)
			assert.Contains(t, stderr, tc.want)
			assert.Empty(t, out, "no verdict for a refused command")
		})
	}
	// Zero is no bound, and accepted.
	code, _, stderr := runCLI(t, "check", "--timeout", "0", checkRunDir(t, validKV(), []string{"linearizable"}))
	assert.Equal(t, 0, code, stderr)
}

// The real binary maps verdicts to its exit status.
func TestCheckBinaryExitStatus(t *testing.T) {
	bin := testbin.Build(t, "github.com/faultline/faultline/cmd/faultline", "faultline")
	for _, tc := range []struct {
		h    *checkertest.Builder
		want int
	}{{validKV(), 0}, {staleKV(), 1}, {checkertest.New().Write(0, "x", 1), 2}} {
		dir := checkRunDir(t, tc.h, []string{"linearizable", "eventual"})
		err := exec.Command(bin, "check", dir).Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, tc.want, code)
	}
	out, err := exec.Command(bin, "check", "--model", "nope", t.TempDir()).CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 3, ee.ExitCode())
	assert.Contains(t, string(out), "faultline: --model: unknown checker")
}

// SIGINT and SIGTERM stop a long check as they stop a run: the search is
// cancelled, check says it was interrupted and exits 130, and results.json
// is left as it was (F12: the process used to die silently, SIGTERM with
// 143).
func TestCheckInterrupted(t *testing.T) {
	bin := testbin.Build(t, "github.com/faultline/faultline/cmd/faultline", "faultline")
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		json bool
	}{
		{"SIGINT", syscall.SIGINT, false},
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGTERM", syscall.SIGTERM, true},
	} {
		t.Run(fmt.Sprintf("%s json=%v", tc.name, tc.json), func(t *testing.T) {
			dir := checkRunDir(t, checkertest.HardRegister(22), []string{"linearizable"})
			before := []byte(`{"valid": true, "results": [{"checker": "linearizable", "valid": true}]}` + "\n")
			require.NoError(t, os.WriteFile(filepath.Join(dir, "results.json"), before, 0o644))
			args := []string{"check", "--timeout", "2m"}
			if tc.json {
				args = append(args, "--json")
			}
			cmd := exec.Command(bin, append(args, dir)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Reading 94 events takes milliseconds; the search takes
			// seconds before it gives up on its memory bound.
			time.Sleep(time.Second)
			require.NoError(t, cmd.Process.Signal(tc.sig))
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("check did not stop within 30 s of %s; stdout:\n%s", tc.name, stdout.String())
			}
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			assert.Equal(t, exitInterrupted, ee.ExitCode(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			all := stdout.String() + stderr.String()
			assert.Contains(t, all, "interrupted ("+tc.name+"): the check was cancelled")
			assert.Contains(t, all, "search was cancelled on key", "the signal came while the search ran")
			if tc.json {
				var sum checkers.Summary
				require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum), "stdout stays JSON: %s", stdout.String())
				assert.Equal(t, checkers.Unknown, sum.Valid)
			} else {
				assert.Contains(t, stdout.String(), "linearizable  unknown")
			}
			after, err := os.ReadFile(filepath.Join(dir, "results.json"))
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "an interrupted check leaves results.json as it was")
		})
	}
}

// A run whose test.json says it was interrupted has a partial history:
// check never calls it valid (unknown, exit 2, with the reason), while an
// anomaly found in it stays invalid.
func TestCheckInterruptedRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    *checkertest.Builder
		code int
		want checkers.Validity
		json bool
	}{
		{"valid becomes unknown", validKV(), 2, checkers.Unknown, false},
		{"valid becomes unknown, json", validKV(), 2, checkers.Unknown, true},
		{"invalid stays invalid", staleKV(), 1, checkers.Invalid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := checkRunDir(t, tc.h, nil)
			b, err := json.Marshal(map[string]any{"workload": "kv", "checkers": []string{"linearizable"}, "interrupted": true})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "test.json"), b, 0o644))
			args := []string{"check", dir}
			if tc.json {
				args = []string{"check", "--json", dir}
			}
			code, out, stderr := runCLI(t, args...)
			assert.Equal(t, tc.code, code, "%s%s", out, stderr)
			assert.Contains(t, out+stderr, "the run was interrupted (test.json): its history is partial")
			if tc.want == checkers.Unknown && !tc.json {
				assert.Contains(t, out, "why: the run was interrupted: its history is partial")
				assert.Contains(t, out, "overall: unknown")
			}
			sum := readResults(t, dir)
			assert.Equal(t, tc.want, sum.Valid, "results.json keeps the verdict on the partial history")
		})
	}
}
