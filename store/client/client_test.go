package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
	"github.com/faultline/faultline/store/node"
)

func oneNode(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := node.StartCluster(ctx, node.ClusterConfig{Nodes: 1, Mode: store.Strong, Dir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Leader(ctx)
	require.NoError(t, err)
	return c.ClientAddrs()[0]
}

func TestAgainstRealNode(t *testing.T) {
	addr := oneNode(t)
	c, err := client.New(client.Config{Endpoints: []string{"http://" + addr + "/"}, Timeout: 5 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()

	_, found, err := c.Read(ctx, "k")
	require.NoError(t, err)
	assert.False(t, found)
	require.NoError(t, c.Write(ctx, "k", "1"))
	v, found, err := c.Read(ctx, "k")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "1", v)

	err = c.CAS(ctx, "k", "0", "2")
	var na *client.NotAppliedError
	require.ErrorAs(t, err, &na)
	assert.True(t, na.Mismatch)
	assert.True(t, client.IsMismatch(err))
	require.NoError(t, c.CAS(ctx, "k", "1", "2"))

	// The server refuses bad input: not applied, with its reason.
	err = c.Write(ctx, "", "x")
	require.ErrorAs(t, err, &na)
	assert.False(t, na.Mismatch)
	assert.Contains(t, na.Reason, "key")

	// Values the hand-written JSON codec must escape survive the round
	// trip (keys too).
	for i, v := range []string{`q"uote`, `back\slash`, "<a>&amp;", "ctl\x00\x01\n\t\x7f", "caf\u00e9 \U0001F600", "\u2028\u2029", ""} {
		key := fmt.Sprintf("k%d %s", i, v)
		require.NoError(t, c.Write(ctx, key, v))
		got, found, err := c.Read(ctx, key)
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, v, got)
		require.NoError(t, c.CAS(ctx, key, v, v+"!"))
	}

	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "leader", st.Role)
	assert.Equal(t, "n1", st.ID)
	assert.NotZero(t, st.Applied, "the write and the cas were applied")
}

// A connection refused before the request was sent: definitely not applied.
func TestConnectionRefusedIsNotApplied(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c, err := client.New(client.Config{Endpoints: []string{addr}, Timeout: 2 * time.Second})
	require.NoError(t, err)
	err = c.Write(context.Background(), "k", "v")
	var na *client.NotAppliedError
	require.ErrorAs(t, err, &na, "got %T %v", err, err)
	assert.False(t, na.Mismatch)
}

// hangingServer accepts connections and reads requests but never answers.
func hangingServer(t *testing.T, closeAfterRead bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				conn.Read(buf)
				if closeAfterRead {
					conn.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// A server that got the request and never answers: outcome unknown.
func TestHangingServerIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		name           string
		closeAfterRead bool
	}{{"timeout", false}, {"connection closed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(client.Config{Endpoints: []string{hangingServer(t, tc.closeAfterRead)}, Timeout: 300 * time.Millisecond})
			require.NoError(t, err)
			for _, op := range []func() error{
				func() error { return c.Write(context.Background(), "k", "v") },
				func() error { return c.CAS(context.Background(), "k", "a", "b") },
				func() error { _, _, err := c.Read(context.Background(), "k"); return err },
			} {
				start := time.Now()
				err := op()
				var unk *client.UnknownError
				require.ErrorAs(t, err, &unk, "got %T %v", err, err)
				assert.Less(t, time.Since(start), 3*time.Second, "the timeout bounds the request")
			}
		})
	}
}

// Replies are classified by their outcome field, and by status when the
// body is not the store's JSON.
func TestReplyClassification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // ok, fail, mismatch, unknown
	}{
		{"ok", 200, `{"outcome":"ok"}`, "ok"},
		{"mismatch", 409, `{"outcome":"fail","mismatch":true,"error":"mismatch"}`, "mismatch"},
		{"not applied", 503, `{"outcome":"fail","error":"no leader known"}`, "fail"},
		{"unknown timeout", 504, `{"outcome":"unknown","error":"timed out"}`, "unknown"},
		{"unknown lost leadership", 500, `{"outcome":"unknown","error":"leadership lost"}`, "unknown"},
		{"garbage 500", 500, `<html>oops</html>`, "unknown"},
		{"garbage 502 from a proxy", 502, `bad gateway`, "unknown"},
		{"garbage 200", 200, `not json`, "unknown"},
		{"garbage 404", 404, `404 page not found`, "fail"},
		{"garbage 408", 408, `request timeout`, "unknown"},
		{"json without outcome", 200, `{"value":"x"}`, "unknown"},
		{"json with escapes", 409, `{"outcome":"fail","mismatch":true,"error":"mis\u006datch \"x\""}`, "mismatch"},
		{"json with unknown fields", 200, `{"outcome":"ok","extra":{"a":[1]}}`, "ok"},
		{"redirect", 307, `{"location":"elsewhere"}`, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status/100 == 3 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			c, err := client.New(client.Config{Endpoints: []string{srv.URL}, Timeout: 2 * time.Second})
			require.NoError(t, err)
			err = c.Write(context.Background(), "k", "v")
			var na *client.NotAppliedError
			var unk *client.UnknownError
			switch tc.want {
			case "ok":
				require.NoError(t, err)
			case "mismatch":
				require.ErrorAs(t, err, &na)
				assert.True(t, na.Mismatch)
			case "fail":
				require.ErrorAs(t, err, &na)
				assert.False(t, na.Mismatch)
			case "unknown":
				require.ErrorAs(t, err, &unk, "got %T %v", err, err)
			}
		})
	}
}

// The causal token from replies goes along on later requests, across
// Use(i), merged pointwise.
func TestTokenTravelsAcrossUse(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	mk := func(reply string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get(store.TokenHeader))
			mu.Unlock()
			w.Header().Set(store.TokenHeader, reply)
			io.WriteString(w, `{"outcome":"ok"}`)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := mk(`{"n1":3}`), mk(`{"n2":5,"n1":1}`)
	c, err := client.New(client.Config{Endpoints: []string{a.URL, b.URL}})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Write(ctx, "k", "v"))
	c.Use(1)
	require.NoError(t, c.Write(ctx, "k", "v"))
	c.Use(0)
	_, _, err = c.Read(ctx, "k")
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 3)
	assert.Equal(t, "", seen[0], "no token before the first reply")
	assert.JSONEq(t, `{"n1":3}`, seen[1], "the token from node a goes to node b")
	assert.JSONEq(t, `{"n1":3,"n2":5}`, seen[2], "tokens merge pointwise")
	assert.Equal(t, store.Token{"n1": 3, "n2": 5}, c.Token())
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := client.New(client.Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "endpoint")
	_, err = client.New(client.Config{Endpoints: []string{" "}})
	require.Error(t, err)
}
