package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// httpServer serves the client/admin API and the peer API's HTTP side
// over HTTP/1.x. It replaces net/http's Server there because the per-request work
// of net/http's server (a goroutine and three deadline changes for the
// background read that watches for a client disconnect, a cancelable
// context, a response object, a header snapshot) was a measurable part
// of the CPU per request. It parses requests with http.ReadRequest
// (Content-Length and chunked bodies, header validation) and runs the
// same http.Handler; what it does not do:
//
//   - no HTTP/2 and no TLS;
//   - a request's context is never canceled: a client that disconnects
//     does not cut its request short (the node's RequestTimeout still
//     bounds it);
//   - no Hijacker, Flusher or trailers: the handlers write small JSON
//     bodies, buffered whole and sent with a Content-Length.
//
// Like the net/http Server it replaces: ReadHeaderTimeout bounds reading
// a request's headers, ReadBodyTimeout reading its body (from the end of
// its headers), IdleTimeout the wait for the next request on a
// kept-alive connection, headers are limited to MaxHeaderBytes (431 over
// it), a malformed request gets a 400 and the connection is closed,
// "Expect: 100-continue" is answered, HTTP/1.0 connections and
// "Connection: close" are closed after the response, a body the handler
// left unread is drained (up to 256 KiB, else the connection is closed),
// a handler panic closes the connection, and Close closes the listener
// and every connection without waiting for handlers still running.
type httpServer struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration
	ReadBodyTimeout   time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	Log               *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
}

// maxDrainBytes is how much of an unread request body is read and thrown
// away to keep the connection (net/http's figure).
const maxDrainBytes = 256 << 10

var errServerClosed = errors.New("client server closed")

// Serve accepts connections on ln until Close.
func (s *httpServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errServerClosed
	}
	s.ln = ln
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return errServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Like net/http: too many open files and the like pass.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.Log.Warn("client API accept", "error", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return errServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Close stops accepting and closes every connection (as net/http's
// Server.Close, handlers still running are not waited for).
func (s *httpServer) Close() error {
	s.mu.Lock()
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return err
}

// limitReader lets the header phase read at most remain bytes off the
// connection.
type limitReader struct {
	r      io.Reader
	remain int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.remain <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.remain {
		p = p[:l.remain]
	}
	n, err := l.r.Read(p)
	l.remain -= int64(n)
	return n, err
}

var errHeaderTooLarge = errors.New("request headers too large")

// respWriter buffers one response.
type respWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *respWriter) Header() http.Header { return w.header }

func (w *respWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 { // 1xx: not supported, ignored
		w.status = status
	}
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

func (s *httpServer) serveConn(c net.Conn) {
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			s.Log.Error("client API: panic serving a connection", "remote", c.RemoteAddr(), "panic", p)
		}
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	remote := c.RemoteAddr().String()
	lr := &limitReader{r: c, remain: math.MaxInt64}
	br := bufio.NewReaderSize(lr, 4<<10)
	bw := bufio.NewWriterSize(c, 4<<10)
	w := &respWriter{header: make(http.Header, 4)}
	var out []byte
	for {
		// Wait for the next request, then give its headers their time.
		if s.IdleTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		if s.ReadHeaderTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(s.ReadHeaderTimeout))
		}
		lr.remain = int64(s.MaxHeaderBytes) + 4096 // as net/http: some slack
		req, err := http.ReadRequest(br)
		tooLarge := lr.remain <= 0
		lr.remain = math.MaxInt64
		if err != nil {
			if err == io.EOF || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			status, msg := http.StatusBadRequest, "malformed HTTP request: "+err.Error()
			if tooLarge {
				status, msg = http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request headers over %d bytes", s.MaxHeaderBytes)
			}
			bw.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + msg)
			bw.Flush()
			closeWriteAndWait(c)
			return
		}
		req.RemoteAddr = remote
		keep := !req.Close && req.ProtoAtLeast(1, 1)
		hasBody := req.Body != nil && req.Body != http.NoBody
		switch {
		case hasBody && s.ReadBodyTimeout > 0:
			// The whole body within ReadBodyTimeout, however slowly it
			// trickles: a read past it fails, the handler answers 408.
			c.SetReadDeadline(time.Now().Add(s.ReadBodyTimeout))
		case s.ReadHeaderTimeout > 0 || s.IdleTimeout > 0:
			c.SetReadDeadline(time.Time{})
		}
		if ex := req.Header.Get("Expect"); ex != "" {
			if !strings.EqualFold(ex, "100-continue") || !req.ProtoAtLeast(1, 1) {
				bw.WriteString("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				bw.Flush()
				closeWriteAndWait(c)
				return
			}
			if hasBody {
				bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
				if bw.Flush() != nil {
					return
				}
			}
		}

		clear(w.header)
		w.status, w.body = 0, w.body[:0]
		s.Handler.ServeHTTP(w, req)
		if w.status == 0 {
			w.status = http.StatusOK
		}
		unread := false
		if hasBody {
			// Whatever the handler left unread: drained, or the
			// connection cannot carry another request.
			if _, err := io.CopyN(io.Discard, req.Body, maxDrainBytes+1); err != io.EOF {
				keep, unread = false, true // and no Close: it would read all the rest
			} else {
				req.Body.Close()
			}
		}
		if s.isClosed() {
			keep = false
		}

		out = appendResponseHead(out[:0], w, req.Method == http.MethodHead, keep)
		if req.Method != http.MethodHead && bodyAllowed(w.status) {
			out = append(out, w.body...)
		}
		bw.Write(out)
		if bw.Flush() != nil {
			return
		}
		if !keep {
			if unread {
				closeWriteAndWait(c)
			}
			return
		}
		if cap(w.body) > 64<<10 {
			w.body = nil
		}
		if cap(out) > 64<<10 {
			out = nil
		}
	}
}

// closeWriteAndWait half-closes c and waits a little before it is
// closed, so that a reply sent while the client's request is still
// arriving reaches the client instead of being lost to a TCP reset (what
// net/http does in the same cases).
func closeWriteAndWait(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	time.Sleep(500 * time.Millisecond)
}

func (s *httpServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// appendResponseHead appends the status line and headers: the handler's,
// then Content-Type (sniffed when the handler set none, as net/http
// does), Date, Content-Length and Connection: close when the connection
// ends.
func appendResponseHead(b []byte, w *respWriter, head, keep bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	if text := http.StatusText(w.status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(w.status), 10)
	}
	b = append(b, "\r\n"...)
	if bodyAllowed(w.status) && len(w.body) > 0 && w.header["Content-Type"] == nil {
		w.header["Content-Type"] = []string{http.DetectContentType(w.body)}
	}
	for k, vs := range w.header {
		switch k {
		case "Content-Length", "Connection", "Transfer-Encoding", "Date":
			continue // ours
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\n"...)
	if bodyAllowed(w.status) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.body)), 10)
		b = append(b, "\r\n"...)
	}
	if !keep {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendHeaderValue appends v with CR and LF replaced by spaces (as
// net/http does), so no value can split the response.
func appendHeaderValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// httpDate is the Date header, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &dateValue{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.s
}

type dateValue struct {
	sec int64
	s   string
}

var cachedDate atomic.Pointer[dateValue]
