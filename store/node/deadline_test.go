package node_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/node"
)

// A body trickled a byte at a time, on the client address and on the
// peer address, is cut off with 408 once ReadBodyTimeout has passed
// since its headers, instead of holding the connection for as long as
// the sender likes.
func TestTrickledBodyTimesOut(t *testing.T) {
	t.Parallel()
	const timeout = 700 * time.Millisecond
	n, err := node.Start(context.Background(), node.Config{
		ID: "n1", Mode: store.Causal, ClientListen: "127.0.0.1:0", PeerListen: "127.0.0.1:0",
		DataDir: t.TempDir(), Logger: testLogger(t), ReadBodyTimeout: timeout,
	})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	for _, tc := range []struct{ name, addr, path string }{
		{"client address", n.ClientAddr(), store.PathWrite},
		{"peer address", n.PeerAddr(), "/peer/causal/replicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", tc.addr)
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, "POST "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
			require.NoError(t, err)
			start := time.Now()
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte every 100 ms: 10 s for the whole body
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						if _, err := c.Write([]byte(" ")); err != nil {
							return
						}
					}
				}
			}()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err, "no answer: the trickled body held the connection")
			body, _ := io.ReadAll(resp.Body)
			took := time.Since(start)
			assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%s", body)
			assert.True(t, strings.HasPrefix(string(body), `{"outcome":"fail"`), "a JSON answer: %s", body)
			assert.GreaterOrEqual(t, took, timeout-50*time.Millisecond)
			assert.Less(t, took, timeout+2*time.Second)
		})
	}
}
