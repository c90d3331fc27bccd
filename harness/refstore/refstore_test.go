package refstore_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/local"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

func TestArgs(t *testing.T) {
	sys, err := refstore.New("/bin/storenode", store.Causal, []string{"skip-deps"})
	require.NoError(t, err)
	args := sys.Args(harness.NodeLayout{ID: "n1", ClientListen: "127.0.0.1:1", PeerListen: "127.0.0.1:2",
		Peers: map[string]string{"n3": "127.0.0.1:5", "n2": "127.0.0.1:4"}, DataDir: "/d/n1"})
	require.Len(t, args, 16)
	secret := args[13]
	assert.Equal(t, []string{"--id", "n1", "--listen", "127.0.0.1:1", "--peer-listen", "127.0.0.1:2",
		"--peers", "n2=127.0.0.1:4,n3=127.0.0.1:5", "--data", "/d/n1", "--mode", "causal", "--peer-secret", secret, "--faults", "skip-deps"}, args)
	assert.Len(t, secret, 32, "a 128-bit secret in hex")
	assert.Equal(t, args, sys.Args(harness.NodeLayout{ID: "n1", ClientListen: "127.0.0.1:1", PeerListen: "127.0.0.1:2",
		Peers: map[string]string{"n3": "127.0.0.1:5", "n2": "127.0.0.1:4"}, DataDir: "/d/n1"}), "every node of a run gets the same secret")
	other, err := refstore.New("/bin/storenode", store.Causal, nil)
	require.NoError(t, err)
	assert.NotContains(t, other.Args(harness.NodeLayout{ID: "n1"}), secret, "another run gets another secret")
}

func TestNewRejectsBadInput(t *testing.T) {
	_, err := refstore.New("x", "fuzzy", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "strong, causal, eventual")
	_, err = refstore.New("x", store.Strong, []string{"nope"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stale-reads")
}

// startNodes runs real storenode processes through the local backend.
func startNodes(t *testing.T, n int) (harness.Cluster, *refstore.System) {
	t.Helper()
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := local.New(local.Options{}).Start(ctx, sys, harness.ClusterSpec{Nodes: n, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, sys
}

func do(t *testing.T, c harness.Client, op harness.Op) harness.Completion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Invoke(ctx, op)
}

func op(f, key string, v json.RawMessage) harness.Op {
	if v == nil {
		v = history.Null
	}
	return harness.Op{F: f, Key: key, Value: v, Node: -1}
}

func TestOutcomesAgainstARealNode(t *testing.T) {
	cl, sys := startNodes(t, 1)
	nodes := cl.Nodes()
	c, err := sys.NewClient(nodes, 0)
	require.NoError(t, err)
	defer c.Close()

	tests := []struct {
		name  string
		op    harness.Op
		typ   history.Type
		value string
		err   string
	}{
		{"read of an absent key is null", op("read", "a", nil), history.OK, "null", ""},
		{"cas on an absent key fails with mismatch", op("cas", "a", history.CASValue(1, 2)), history.Fail, "", "mismatch"},
		{"write", op("write", "a", history.IntValue(1)), history.OK, "", ""},
		{"read back an integer", op("read", "a", nil), history.OK, "1", ""},
		{"cas that matches", op("cas", "a", history.CASValue(1, 2)), history.OK, "", ""},
		{"cas that does not match", op("cas", "a", history.CASValue(1, 3)), history.Fail, "", "mismatch"},
		{"read after cas", op("read", "a", nil), history.OK, "2", ""},
		{"set read before any add is empty", op("read", "set", nil), history.OK, "[]", ""},
		{"add", op("add", "set", history.IntValue(5)), history.OK, "", ""},
		{"add another", op("add", "set", history.IntValue(3)), history.OK, "", ""},
		{"set read", op("read", "set", nil), history.OK, "[3,5]", ""},
		{"unknown function fails", op("increment", "a", nil), history.Fail, "", "does not know"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, c, tc.op)
			assert.Equal(t, tc.typ, got.Type, "%+v", got)
			if tc.value != "" {
				assert.Equal(t, tc.value, string(got.Value))
			}
			if tc.err != "" {
				assert.Contains(t, got.Error, tc.err)
			}
		})
	}

	// Integers are stored as decimal strings.
	raw, err := client.New(client.Config{Endpoints: []string{nodes[0].ClientAddr}})
	require.NoError(t, err)
	v, found, err := raw.Read(context.Background(), "a")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "2", v)

	// Adds from another client (another process) join the set.
	c2, err := sys.NewClient(nodes, 0)
	require.NoError(t, err)
	require.Equal(t, history.OK, do(t, c2, op("add", "set", history.IntValue(4))).Type)
	got := do(t, c, op("read", "set", nil))
	assert.Equal(t, "[3,4,5]", string(got.Value))
}

func TestUnreachableNodeIsNotOK(t *testing.T) {
	cl, sys := startNodes(t, 1)
	nodes := cl.Nodes()
	require.NoError(t, cl.Pause(context.Background(), nodes[0].ID))
	defer cl.Resume(context.Background(), nodes[0].ID)
	c, err := sys.NewClient(nodes, 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	got := c.Invoke(ctx, op("write", "w", history.IntValue(1)))
	assert.Equal(t, history.Info, got.Type, "a write whose answer never came has an unknown outcome")
}

func TestLeaderAndClock(t *testing.T) {
	cl, sys := startNodes(t, 3)
	nodes := cl.Nodes()
	ctx := context.Background()
	leader, err := sys.Leader(ctx, nodes)
	require.NoError(t, err)
	assert.Contains(t, []string{"n1", "n2", "n3"}, leader)

	require.NoError(t, sys.SetClockOffset(ctx, nodes[1], 90*time.Second))
	resp, err := http.Get("http://" + nodes[1].ClientAddr + store.PathStatus)
	require.NoError(t, err)
	defer resp.Body.Close()
	var st store.Status
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	assert.Equal(t, int64(90*time.Second), st.ClockOffsetNS)
}

// The mapping of the client's error types, including those a real node
// produces only under rare conditions: a fake HTTP server (not a store
// node) answers with each of the store's outcomes, so the real client
// classifies them.
func TestOutcomeMappingFromWire(t *testing.T) {
	answers := map[string]struct {
		status int
		resp   store.Response
	}{
		"notapplied": {http.StatusServiceUnavailable, store.Response{Outcome: store.OutcomeFail, Error: "no leader"}},
		"unknown":    {http.StatusInternalServerError, store.Response{Outcome: store.OutcomeUnknown, Error: "lost leadership"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req store.Request
		json.NewDecoder(r.Body).Decode(&req)
		a := answers[req.Key]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		json.NewEncoder(w).Encode(a.resp)
	}))
	defer srv.Close()
	sys, err := refstore.New("unused", store.Strong, nil)
	require.NoError(t, err)
	c, err := sys.NewClient([]harness.Node{{ID: "n1", ClientAddr: strings.TrimPrefix(srv.URL, "http://")}}, 0)
	require.NoError(t, err)
	defer c.Close()

	got := do(t, c, op("write", "notapplied", history.IntValue(1)))
	assert.Equal(t, history.Fail, got.Type)
	assert.Contains(t, got.Error, "no leader")

	got = do(t, c, op("write", "unknown", history.IntValue(1)))
	assert.Equal(t, history.Info, got.Type)
	assert.Contains(t, got.Error, "lost leadership")
}

// A strong run records the Raft timing its nodes run with in test.json.
func TestOptionsRecordRaftTiming(t *testing.T) {
	sys, err := refstore.New("/bin/storenode", store.Strong, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"raft_timing": store.DefaultRaftTiming()}, sys.Options())
	sys, err = refstore.New("/bin/storenode", store.Causal, nil)
	require.NoError(t, err)
	assert.Empty(t, sys.Options(), "no Raft in causal mode")
}
