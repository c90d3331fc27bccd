package client_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store/client"
)

// scriptedServer is a raw HTTP/1.1 server on loopback: for the n-th
// request it receives (counting from 0, over all connections) it calls
// act, which answers on w or returns false to close the connection
// without a reply. It counts the requests it read whole.
type scriptedServer struct {
	ln       net.Listener
	requests atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
}

func newScriptedServer(t *testing.T, act func(n int, w io.Writer) bool) *scriptedServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &scriptedServer{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, conn)
			s.mu.Unlock()
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					n := int(s.requests.Add(1)) - 1
					if !act(n, conn) {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

const okReply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"outcome\":\"ok\"}"

// closeIdle closes every connection the server has accepted so far, as a
// node does with connections that idle too long.
func (s *scriptedServer) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// A kept-alive connection the node closed while it idled is replaced:
// the request goes through, and the node sees it once.
func TestIdleConnectionClosedByTheNodeIsReplaced(t *testing.T) {
	s := newScriptedServer(t, func(n int, w io.Writer) bool { io.WriteString(w, okReply); return true })
	c, err := client.New(client.Config{Endpoints: []string{s.ln.Addr().String()}, Timeout: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, c.Write(context.Background(), "k", "1"))
	s.closeIdle()
	time.Sleep(50 * time.Millisecond) // let the FIN arrive
	require.NoError(t, c.Write(context.Background(), "k", "2"))
	assert.EqualValues(t, 2, s.requests.Load(), "each write reached the node once")
}

// A node that read the request and then went away without a reply (a
// crash) leaves the outcome unknown, never "not applied", even when the
// retry on a new connection finds the node gone.
func TestNodeGoneAfterReadingIsUnknown(t *testing.T) {
	var s *scriptedServer
	s = newScriptedServer(t, func(n int, w io.Writer) bool {
		if n == 0 {
			io.WriteString(w, okReply)
			return true
		}
		s.ln.Close() // the node is gone: no new connection either
		return false
	})
	c, err := client.New(client.Config{Endpoints: []string{s.ln.Addr().String()}, Timeout: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, c.Write(context.Background(), "k", "1"))
	err = c.Write(context.Background(), "k", "2")
	var unk *client.UnknownError
	require.ErrorAs(t, err, &unk, "got %T %v", err, err)
}

// A context canceled while the node has the request: unknown, and soon.
func TestCanceledWhileWaitingIsUnknown(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newScriptedServer(t, func(n int, w io.Writer) bool { <-release; return false })
	c, err := client.New(client.Config{Endpoints: []string{s.ln.Addr().String()}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = c.Write(ctx, "k", "1")
	var unk *client.UnknownError
	require.ErrorAs(t, err, &unk, "got %T %v", err, err)
	assert.Less(t, time.Since(start), 2*time.Second)
}

// Many concurrent clients share the pool; every request gets its own
// reply (no reply crosses to another request).
func TestConcurrentRequestsGetTheirOwnReplies(t *testing.T) {
	addr := oneNode(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.New(client.Config{Endpoints: []string{addr}, Timeout: 5 * time.Second})
			if !assert.NoError(t, err) {
				return
			}
			for j := range 20 {
				key, val := "k"+string(rune('a'+i)), string(rune('a'+j))
				if !assert.NoError(t, c.Write(context.Background(), key, val)) {
					return
				}
				got, found, err := c.Read(context.Background(), key)
				if !assert.NoError(t, err) || !assert.True(t, found) || !assert.Equal(t, val, got) {
					return
				}
			}
		}()
	}
	wg.Wait()
}
