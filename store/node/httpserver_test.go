package node

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startTestServer serves h on a loopback port with short timeouts.
func startTestServer(t *testing.T, h http.Handler, idle, header time.Duration) (*httpServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &httpServer{Handler: h, IdleTimeout: idle, ReadHeaderTimeout: header, MaxHeaderBytes: 1 << 10,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s, ln.Addr().String()
}

// echo answers with the method, path and body it read, and a few
// headers of its own.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/unread":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"unread":true}`)
		return
	case "/panic":
		panic(http.ErrAbortHandler)
	case "/sniff":
		io.WriteString(w, "<html><body>hi</body></html>")
		return
	case "/inject":
		w.Header().Set("X-Evil", "a\r\nSet-Cookie: x=1")
		w.WriteHeader(http.StatusTeapot)
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
})

type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, s string) {
	_, err := io.WriteString(c, s)
	require.NoError(t, err)
}

func (c *rawConn) response(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// closed reports whether the server closed the connection (EOF with
// nothing more to read).
func (c *rawConn) closed(t *testing.T) bool {
	_, err := c.br.ReadByte()
	return err == io.EOF
}

func TestClientServerKeepAliveAndPipelining(t *testing.T) {
	_, addr := startTestServer(t, echo, time.Minute, time.Minute)
	c := dialRaw(t, addr)
	// Two requests in one write, a third after: three answers in order.
	c.send(t, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo")
	for _, want := range []string{"POST /a one", "POST /b two"} {
		resp, body := c.response(t, "POST")
		assert.Equal(t, 201, resp.StatusCode)
		assert.Equal(t, want, body)
		assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
		assert.NotEmpty(t, resp.Header.Get("Date"))
		assert.False(t, resp.Close)
	}
	// A chunked body.
	c.send(t, "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nthr\r\n2\r\nee\r\n0\r\n\r\n")
	resp, body := c.response(t, "POST")
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, "POST /c three", body)
	// HEAD: headers only.
	c.send(t, "HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.response(t, "HEAD")
	assert.Equal(t, 201, resp.StatusCode)
	assert.Empty(t, body)
	// Still open: one more.
	c.send(t, "GET /e HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body = c.response(t, "GET")
	assert.Equal(t, "GET /e ", body)
}

func TestClientServerClosesWhenAsked(t *testing.T) {
	_, addr := startTestServer(t, echo, time.Minute, time.Minute)
	for name, req := range map[string]string{
		"connection close": "POST /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
		"http/1.0":         "POST /a HTTP/1.0\r\nContent-Length: 1\r\n\r\nx",
		"http/1.0 keep":    "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(t, req)
			resp, body := c.response(t, "POST")
			assert.Equal(t, "POST /a x", body)
			assert.True(t, resp.Close, "Connection: close in the reply")
			assert.True(t, c.closed(t))
		})
	}
}

func TestClientServerExpectContinue(t *testing.T) {
	_, addr := startTestServer(t, echo, time.Minute, time.Minute)
	c := dialRaw(t, addr)
	c.send(t, "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	line, _ = c.br.ReadString('\n')
	assert.Equal(t, "\r\n", line)
	c.send(t, "body")
	resp, body := c.response(t, "POST")
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, "POST /a body", body)

	c.send(t, "POST /a HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 4\r\n\r\nbody")
	resp, _ = c.response(t, "POST")
	assert.Equal(t, http.StatusExpectationFailed, resp.StatusCode)
	assert.True(t, c.closed(t))
}

func TestClientServerBadRequests(t *testing.T) {
	_, addr := startTestServer(t, echo, time.Minute, time.Minute)
	for name, tc := range map[string]struct {
		req    string
		status int
	}{
		"garbage":            {"hello there\r\n\r\n", 400},
		"bad content-length": {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n", 400},
		"headers too large":  {"GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 16<<10) + "\r\n\r\n", 431},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(t, tc.req)
			resp, _ := c.response(t, "GET")
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.True(t, c.closed(t))
		})
	}
}

// A body the handler did not read is drained when small (the connection
// goes on) and ends the connection when large.
func TestClientServerUnreadBody(t *testing.T) {
	_, addr := startTestServer(t, echo, time.Minute, time.Minute)
	c := dialRaw(t, addr)
	c.send(t, "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	resp, body := c.response(t, "POST")
	assert.Equal(t, `{"unread":true}`, body)
	assert.False(t, resp.Close)
	c.send(t, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz")
	_, body = c.response(t, "POST")
	assert.Equal(t, "POST /a z", body)

	big := maxDrainBytes + 10
	c.send(t, "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(big)+"\r\n\r\n")
	go io.WriteString(c, strings.Repeat("x", big))
	resp, _ = c.response(t, "POST")
	assert.True(t, resp.Close)
}

func TestClientServerHeadersAndPanics(t *testing.T) {
	_, addr := startTestServer(t, echo, time.Minute, time.Minute)
	c := dialRaw(t, addr)
	c.send(t, "GET /sniff HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.response(t, "GET")
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), "sniffed as net/http does")
	c.send(t, "GET /inject HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ = c.response(t, "GET")
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Set-Cookie"), "no header injection")
	assert.Equal(t, "a  Set-Cookie: x=1", resp.Header.Get("X-Evil"))

	c.send(t, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.True(t, c.closed(t), "a panic closes the connection")
	c2 := dialRaw(t, addr) // and the server goes on
	c2.send(t, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := c2.response(t, "GET")
	assert.Equal(t, "GET /a ", body)
}

func TestClientServerTimeoutsAndClose(t *testing.T) {
	s, addr := startTestServer(t, echo, 200*time.Millisecond, 200*time.Millisecond)
	// Idle after a request: closed after the idle timeout.
	c := dialRaw(t, addr)
	c.send(t, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	c.response(t, "GET")
	start := time.Now()
	assert.True(t, c.closed(t))
	assert.Less(t, time.Since(start), 3*time.Second)
	// Headers that never end: closed after the header timeout.
	c = dialRaw(t, addr)
	c.send(t, "GET /a HTTP/1.1\r\nHost: x\r\n")
	start = time.Now()
	assert.True(t, c.closed(t))
	assert.Less(t, time.Since(start), 3*time.Second)

	// Close cuts idle connections and stops accepting.
	c = dialRaw(t, addr)
	c.send(t, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	c.response(t, "GET")
	require.NoError(t, s.Close())
	assert.True(t, c.closed(t))
	_, err := net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err)
}
