package enginetest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo serves lines back with prefix on loopback until the test ends.
func echo(t *testing.T, prefix string) string {
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
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, prefix+line)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func dial(t *testing.T, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxyCutHealRetarget(t *testing.T) {
	p := NewProxy(t, echo(t, "a:"))
	open := dial(t, p.Addr())
	got, err := roundTrip(t, open, "hi")
	require.NoError(t, err)
	assert.Equal(t, "a:hi\n", got)

	p.Cut()
	_, err = roundTrip(t, open, "again")
	assert.Error(t, err, "a cut drops open connections")
	_, err = roundTrip(t, dial(t, p.Addr()), "new")
	assert.Error(t, err, "a cut link refuses new connections")

	p.Heal()
	got, err = roundTrip(t, dial(t, p.Addr()), "back")
	require.NoError(t, err)
	assert.Equal(t, "a:back\n", got)

	p.SetTarget(echo(t, "b:"))
	got, err = roundTrip(t, dial(t, p.Addr()), "moved")
	require.NoError(t, err)
	assert.Equal(t, "b:moved\n", got, "new connections go to the new target")
}
