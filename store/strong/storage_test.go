package strong

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
)

func testEnv(t *testing.T, dir string) store.Env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return store.Env{NodeID: "n1", DataDir: dir, StreamListener: ln, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// A single-node engine on real files: what it acknowledged is read back
// after Close and a new engine on the same data dir (the WAL and its meta
// store are closed and unlocked, so a restart in the same process works).
func TestEngineRestartKeepsWrites(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	open := func() *Engine {
		e, err := NewWithConfig(testEnv(t, dir), Config{})
		require.NoError(t, err)
		require.Eventually(t, e.isLeader, 10*time.Second, 10*time.Millisecond, "single node never became leader")
		return e
	}
	e := open()
	for _, k := range []string{"a", "b", "c"} {
		_, err := e.Write(ctx, store.WriteRequest{Key: k, Value: "v-" + k, RequestID: "t-" + k})
		require.NoError(t, err)
	}
	require.NoError(t, e.Close())
	_, err := os.Stat(filepath.Join(dir, "raft", "wal"))
	require.NoError(t, err, "the Raft log lives in <data>/raft/wal")

	e = open()
	defer e.Close()
	for _, k := range []string{"a", "b", "c"} {
		rr, err := e.Read(ctx, store.ReadRequest{Key: k})
		require.NoError(t, err)
		assert.True(t, rr.Found, k)
		assert.Equal(t, "v-"+k, rr.Value)
	}
}

func TestDataDirOfOlderVersionRefused(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "raft"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "raft", "raft.db"), []byte("old"), 0o644))
	_, err := NewWithConfig(testEnv(t, dir), Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "raft.db")
	assert.Contains(t, err.Error(), "fresh data dir")
	b, err := os.ReadFile(filepath.Join(dir, "raft", "raft.db"))
	require.NoError(t, err)
	assert.Equal(t, "old", string(b), "the old file is left as it was")
}

// The data dir's lock is exclusive; a second holder gets a clear error
// after the wait instead of hanging. (flock locks are per open file, so
// two opens in one process conflict like two processes would.)
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	f, err := lockDir(dir, time.Second)
	require.NoError(t, err)
	start := time.Now()
	_, err = lockDir(dir, 200*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "locked by another process")
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	require.NoError(t, f.Close())
	g, err := lockDir(dir, time.Second)
	require.NoError(t, err, "released by Close")
	g.Close()
}

// The leader's batch endpoint, on a real single-node engine: each item is
// answered in order and on its own; bad input is refused with a reason.
func TestForwardBatchHandler(t *testing.T) {
	e, err := NewWithConfig(testEnv(t, t.TempDir()), Config{})
	require.NoError(t, err)
	defer e.Close()
	require.Eventually(t, e.isLeader, 10*time.Second, 10*time.Millisecond)
	post := func(body string) (int, string) {
		rec := httptest.NewRecorder()
		e.PeerHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ForwardBatchPath, strings.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	code, body := post(`[{"op":"write","req":{"key":"x","value":"1","request_id":"r1"}},` +
		`{"op":"cas","req":{"key":"x","expected":"nope","new":"2","request_id":"r2"}},` +
		`{"op":"read","req":{"key":"x"}},` +
		`{"op":"write","req":{"key":"y"}}]`)
	require.Equal(t, http.StatusOK, code, body)
	var resps []store.Response
	require.NoError(t, json.Unmarshal([]byte(body), &resps))
	require.Len(t, resps, 4)
	assert.Equal(t, store.OutcomeOK, resps[0].Outcome)
	assert.Equal(t, store.OutcomeFail, resps[1].Outcome)
	assert.True(t, resps[1].Mismatch, "cas on a different value is a mismatch")
	assert.Equal(t, store.OutcomeFail, resps[2].Outcome)
	assert.Contains(t, resps[2].Error, "cannot be batched")
	assert.Equal(t, store.OutcomeFail, resps[3].Outcome)
	assert.Contains(t, resps[3].Error, `missing "value"`)
	v, ok := e.fsm.get("x")
	assert.True(t, ok)
	assert.Equal(t, "1", v, "only the write applied")

	code, body = post(`{"op":"write"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "want an array")
}
