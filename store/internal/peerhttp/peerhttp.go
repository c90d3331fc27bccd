// Package peerhttp is the node-to-node HTTP plumbing that the causal and
// eventual engines share: a JSON call to a peer's /peer/ API with a
// bounded time, JSON answers, and sleeps and backoff that end when the
// engine closes. It knows nothing of either engine's messages.
package peerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// CallTimeout bounds one call to a peer.
const CallTimeout = 10 * time.Second

// Binary is a request body already encoded by the caller; Call sends it
// as application/octet-stream.
type Binary []byte

// Call sends body (JSON, or a Binary as it is; none if nil) to url with
// method and decodes the JSON answer into out. An answer other than 200 OK is an error that
// names the call, the status and the start of the peer's message.
func Call(ctx context.Context, client *http.Client, method, url string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	var rd io.Reader
	contentType := "application/json"
	if raw, ok := body.(Binary); ok {
		rd, contentType = bytes.NewReader(raw), "application/octet-stream"
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// WriteJSON answers v as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Sleep waits for d or until ctx ends, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// The backoff between failed calls to a peer.
const (
	BackoffMin = 50 * time.Millisecond
	BackoffMax = 500 * time.Millisecond
)

// Backoff is the wait after failed calls to one peer: BackoffMin after
// the first failure, doubling up to BackoffMax; Reset after a success.
// The zero value is ready to use; it is not safe for concurrent use.
type Backoff struct {
	next time.Duration
}

// Wait sleeps the current backoff (ending early if ctx ends) and doubles
// it for next time.
func (b *Backoff) Wait(ctx context.Context) {
	if b.next == 0 {
		b.next = BackoffMin
	}
	Sleep(ctx, b.next)
	b.next = min(2*b.next, BackoffMax)
}

// Reset starts the backoff over after a call succeeded.
func (b *Backoff) Reset() { b.next = 0 }
