package durable_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

var clientAddr = regexp.MustCompile(`node started.* client=(127\.0\.0\.1:\d+)`)

// startNode runs cmd/storenode as a real process on loopback and returns
// it with its client address. Cleanup kills it if the test has not.
func startNode(t *testing.T, bin, mode, dir, faults string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "--id", "n1", "--mode", mode, "--data", dir,
		"--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--faults", faults)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := clientAddr.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case addr := <-found:
		return cmd, addr
	case <-time.After(15 * time.Second):
		t.Fatalf("storenode --mode %s did not report its client address", mode)
		return nil, ""
	}
}

// TestKill9 acknowledges writes on a real storenode process, SIGKILLs it
// while writes are still in flight, restarts it on the same data dir and
// reads every acknowledged write back. Without the fault nothing may be
// lost; with ack-before-fsync something must be, or the harness could
// never catch the fault.
func TestKill9(t *testing.T) {
	bin := testbin.Storenode(t)
	for _, mode := range []string{"causal", "eventual"} {
		for _, fault := range []string{"", "ack-before-fsync"} {
			t.Run(mode+"/"+fault, func(t *testing.T) {
				dir := t.TempDir()
				cmd, addr := startNode(t, bin, mode, dir, fault)
				acked := writeUntilKilled(t, cmd, addr)
				require.NotEmpty(t, acked)

				_, addr = startNode(t, bin, mode, dir, "")
				c, err := client.New(client.Config{Endpoints: []string{addr}, Timeout: 5 * time.Second})
				require.NoError(t, err)
				var lost []string
				for _, k := range acked {
					v, found, err := c.Read(context.Background(), k)
					require.NoError(t, err)
					if !found || v != k {
						lost = append(lost, k)
					}
				}
				t.Logf("%s: %d writes acknowledged before kill -9, %d lost", mode, len(acked), len(lost))
				if fault == "" {
					assert.Empty(t, lost, "acknowledged writes lost after kill -9")
				} else {
					assert.NotEmpty(t, lost, "with ack-before-fsync, kill -9 must lose acknowledged writes")
				}
			})
		}
	}
}

// writeUntilKilled runs 16 writers of distinct keys, SIGKILLs the node
// after 400 ms of acknowledgements, and returns the acknowledged keys.
func writeUntilKilled(t *testing.T, cmd *exec.Cmd, addr string) []string {
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.New(client.Config{Endpoints: []string{addr}, Timeout: 2 * time.Second})
			if !assert.NoError(t, err) {
				return
			}
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				if err := c.Write(ctx, k, k); err != nil {
					return // the node is gone
				}
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), acked...)
}
