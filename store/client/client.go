// Package client is the Go client of the reference store's HTTP/JSON API,
// the one faultline's workloads use. It classifies every outcome the way
// the harness records it: nil (ok), a *NotAppliedError (fail: definitely
// not applied) or an *UnknownError (info: may or may not have applied).
//
// CONTRACT SKETCH (written before the implementation; the store's
// implementer fills in the bodies and may add options, but keeps these
// names and meanings, which the harness already uses):
package client

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Config configures a Client.
type Config struct {
	// Endpoints are the nodes' client addresses, "host:port" or
	// "http://host:port". The client talks to one at a time (see Use).
	Endpoints []string
	// ID identifies the client in request ids ("<ID>-<seq>"); a random
	// one is chosen when empty.
	ID string
	// Timeout bounds one request; 0 means the context's deadline only.
	Timeout time.Duration
	// HTTPClient overrides the HTTP client (tests, connection pools).
	HTTPClient *http.Client
}

// NotAppliedError means the request definitely did not take effect: a cas
// mismatch or a clean refusal before anything was proposed.
type NotAppliedError struct {
	Mismatch bool   // a cas that found another value
	Reason   string // the server's explanation
}

func (e *NotAppliedError) Error() string {
	if e.Mismatch {
		return "mismatch"
	}
	return "not applied: " + e.Reason
}

// UnknownError means the request may or may not have taken effect: a
// timeout, a lost connection, lost leadership after proposing.
type UnknownError struct {
	Reason string
	Err    error // underlying transport error, if any
}

func (e *UnknownError) Error() string { return "outcome unknown: " + e.Reason }
func (e *UnknownError) Unwrap() error { return e.Err }

// IsMismatch reports whether err is a cas mismatch.
func IsMismatch(err error) bool {
	var na *NotAppliedError
	return errors.As(err, &na) && na.Mismatch
}

// Client is safe for concurrent use, but a harness process uses one
// client at a time (at most one op outstanding).
type Client struct {
	cfg Config
	// implementation fields
}

// New returns a client for cfg, talking to Endpoints[0] first.
func New(cfg Config) (*Client, error) { panic("not implemented yet") }

// Use makes the client talk to Endpoints[i] from now on; the causal token
// goes along, so session guarantees hold across nodes in causal mode.
func (c *Client) Use(i int) { panic("not implemented yet") }

// Read returns the key's value; found is false when the key is absent.
func (c *Client) Read(ctx context.Context, key string) (value string, found bool, err error) {
	panic("not implemented yet")
}

// Write sets key to value.
func (c *Client) Write(ctx context.Context, key, value string) error { panic("not implemented yet") }

// CAS sets key to new if it holds expected; a *NotAppliedError with
// Mismatch set if it does not (or the key is absent).
func (c *Client) CAS(ctx context.Context, key, expected, new string) error {
	panic("not implemented yet")
}
