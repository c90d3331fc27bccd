package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A short history as another tool might write it: two processes, a
// partition, a read that finds the write.
const reportsHistory = `{"index":0,"time":1000,"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"index":1,"time":2000,"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"index":2,"time":2500,"process":-1,"type":"info","f":"start-partition","key":"","value":{"n1":["n2"]}}
{"index":3,"time":3000000,"process":0,"type":"ok","f":"write","key":"x","value":1}
{"index":4,"time":4000000,"process":1,"type":"ok","f":"read","key":"x","value":1}
{"index":5,"time":5000000,"process":-1,"type":"info","f":"stop-partition","key":"","value":null}
`

// reportsCLI runs the faultline command line in-process.
func reportsCLI(ctx context.Context, out io.Writer, args ...string) error {
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	return cmd.ExecuteContext(ctx)
}

func TestReportCommand(t *testing.T) {
	t.Run("run directory", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(reportsHistory), 0o644))
		var out bytes.Buffer
		require.NoError(t, reportsCLI(context.Background(), &out, "report", dir))
		assert.Contains(t, out.String(), filepath.Join(dir, "report.html"))
		page, err := os.ReadFile(filepath.Join(dir, "report.html"))
		require.NoError(t, err)
		assert.Contains(t, string(page), "not checked", "no results.json: no verdict")
		assert.Contains(t, string(page), "partition #1", "the fault, numbered")
		assert.FileExists(t, filepath.Join(dir, "linearizability.html"))
	})
	t.Run("bare history file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "from-elsewhere.jsonl")
		require.NoError(t, os.WriteFile(path, []byte(reportsHistory), 0o644))
		var out bytes.Buffer
		require.NoError(t, reportsCLI(context.Background(), &out, "report", path))
		assert.FileExists(t, filepath.Join(dir, "report.html"))
		assert.FileExists(t, filepath.Join(dir, "linearizability.html"))
	})
	t.Run("bad input", func(t *testing.T) {
		dir := t.TempDir()
		err := reportsCLI(context.Background(), io.Discard, "report", filepath.Join(dir, "nope"))
		require.ErrorContains(t, err, "give a run directory")
		err = reportsCLI(context.Background(), io.Discard, "report")
		require.ErrorContains(t, err, "report takes one argument, a run directory (e.g. runs/latest) or a history.jsonl file (got 0)")
		err = reportsCLI(context.Background(), io.Discard, "report", dir)
		require.ErrorContains(t, err, "has no history.jsonl")
		bad := filepath.Join(dir, "bad.jsonl")
		require.NoError(t, os.WriteFile(bad, []byte("{\"index\":0}\n"), 0o644))
		err = reportsCLI(context.Background(), io.Discard, "report", bad)
		require.ErrorContains(t, err, `bad.jsonl:1: missing field "time"`)
	})
}

// serveOutput is a bytes.Buffer safe to read while the command writes.
type serveOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *serveOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *serveOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeCommand(t *testing.T) {
	runs := t.TempDir()
	run := filepath.Join(runs, "t", "20261123T100000.000Z")
	require.NoError(t, os.MkdirAll(run, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(run, "history.jsonl"), []byte(reportsHistory), 0o644))
	require.NoError(t, reportsCLI(context.Background(), io.Discard, "report", run))

	ctx, cancel := context.WithCancel(context.Background())
	var out serveOutput
	done := make(chan error, 1)
	go func() { done <- reportsCLI(ctx, &out, "serve", "--addr", "127.0.0.1:0", runs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	addr := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)/`)
	var base string
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 10*time.Second, 20*time.Millisecond, "serve printed its address: %q", out.String())

	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `href="/runs/t/20261123T100000.000Z/report.html"`)

	resp, err = http.Get(base + "/runs/t/20261123T100000.000Z/report.html")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.Contains(string(body), "not checked"))

	err = reportsCLI(context.Background(), io.Discard, "serve", filepath.Join(runs, "missing"))
	require.ErrorContains(t, err, "the runs directory must exist")
}
