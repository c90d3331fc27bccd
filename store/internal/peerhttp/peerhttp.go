// Package peerhttp is the node-to-node HTTP plumbing that the causal and
// eventual engines share: a JSON call to a peer's /peer/ API with a
// bounded time, JSON answers, and sleeps and backoff that end when the
// engine closes. It knows nothing of either engine's messages.
package peerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// CallTimeout bounds one call to a peer.
const CallTimeout = 10 * time.Second

// Peer message sizes. A sender packs at most MaxBatchBytes of items
// (replicated records, forwarded requests) into one message, and always
// at least one item, which is at most a client request's size
// (store.MaxBodyBytes); so no legal peer request body comes near
// MaxBodyBytes. A node refuses a larger body with 413: before reading
// any of it when its length is declared, else as soon as it passes the
// limit. Eight such bodies at once cost a node tens of MB, not GB.
const (
	MaxBatchBytes = 1 << 20
	MaxBodyBytes  = 2 << 20
	// MaxAnswerBytes bounds the answer of a peer that a node reads.
	MaxAnswerBytes = 64 << 20
)

// Limit refuses, with 413 and a JSON body, a request whose declared
// length is over MaxBodyBytes, and cuts every other body at
// MaxBodyBytes (the handler's read then fails with an error that
// BodyError maps to 413).
func Limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("peer request body of %d bytes: at most %d", r.ContentLength, MaxBodyBytes))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		h.ServeHTTP(w, r)
	})
}

// BodyError answers a request whose body could not be read or decoded
// (err) with the right status: 413 over the limit, 408 when the body did
// not arrive in time, else 400; what names the endpoint.
func BodyError(w http.ResponseWriter, what string, err error) {
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: body over %d bytes", what, tooBig.Limit))
	case errors.As(err, &ne) && ne.Timeout():
		WriteError(w, http.StatusRequestTimeout, fmt.Sprintf("%s: the body did not arrive in time: %v", what, err))
	default:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", what, err))
	}
}

// WriteError answers a refused peer request in the client API's shape.
func WriteError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Outcome string `json:"outcome"`
		Error   string `json:"error"`
	}{"fail", msg})
}

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
	return json.NewDecoder(io.LimitReader(resp.Body, MaxAnswerBytes)).Decode(out)
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
