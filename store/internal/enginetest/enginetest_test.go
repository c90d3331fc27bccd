package enginetest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// named is an HTTP server on loopback that answers its name.
func named(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// get asks through addr; the client keeps its connection open between
// calls, so a cut must close it.
func get(c *http.Client, addr string) (string, error) {
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestProxyCutHealRetarget(t *testing.T) {
	p := NewProxy(t, named(t, "a"))
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}

	got, err := get(c, p.Addr())
	require.NoError(t, err)
	assert.Equal(t, "a", got)

	p.Cut()
	_, err = get(c, p.Addr())
	assert.Error(t, err, "a cut link drops the open connection and refuses new ones")

	p.Heal()
	got, err = get(c, p.Addr())
	require.NoError(t, err, "a healed link lets new connections through")
	assert.Equal(t, "a", got)

	p.SetTarget(named(t, "b"))
	tr.CloseIdleConnections()
	got, err = get(c, p.Addr())
	require.NoError(t, err)
	assert.Equal(t, "b", got, "new connections go to the new target")
}
