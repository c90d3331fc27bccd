package strong

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
)

// termServer answers TermPath with term, on real loopback HTTP.
func termServer(t *testing.T, term uint64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, termReply{Term: term})
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// hungServer accepts connections and never answers (a peer that is cut
// off or paused).
func hungServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// A read round asks the peers it needs first and the others only when
// those fail or stay silent: a silent first choice costs hedgeDelay, not
// the round; a majority is still required.
func TestConfirmTerm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		peers   func(t *testing.T) map[string]string
		last    string
		wantErr string
	}{
		{"first asked answers", func(t *testing.T) map[string]string {
			return map[string]string{"a": termServer(t, 7), "b": hungServer(t)}
		}, "", ""},
		{"first asked hangs, the other confirms", func(t *testing.T) map[string]string {
			return map[string]string{"a": hungServer(t), "b": termServer(t, 7)}
		}, "", ""},
		{"last confirmer hangs, the other confirms", func(t *testing.T) map[string]string {
			return map[string]string{"a": termServer(t, 7), "b": hungServer(t)}
		}, "b", ""},
		{"first asked is in another term, the other confirms", func(t *testing.T) map[string]string {
			return map[string]string{"a": termServer(t, 8), "b": termServer(t, 7)}
		}, "", ""},
		{"nobody confirms", func(t *testing.T) map[string]string {
			return map[string]string{"a": termServer(t, 8), "b": hungServer(t)}
		}, "", "leadership not confirmed"},
		{"both in another term", func(t *testing.T) map[string]string {
			return map[string]string{"a": termServer(t, 8), "b": termServer(t, 9)}
		}, "", "b is in term 9, not 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{env: store.Env{PeerClient: &http.Client{}}, peers: tc.peers(t)}
			if tc.last != "" {
				e.lastConfirmer.Store(tc.last)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			err := e.confirmTerm(ctx, 7)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, store.ErrNotApplied)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
