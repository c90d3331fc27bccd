package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store/client"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

func TestFlagErrors(t *testing.T) {
	ok := []string{"--id", "n1", "--data", t.TempDir()}
	for _, tc := range []struct {
		name    string
		args    []string
		mention []string
	}{
		{"bad mode", append(ok, "--mode", "linearizable"), []string{"-mode", "strong, causal, eventual"}},
		{"bad fault", append(ok, "--faults", "stale-reads,lose-everything"), []string{"-faults", "lose-everything", "stale-reads, ack-before-fsync, skip-deps"}},
		{"bad peer", append(ok, "--peers", "n2=127.0.0.1:7102,n3"), []string{"-peers", "id=host:port"}},
		{"peer without port", append(ok, "--peers", "n2=localhost"), []string{"-peers", "id=host:port"}},
		{"duplicate peer", append(ok, "--peers", "n2=127.0.0.1:1,n2=127.0.0.1:2"), []string{"-peers", "twice"}},
		{"missing id", []string{"--data", t.TempDir()}, []string{"--id", "required"}},
		{"missing data", []string{"--id", "n1"}, []string{"--data", "required"}},
		{"unknown flag", append(ok, "--color", "blue"), []string{"color"}},
		{"stray argument", append(ok, "extra"), []string{"extra"}},
		{"open peer address without a secret", append(ok, "--peer-listen", "0.0.0.0:7101"), []string{"--peer-listen", "--peer-secret-file", "--insecure-peers"}},
		{"short secret", append(ok, "--peer-secret", "abc"), []string{"3 bytes", "at least 16"}},
		{"missing secret file", append(ok, "--peer-secret-file", "/nonexistent/secret"), []string{"--peer-secret-file", "no such file"}},
		{"two secrets", append(ok, "--peer-secret", "0123456789abcdef", "--peer-secret-file", "/x"), []string{"more than once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, &stderr)
			assert.Equal(t, 2, code)
			for _, m := range tc.mention {
				assert.Contains(t, stderr.String(), m)
			}
		})
	}
	t.Run("parsed", func(t *testing.T) {
		o, err := parseFlags([]string{"--id", "n2", "--data", "/d", "--mode", "causal", "--faults", "skip-deps", "--peers", "n1=a:1, n2=b:2,n3=c:3"}, &bytes.Buffer{})
		require.NoError(t, err)
		assert.Equal(t, "causal", string(o.mode))
		assert.True(t, o.faults.On("skip-deps"))
		assert.Equal(t, map[string]string{"n1": "a:1", "n2": "b:2", "n3": "c:3"}, o.peers)
		assert.Equal(t, "127.0.0.1:7001", o.listen)
		assert.Equal(t, "127.0.0.1:7101", o.peerListen)
		assert.Nil(t, o.peerSecret, "no secret on loopback: allowed")
	})
	t.Run("secret from a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "secret")
		require.NoError(t, os.WriteFile(f, []byte("  0123456789abcdef0123\n"), 0o600))
		o, err := parseFlags([]string{"--id", "n1", "--data", "/d", "--peer-listen", "0.0.0.0:7101", "--peer-secret-file", f}, &bytes.Buffer{})
		require.NoError(t, err)
		assert.Equal(t, "0123456789abcdef0123", string(o.peerSecret))
	})
	t.Run("insecure peers by choice", func(t *testing.T) {
		o, err := parseFlags([]string{"--id", "n1", "--data", "/d", "--peer-listen", "10.0.0.1:7101", "--insecure-peers"}, &bytes.Buffer{})
		require.NoError(t, err)
		assert.Nil(t, o.peerSecret)
	})
}

// The real binary: a bad flag exits 2, and strong mode refuses a fault it
// cannot make real (exit 1, saying why).
func TestBinaryExitCodes(t *testing.T) {
	bin := testbin.Storenode(t)
	cmd := exec.Command(bin, "--id", "n1", "--data", t.TempDir(), "--mode", "nope")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 2, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "valid modes are strong, causal, eventual")

	ports := freePorts(t, 2)
	cmd = exec.Command(bin, "--id", "n1", "--data", t.TempDir(), "--mode", "strong", "--faults", "ack-before-fsync",
		"--listen", ports[0], "--peer-listen", ports[1])
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "ack-before-fsync is not available in strong mode")
}

func freePorts(t *testing.T, n int) []string {
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// proc is one storenode process of a test cluster.
type proc struct {
	id, client, peer, data, log string
	cmd                         *exec.Cmd
}

func (p *proc) start(t *testing.T, bin, peers string) {
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer logf.Close()
	p.cmd = exec.Command(bin, "--id", p.id, "--listen", p.client, "--peer-listen", p.peer, "--peers", peers, "--data", p.data, "--mode", "strong")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	require.NoError(t, p.cmd.Start())
	cmd := p.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
}

func (p *proc) kill9(t *testing.T) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	p.cmd.Wait()
}

// Every acknowledged write survives a SIGKILL of every node at once and a
// restart on the same data dirs.
func TestDurabilityAcrossSIGKILL(t *testing.T) {
	bin := testbin.Storenode(t)
	dir := t.TempDir()
	ports := freePorts(t, 6)
	var procs []*proc
	var peerList []string
	var endpoints []string
	for i := 0; i < 3; i++ {
		p := &proc{id: fmt.Sprintf("n%d", i+1), client: ports[i], peer: ports[3+i],
			data: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), log: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))}
		procs = append(procs, p)
		peerList = append(peerList, p.id+"="+p.peer)
		endpoints = append(endpoints, p.client)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(p.log)
				t.Logf("%s log:\n%s", p.id, b)
			}
		}
	})
	peers := strings.Join(peerList, ",")
	for _, p := range procs {
		p.start(t, bin, peers)
	}
	waitWritable(t, endpoints)

	var mu sync.Mutex
	acked := map[string]string{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := client.New(client.Config{Endpoints: endpoints, Timeout: 3 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			c.Use(w % 3)
			for i := 0; i < 40; i++ {
				k, v := fmt.Sprintf("k%d-%d", w, i), fmt.Sprintf("v%d", i)
				if c.Write(context.Background(), k, v) == nil {
					mu.Lock()
					acked[k] = v
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	require.Greater(t, len(acked), 200, "most writes should be acknowledged")

	for _, p := range procs {
		p.kill9(t)
	}
	for _, p := range procs {
		p.start(t, bin, peers)
	}
	waitWritable(t, endpoints)

	c, err := client.New(client.Config{Endpoints: endpoints, Timeout: 5 * time.Second})
	require.NoError(t, err)
	for k, v := range acked {
		got, found, err := c.Read(context.Background(), k)
		require.NoError(t, err, "read %s after restart", k)
		require.True(t, found, "acknowledged write %s=%s lost after kill -9", k, v)
		require.Equal(t, v, got, "acknowledged write %s", k)
	}
	t.Logf("%d acknowledged writes all survived kill -9 of all three nodes", len(acked))

	// Graceful stop: SIGTERM ends each node with exit code 0.
	for _, p := range procs {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		err := p.cmd.Wait()
		assert.NoError(t, err, "%s exits 0 on SIGTERM", p.id)
	}
}

// waitWritable waits until a write through the first node succeeds.
func waitWritable(t *testing.T, endpoints []string) {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: endpoints, Timeout: time.Second})
	require.NoError(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Write(context.Background(), "ready", time.Now().String())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not writable: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
