package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/internal/testbin"
)

// startSingle starts a one-node cluster of mode as a real process (no
// peer secret: the peer address is loopback, and the size limit, not
// the handshake, is under test) and waits until it takes writes.
func startSingle(t *testing.T, mode string) *proc {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 2)
	p := &proc{id: "n1", client: ports[0], peer: ports[1], data: filepath.Join(dir, "n1"), log: filepath.Join(dir, "n1.log")}
	logf, err := os.Create(p.log)
	require.NoError(t, err)
	defer logf.Close()
	p.cmd = testbinCommand(t, "--id", p.id, "--listen", p.client, "--peer-listen", p.peer, "--data", p.data, "--mode", mode)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("node log:\n%s", b)
		}
	})
	waitWritable(t, []string{p.client})
	return p
}

// rssBytes is a process's resident set size.
func rssBytes(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Eight parallel 100 MB POSTs to a peer endpoint, with their length
// declared and then chunked (no length), are refused with 413 and keep
// the node under 100 MB of RSS (before the limit, one node went from
// 15 MB to 1.5 GB).
func TestPeerBodiesBounded(t *testing.T) {
	t.Parallel()
	const size, parallel, rssLimit = 100 << 20, 8, 100 << 20
	for _, tc := range []struct{ mode, path string }{
		{"causal", "/peer/causal/replicate"},
		{"eventual", "/peer/eventual/replicate"},
		{"strong", "/peer/forward/write"},
		{"strong", "/peer/strong/forward-batch"},
	} {
		t.Run(tc.mode+tc.path, func(t *testing.T) {
			t.Parallel()
			p := startSingle(t, tc.mode)
			pid := p.cmd.Process.Pid
			before := rssBytes(t, pid)
			var peak atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if r := rssBytes(t, pid); r > peak.Load() {
						peak.Store(r)
					}
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}()
			for _, chunked := range []bool{false, true} {
				var wg sync.WaitGroup
				for range parallel {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var body io.Reader = io.LimitReader(zeros{}, size)
						req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+p.peer+tc.path, body)
						require.NoError(t, err)
						req.ContentLength = size
						if chunked {
							req.ContentLength = -1 // the Go client then sends it chunked
						}
						cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
						resp, err := cl.Do(req)
						if err != nil {
							// A chunked sender may see its connection cut
							// before it reads the 413; the RSS is what counts.
							assert.True(t, chunked, "a declared 100 MB body: %v", err)
							return
						}
						msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
						resp.Body.Close()
						if chunked && strings.Contains(tc.path, "forward") {
							// A JSON endpoint stops at the first zero byte.
							assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "chunked: %s", msg)
						} else {
							assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "chunked=%v: %s", chunked, msg)
						}
						assert.True(t, bytes.HasPrefix(msg, []byte(`{"outcome":"fail"`)), "a JSON answer: %s", msg)
					}()
				}
				wg.Wait()
			}
			close(stop)
			<-sampled
			t.Logf("%s %s: RSS %d MB before, peak %d MB during %d parallel 100 MB POSTs (declared, then chunked)", tc.mode, tc.path, before>>20, peak.Load()>>20, parallel)
			assert.Less(t, peak.Load(), int64(rssLimit), "peak RSS")
		})
	}
}

func testbinCommand(t *testing.T, args ...string) *exec.Cmd {
	return exec.Command(testbin.Storenode(t), args...)
}
