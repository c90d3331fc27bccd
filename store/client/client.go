// Package client is the Go client of the reference store's HTTP/JSON API,
// the one faultline's workloads use. It classifies every outcome the way
// the harness records it: nil (ok), a *NotAppliedError (fail: definitely
// not applied) or an *UnknownError (info: may or may not have applied).
//
// The rule it follows: "not applied" only when that is certain — the
// server said so, or the connection was refused before the request was
// sent. Anything after the request may have left (a timeout, a reset, an
// unreadable reply) is unknown.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/faultline/faultline/store"
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
	return "not applied: " + strings.TrimPrefix(e.Reason, "not applied: ")
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
	cfg   Config
	urls  []string
	http  *http.Client
	rt    http.RoundTripper // the shared transport, when cfg.HTTPClient is nil
	hosts []string          // host:port of each url, "" unless plain http (see conn.go)
	seq   atomic.Uint64
	cur   atomic.Int64
	mu    sync.Mutex
	token store.Token
}

// defaultTransport is shared by clients built without an HTTPClient, so
// many clients in one harness share one keep-alive pool.
var defaultTransport = &http.Transport{
	DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        1024,
	MaxIdleConnsPerHost: 256,
	IdleConnTimeout:     90 * time.Second,
	// The store never compresses its small replies: no Accept-Encoding
	// header, no gzip check on every reply.
	DisableCompression: true,
}

// New returns a client for cfg, talking to Endpoints[0] first.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("client: no endpoints: give at least one node address, like 127.0.0.1:7001")
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient}
	for _, ep := range cfg.Endpoints {
		ep = strings.TrimRight(strings.TrimSpace(ep), "/")
		if ep == "" {
			return nil, errors.New("client: empty endpoint: want host:port or http://host:port")
		}
		if !strings.Contains(ep, "://") {
			ep = "http://" + ep
		}
		c.urls = append(c.urls, ep)
		host, _ := strings.CutPrefix(ep, "http://")
		if host == ep || strings.ContainsAny(host, "/?#@") {
			host = "" // not plain http://host:port: net/http sends it
		}
		c.hosts = append(c.hosts, host)
	}
	if c.http == nil {
		c.http = &http.Client{Transport: defaultTransport}
		c.rt = defaultTransport
	}
	if c.cfg.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		c.cfg.ID = hex.EncodeToString(b[:])
	}
	return c, nil
}

// Use makes the client talk to Endpoints[i] from now on; the causal token
// goes along, so session guarantees hold across nodes in causal mode. An
// index out of range is ignored.
func (c *Client) Use(i int) {
	if i >= 0 && i < len(c.urls) {
		c.cur.Store(int64(i))
	}
}

// Endpoint is the address the client talks to now.
func (c *Client) Endpoint() string { return c.urls[c.cur.Load()] }

// Token is the client's causal token (a copy).
func (c *Client) Token() store.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return store.Merge(nil, c.token)
}

// Read returns the key's value; found is false when the key is absent.
func (c *Client) Read(ctx context.Context, key string) (value string, found bool, err error) {
	resp, err := c.do(ctx, store.PathRead, store.Request{Key: key, RequestID: c.nextID()})
	if err != nil {
		return "", false, err
	}
	return resp.Value, resp.Found, nil
}

// Write sets key to value.
func (c *Client) Write(ctx context.Context, key, value string) error {
	_, err := c.do(ctx, store.PathWrite, store.Request{Key: key, Value: &value, RequestID: c.nextID()})
	return err
}

// WriteWithID sets key to value under a caller-chosen request id: a retry
// with the same id applies at most once.
func (c *Client) WriteWithID(ctx context.Context, requestID, key, value string) error {
	_, err := c.do(ctx, store.PathWrite, store.Request{Key: key, Value: &value, RequestID: requestID})
	return err
}

// CAS sets key to new if it holds expected; a *NotAppliedError with
// Mismatch set if it does not (or the key is absent).
func (c *Client) CAS(ctx context.Context, key, expected, new string) error {
	_, err := c.do(ctx, store.PathCAS, store.Request{Key: key, Expected: &expected, New: &new, RequestID: c.nextID()})
	return err
}

func (c *Client) nextID() string {
	return c.cfg.ID + "-" + strconv.FormatUint(c.seq.Add(1), 10)
}

// do sends one request and classifies its outcome.
func (c *Client) do(ctx context.Context, path string, req store.Request) (store.Response, error) {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	// JSON strings are text: bytes that are not UTF-8 would reach the
	// node as U+FFFD, so such a request is not sent at all.
	for _, v := range []*string{&req.Key, req.Value, req.Expected, req.New} {
		if v != nil && !utf8.ValidString(*v) {
			return store.Response{}, &NotAppliedError{Reason: fmt.Sprintf("not sent: %q is not valid UTF-8; keys and values are UTF-8 text", *v)}
		}
	}
	// Not pooled: the transport may still read the body (or rewind it to
	// retry on another connection) after Do returns.
	body := req.AppendJSON(make([]byte, 0, 48+len(req.Key)+len(req.RequestID)+strLen(req.Value)+strLen(req.Expected)+strLen(req.New)))
	c.mu.Lock()
	t := store.EncodeToken(c.token)
	c.mu.Unlock()
	if !headerSafe(t) {
		return store.Response{}, &NotAppliedError{Reason: fmt.Sprintf("the causal token %q cannot go in a header (control characters in a node id?)", t)}
	}
	if host := c.hosts[c.cur.Load()]; c.rt != nil && host != "" {
		bp := bufPool.Get().(*[]byte)
		r, err := c.post(ctx, host, path, body, t, (*bp)[:0])
		defer putBuf(bp, r.body)
		if err != nil {
			var pe *postError
			if errors.As(err, &pe) && !pe.delivered {
				return store.Response{}, &NotAppliedError{Reason: "request not sent: " + err.Error()}
			}
			return store.Response{}, &UnknownError{Reason: "request failed after it may have been sent: " + err.Error(), Err: err}
		}
		return c.classify(r.status, r.body, r.token)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint()+path, bytes.NewReader(body))
	if err != nil {
		return store.Response{}, &NotAppliedError{Reason: "build request: " + err.Error()}
	}
	hreq.Header["Content-Type"] = jsonContentType
	if t != "" {
		hreq.Header[store.TokenHeader] = []string{t}
	}
	hresp, err := c.roundTrip(hreq)
	if err != nil {
		if notSent(err) {
			return store.Response{}, &NotAppliedError{Reason: "request not sent: " + err.Error()}
		}
		return store.Response{}, &UnknownError{Reason: "request failed after it may have been sent: " + err.Error(), Err: err}
	}
	defer hresp.Body.Close()
	bp := bufPool.Get().(*[]byte)
	raw, err := readAll(hresp.Body, (*bp)[:0], 2*store.MaxBodyBytes)
	defer putBuf(bp, raw)
	if err != nil {
		return store.Response{}, &UnknownError{Reason: fmt.Sprintf("reading the reply (status %d): %v", hresp.StatusCode, err), Err: err}
	}
	return c.classify(hresp.StatusCode, raw, hresp.Header.Get(store.TokenHeader))
}

// classify turns a reply into the outcome the harness records, and
// takes the token the node sent.
func (c *Client) classify(status int, raw []byte, tokenHeader string) (store.Response, error) {
	var resp store.Response
	if err := store.DecodeResponse(raw, &resp); err != nil || resp.Outcome == "" {
		// Not our server's JSON. A 4xx from any HTTP server refuses the
		// request before acting on it; anything else might have acted.
		if status >= 400 && status < 500 && status != http.StatusRequestTimeout {
			return store.Response{}, &NotAppliedError{Reason: fmt.Sprintf("status %d: %s", status, snippet(raw))}
		}
		return store.Response{}, &UnknownError{Reason: fmt.Sprintf("unreadable reply (status %d): %s", status, snippet(raw))}
	}
	switch resp.Outcome {
	case store.OutcomeOK:
		if t, err := store.DecodeToken(tokenHeader); err == nil && len(t) > 0 {
			c.mu.Lock()
			c.token = store.Merge(c.token, t)
			c.mu.Unlock()
		}
		return resp, nil
	case store.OutcomeFail:
		return store.Response{}, &NotAppliedError{Mismatch: resp.Mismatch, Reason: resp.Error}
	default:
		return store.Response{}, &UnknownError{Reason: fmt.Sprintf("status %d: %s", status, resp.Error)}
	}
}

// headerSafe reports whether s can be a header value as it is.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

var jsonContentType = []string{"application/json"}

func strLen(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

// bufPool holds buffers for replies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 { // big ones go to the GC
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// readAll appends r's bytes to b, at most limit of them (the rest is
// left unread), as io.ReadAll(io.LimitReader(r, limit)) does.
func readAll(r io.Reader, b []byte, limit int) ([]byte, error) {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// roundTrip sends hreq. With the shared transport it skips http.Client
// (a header copy per request, kept for redirects, which the store never
// answers with: a 3xx reply is then classified like any reply that is not
// the store's JSON), wrapping errors as http.Client does.
func (c *Client) roundTrip(hreq *http.Request) (*http.Response, error) {
	if c.rt == nil {
		return c.http.Do(hreq)
	}
	resp, err := c.rt.RoundTrip(hreq)
	if err != nil {
		return nil, &url.Error{Op: "Post", URL: hreq.URL.String(), Err: err}
	}
	return resp, nil
}

// notSent reports whether a transport error happened before any byte of
// the request could have reached the server: a failed dial.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Status fetches the current node's GET /admin/status.
func (c *Client) Status(ctx context.Context) (store.Status, error) {
	var s store.Status
	err := c.admin(ctx, http.MethodGet, store.PathStatus, nil, &s)
	return s, err
}

// SetClockOffset sets the current node's clock offset (0 resets it).
func (c *Client) SetClockOffset(ctx context.Context, d time.Duration) error {
	ns := int64(d)
	var out store.ClockOffset
	if err := c.admin(ctx, http.MethodPut, store.PathClock, store.ClockOffset{OffsetNS: &ns}, &out); err != nil {
		return err
	}
	if out.Offset() != d {
		return fmt.Errorf("set clock offset on %s: node reports %v, want %v", c.Endpoint(), out.Offset(), d)
	}
	return nil
}

func (c *Client) admin(ctx context.Context, method, path string, in, out any) error {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoint()+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, store.MaxBodyBytes))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, snippet(raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	return nil
}
