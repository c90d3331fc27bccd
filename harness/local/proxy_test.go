package local

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer answers every line with the same line, on loopback.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func newTestLink(t *testing.T) (*link, net.Conn, *bufio.Reader) {
	t.Helper()
	l, err := newLink("a", "b", echoServer(t), 1)
	require.NoError(t, err)
	t.Cleanup(func() { l.close() })
	c, err := net.Dial("tcp", l.addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return l, c, bufio.NewReader(c)
}

// roundTrip sends a line and waits up to wait for the echo.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string, wait time.Duration) (string, error) {
	t.Helper()
	_, err := c.Write([]byte(msg + "\n"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(wait))
	line, err := r.ReadString('\n')
	c.SetReadDeadline(time.Time{})
	return line, err
}

func TestLinkForwards(t *testing.T) {
	_, c, r := newTestLink(t)
	line, err := roundTrip(t, c, r, "hello", time.Second)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)
}

func TestLinkBlackholeEachDirectionThenHeal(t *testing.T) {
	for _, dir := range []int{forward, backward} {
		t.Run(map[int]string{forward: "forward", backward: "backward"}[dir], func(t *testing.T) {
			l, c, r := newTestLink(t)
			l.setBlock(dir, true)
			_, err := roundTrip(t, c, r, "lost?", 300*time.Millisecond)
			require.Error(t, err, "nothing comes back through a cut direction")
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout(), "the connection stalls, it is not closed")
			l.setBlock(dir, false)
			// What was held is delivered after the heal, in order.
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "lost?\n", line)
			line, err = roundTrip(t, c, r, "after", time.Second)
			require.NoError(t, err)
			assert.Equal(t, "after\n", line)
		})
	}
}

func TestLinkDelay(t *testing.T) {
	l, c, r := newTestLink(t)
	l.setShape(forward, shaping{delay: 300 * time.Millisecond})
	start := time.Now()
	_, err := roundTrip(t, c, r, "slow", 3*time.Second)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	l.setShape(forward, shaping{})
	assert.Zero(t, l.delayFor(forward), "the delay is cleared")
	start = time.Now()
	_, err = roundTrip(t, c, r, "fast", 3*time.Second)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 300*time.Millisecond, "a loopback round trip without the delay")
}

func TestLinkLossCostsRetransmitDelay(t *testing.T) {
	l, c, r := newTestLink(t)
	l.setShape(forward, shaping{loss: 100})
	start := time.Now()
	_, err := roundTrip(t, c, r, "lossy", 2*time.Second)
	require.NoError(t, err, "TCP delivers a lost segment in the end")
	assert.GreaterOrEqual(t, time.Since(start), RetransmitDelay)
}

func TestLinkReset(t *testing.T) {
	l, c, r := newTestLink(t)
	_, err := roundTrip(t, c, r, "x", time.Second)
	require.NoError(t, err)
	l.reset()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = r.ReadString('\n')
	require.Error(t, err, "the connection is closed by the reset")
	var ne net.Error
	if errors.As(err, &ne) {
		assert.False(t, ne.Timeout(), "closed, not stalled")
	}
}
