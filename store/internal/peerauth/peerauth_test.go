package peerauth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	other  = []byte("fedcba9876543210fedcba9876543210")
)

func listen(t *testing.T) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewListener(ln, secret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { l.Close() })
	go func() { // an echo server on the authenticated connections
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return l
}

func TestHandshake(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		secret  []byte
		wantErr error
	}{
		{"same secret", secret, nil},
		{"another cluster's secret", other, ErrWrongSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t)
			before := l.Refused()
			c, err := Dialer(&net.Dialer{}, tc.secret)(ctx, "tcp", l.Addr().String())
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				// The server cannot tell a wrong secret from a client that
				// gave up; it refuses the connection either way.
				require.Eventually(t, func() bool { return l.Refused() == before+1 }, 5*time.Second, 10*time.Millisecond)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte("ping"))
			require.NoError(t, err)
			buf := make([]byte, 4)
			_, err = io.ReadFull(c, buf)
			require.NoError(t, err)
			assert.Equal(t, "ping", string(buf))
			assert.Equal(t, before, l.Refused())
		})
	}
}

// A server with the wrong secret is refused by the client side: a node
// never talks to an impostor either.
func TestClientRefusesWrongServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewListener(ln, other, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	_, err = Dialer(&net.Dialer{}, secret)(context.Background(), "tcp", l.Addr().String())
	require.ErrorIs(t, err, ErrWrongSecret)
}

func TestUnauthenticatedRefused(t *testing.T) {
	l := listen(t)
	// A raw stream (Raft's RPC type byte first) is cut.
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	c.Write([]byte{2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the connection must be closed, not left hanging")
	c.Close()
	// An HTTP request gets a 401 that says what is missing.
	c, err = net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	io.WriteString(c, "POST /peer/causal/replicate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, string(body), "peer secret")
	assert.Equal(t, uint64(2), l.Refused())
}

func TestCheckSecret(t *testing.T) {
	require.Error(t, CheckSecret([]byte("short")))
	require.NoError(t, CheckSecret(secret))
}
