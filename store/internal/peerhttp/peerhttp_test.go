package peerhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			http.Error(w, "  no such thing  ", http.StatusBadRequest)
			return
		}
		var in map[string]int
		if r.Body != nil {
			json.NewDecoder(r.Body).Decode(&in)
		}
		WriteJSON(w, map[string]any{"method": r.Method, "type": r.Header.Get("Content-Type"), "n": in["n"]})
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, path string
		body               any
		want               map[string]any
		wantErr            string
	}{
		{name: "post with body", method: http.MethodPost, path: "/x", body: map[string]int{"n": 7},
			want: map[string]any{"method": "POST", "type": "application/json", "n": 7.0}},
		{name: "get without body", method: http.MethodGet, path: "/x",
			want: map[string]any{"method": "GET", "type": "application/json", "n": 0.0}},
		{name: "refused", method: http.MethodPost, path: "/refuse", body: 1,
			wantErr: "POST " + srv.URL + "/refuse: 400 Bad Request: no such thing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			err := Call(context.Background(), srv.Client(), tc.method, srv.URL+tc.path, tc.body, &got)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestBackoffDoublesToMaxAndResets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Wait must not sleep the full backoff once ctx ended
	var b Backoff
	var seen []time.Duration
	for range 6 {
		b.Wait(ctx)
		seen = append(seen, b.next)
	}
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		BackoffMax, BackoffMax, BackoffMax}, seen)
	b.Reset()
	b.Wait(ctx)
	assert.Equal(t, 2*BackoffMin, b.next, "after Reset the next wait starts over")
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	done := make(chan struct{})
	go func() { Sleep(ctx, time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Sleep did not end when its context ended")
	}
}
