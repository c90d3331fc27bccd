package client

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/faultline/faultline/store"
)

// The client API's requests go, when Config.HTTPClient is nil, over a
// pool of kept-alive HTTP/1.1 connections that the calling goroutine
// drives itself: it writes the request in one write and reads the reply
// with net/http's parser (http.ReadResponse). net/http's Transport hands
// every request to a writer goroutine and its reply back from a reader
// goroutine; with many clients in one process those handoffs were about
// half the client's CPU per request. The Transport still serves the
// admin API and any Config.HTTPClient.

// pool is the shared pool of idle connections, per host:port.
var pool = &connPool{idle: map[string][]*poolConn{}, dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}

const (
	maxIdlePerHost = 256
	// idleTimeout: older idle connections are closed, not reused (the
	// node closes its side after two minutes).
	idleTimeout = 90 * time.Second
)

type connPool struct {
	mu     sync.Mutex
	idle   map[string][]*poolConn
	dialer net.Dialer
}

type poolConn struct {
	net.Conn
	host      string // the pool key: the address it was dialed to
	br        *bufio.Reader
	idleSince time.Time
}

// get returns an idle connection to host (reused true) or dials one.
func (p *connPool) get(ctx context.Context, host string) (pc *poolConn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	for cs := p.idle[host]; len(cs) > 0; cs = p.idle[host] {
		pc = cs[len(cs)-1]
		p.idle[host] = cs[:len(cs)-1]
		if now.Sub(pc.idleSince) < idleTimeout {
			p.mu.Unlock()
			return pc, true, nil
		}
		pc.Close()
	}
	p.mu.Unlock()
	c, err := p.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, false, err
	}
	return &poolConn{Conn: c, host: host, br: bufio.NewReaderSize(c, 4<<10)}, false, nil
}

// put keeps pc for reuse (or closes it when the pool is full).
func (p *connPool) put(host string, pc *poolConn) {
	pc.idleSince = time.Now()
	p.mu.Lock()
	if len(p.idle[host]) < maxIdlePerHost {
		p.idle[host] = append(p.idle[host], pc)
		pc = nil
	}
	p.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
}

// reply is what post read back.
type reply struct {
	status int
	token  string // the token header
	body   []byte
	close  bool // the connection cannot be reused
}

// postError is a failed post: delivered says whether the request may
// have reached the server (false only when that is certain).
type postError struct {
	err       error
	delivered bool
}

func (e *postError) Error() string { return e.err.Error() }
func (e *postError) Unwrap() error { return e.err }

// aLongTimeAgo is a deadline in the past: it interrupts pending IO.
var aLongTimeAgo = time.Unix(1, 0)

// post sends one POST to http://host+path with a JSON body (and the
// token header when token is not empty) and reads the whole reply into
// buf. A request written on a reused connection that the node had
// already closed (it drops idle connections) fails before any reply
// byte; it is sent once more on a new connection. That is safe for
// every request of the API: reads change nothing and writes carry a
// request id the node applies at most once.
func (c *Client) post(ctx context.Context, host, path string, body []byte, token string, buf []byte) (reply, error) {
	head := make([]byte, 0, 160+len(host)+len(token))
	head = append(head, "POST "...)
	head = append(head, path...)
	head = append(head, " HTTP/1.1\r\nHost: "...)
	head = append(head, host...)
	head = append(head, "\r\nUser-Agent: faultline-store-client\r\nContent-Type: application/json\r\nContent-Length: "...)
	head = strconv.AppendInt(head, int64(len(body)), 10)
	head = append(head, "\r\n"...)
	if token != "" {
		head = append(head, store.TokenHeader+": "...)
		head = append(head, token...)
		head = append(head, "\r\n"...)
	}
	head = append(head, "\r\n"...)
	msg := append(head, body...)

	delivered := false
	for attempt := 0; ; attempt++ {
		pc, reused, err := pool.get(ctx, host)
		if err != nil {
			return reply{}, &postError{err: err, delivered: delivered}
		}
		r, sent, err := exchange(ctx, pc, msg, buf)
		if err == nil {
			return r, nil
		}
		pc.Close()
		delivered = delivered || sent
		// A reused connection that fails before any byte of a reply,
		// while the context is live, is most likely one the node closed
		// while it idled: once more, on a fresh connection.
		if reused && attempt == 0 && ctx.Err() == nil && errors.Is(err, errNoReply) {
			continue
		}
		return reply{}, &postError{err: err, delivered: delivered}
	}
}

// errNoReply marks a connection that ended before any byte of the reply.
var errNoReply = errors.New("connection closed before the reply began")

// exchange writes msg on pc and reads the reply. sent is false only if
// no byte of msg left. After a success pc is back in the pool (or
// closed); after an error the caller closes it.
func exchange(ctx context.Context, pc *poolConn, msg, buf []byte) (r reply, sent bool, err error) {
	if d, ok := ctx.Deadline(); ok {
		pc.SetDeadline(d)
	} else {
		pc.SetDeadline(time.Time{})
	}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { pc.SetDeadline(aLongTimeAgo) })
	}
	r, sent, err = roundTrip(ctx, pc, msg, buf)
	// stop is false when the context ended and spoiled the deadline
	// (even if the reply made it): such a connection is not reused.
	if stopped := stop(); err == nil {
		if !stopped || r.close {
			pc.Close()
		} else {
			pc.SetDeadline(time.Time{})
			pool.put(pc.host, pc)
		}
	}
	return r, sent, err
}

func roundTrip(ctx context.Context, pc *poolConn, msg, buf []byte) (reply, bool, error) {
	n, err := pc.Write(msg)
	if err != nil {
		return reply{}, n > 0, ctxErr(ctx, err)
	}
	if _, err := pc.br.Peek(1); err != nil {
		return reply{}, true, ctxErr(ctx, errors.Join(errNoReply, err))
	}
	resp, err := http.ReadResponse(pc.br, nil)
	if err != nil {
		return reply{}, true, ctxErr(ctx, err)
	}
	r := reply{status: resp.StatusCode, token: resp.Header.Get(store.TokenHeader)}
	r.body, err = readAll(resp.Body, buf, maxReply+1)
	if err != nil {
		return reply{}, true, ctxErr(ctx, err)
	}
	// A reply over the limit was not read to its end: the connection
	// cannot carry another request.
	r.close = resp.Close || len(r.body) > maxReply
	return r, true, nil
}

// maxReply bounds a reply body; longer ones are cut there (and fail to
// decode, which classifies them).
const maxReply = 2 * store.MaxBodyBytes

// ctxErr prefers the context's error (deadline, cancel) to the IO error
// it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return errors.Join(cerr, err)
	}
	return err
}
