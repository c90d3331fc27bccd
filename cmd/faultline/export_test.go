package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers/checkertest"
)

// A Jepsen history is checked whatever its layout, told from its content
// or named with --format; a run exported as EDN checks the same.
func TestCheckEDNAndExport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	lines := write("lines.txt", "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n"+
		"{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 2}\n")
	vector := write("vector.edn", "; Knossos's layout\n[{:process 0, :type :invoke, :f :write, :value 1}\n {:process 0, :type :ok, :f :write, :value 1}]\n")
	store := filepath.Join(dir, "store")
	require.NoError(t, os.Mkdir(store, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(store, "history.edn"), []byte("{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 1}\n"), 0o644))

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"EDN lines, detected: invalid", []string{"check", "--model", "linearizable", lines}, 1, "nonlinearizable"},
		{"EDN vector, detected: valid", []string{"check", "--model", "linearizable", vector}, 0, "overall: valid (2 events)"},
		{"Jepsen store directory", []string{"check", "--model", "linearizable", store}, 1, "nonlinearizable"},
		{"--format edn", []string{"check", "--format", "edn", "--model", "linearizable", lines}, 1, "nonlinearizable"},
		{"--format jsonl on EDN", []string{"check", "--format", "jsonl", "--model", "linearizable", lines}, 3, "not a JSON object"},
		{"bad --format", []string{"check", "--format", "xml", "--model", "linearizable", lines}, 3, `--format "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tc.args...)
			assert.Equal(t, tc.code, code, "%s%s", out, stderr)
			assert.Contains(t, out+stderr, tc.want)
		})
	}

	t.Run("bad EDN names line and column", func(t *testing.T) {
		bad := write("bad.edn", "{:process 0, :type :invoke, :f :read}\n  {:process 0, :type :done, :f :read}\n")
		code, _, stderr := runCLI(t, "check", "--model", "linearizable", bad)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, bad+":2: column 3: :type is :done: expected :invoke, :ok, :fail or :info")
		bad = write("bad2.edn", "{:process 0, :type :invoke, :f :read, :value \"x}\n{:process 0, :type :ok, :f :read}\n")
		code, _, stderr = runCLI(t, "check", "--model", "linearizable", bad)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, bad+":1: column 46: string opened here is not closed")
	})
	t.Run("a torn last operation is a warning", func(t *testing.T) {
		torn := write("torn.edn", "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n{:process 0, :ty")
		code, out, stderr := runCLI(t, "check", "--model", "linearizable", torn)
		assert.Equal(t, 0, code, stderr)
		assert.Contains(t, out, "overall: valid (2 events)")
		assert.Contains(t, stderr, torn+":3: skipped a torn last operation")
	})
	t.Run("export edn, check it: same verdicts", func(t *testing.T) {
		for _, tc := range []struct {
			run  string
			code int
		}{
			{checkRunDir(t, validKV(), nil), 0},
			// Not staleKV: its read of null (absent) is one Knossos accepts.
			{checkRunDir(t, checkertest.New().Write(0, "x", 1).Write(0, "x", 2).Read(1, "x", 1), nil), 1},
		} {
			out := filepath.Join(t.TempDir(), "history.edn")
			code, _, stderr := runCLI(t, "export", "--format", "edn", "-o", out, tc.run)
			require.Equal(t, 0, code, stderr)
			code, _, stderr = runCLI(t, "check", "--model", "linearizable", out)
			assert.Equal(t, tc.code, code, stderr)
			code, _, _ = runCLI(t, "check", "--model", "linearizable", tc.run)
			assert.Equal(t, tc.code, code)
		}
	})
	t.Run("-o a directory is refused, nothing written", func(t *testing.T) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, "export", "--format", "edn", "-o", out, vector)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, "-o "+out+" is a directory; give a file path like "+filepath.Join(out, "history.edn"))
		entries, err := os.ReadDir(out)
		require.NoError(t, err)
		assert.Empty(t, entries)
		parent, err := os.ReadDir(filepath.Dir(out))
		require.NoError(t, err)
		for _, e := range parent {
			assert.NotContains(t, e.Name(), ".export-", "no temporary file beside the directory")
		}
	})
	t.Run("export to stdout, and back to jsonl", func(t *testing.T) {
		code, out, stderr := runCLI(t, "export", "--format", "jsonl", vector)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, out, `"type":"invoke","f":"write","key":"register","value":1`)
		code, _, stderr = runCLI(t, "export", "--format", "yaml", vector)
		assert.Equal(t, 3, code)
		assert.Contains(t, stderr, `--format "yaml"`)
	})
}
