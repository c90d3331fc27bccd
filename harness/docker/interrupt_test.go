package docker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
)

// The child harness: the test binary re-executed with childEnv set starts
// a 2-node cluster, says READY and waits to be interrupted or killed.
const (
	childEnv    = "FAULTLINE_DOCKER_TEST_CHILD"
	childRunEnv = "FAULTLINE_DOCKER_TEST_RUN"
	childBinEnv = "FAULTLINE_DOCKER_TEST_BIN"
)

func childMain() int {
	b, err := New(Options{NoReap: true, ReadyTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	c, err := b.StartCluster(context.Background(), testSystem{bin: os.Getenv(childBinEnv)},
		harness.ClusterSpec{RunID: os.Getenv(childRunEnv), Nodes: 2}) // no Dir: no logs to keep
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("READY")
	select {
	case <-c.done: // closed by the backend's own SIGINT/SIGTERM handler
		if c.closeErr != nil {
			fmt.Fprintln(os.Stderr, "child: close:", c.closeErr)
			return 1
		}
		return 0
	case <-time.After(2 * time.Minute):
		return 2
	}
}

// startChild runs the child harness and waits until its cluster is up.
func startChild(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	runID := fmt.Sprintf("child-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childRunEnv+"="+runID, childBinEnv+"="+newTestSystem(t).bin)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		// Whatever happened, no child and nothing of its run survives.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b := newBackend(t)
		assert.NoError(t, b.removeRun(ctx, runID))
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "READY" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "the child harness ended before its cluster was ready")
	case <-time.After(90 * time.Second):
		t.Fatal("the child harness's cluster was not ready within 90s")
	}
	return cmd, runID
}

func TestKilledHarnessIsReapedByTheNextOne(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	cmd, runID := startChild(t)
	require.Equal(t, 2+1+2, leftovers(t, runID), "the child's 2 containers, network and 2 volumes exist")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	assert.Equal(t, 5, leftovers(t, runID), "a SIGKILLed harness cannot clean up")

	// A live harness's run is never reaped: this process's own cluster
	// survives the reaping.
	mine := startCluster(t, newBackend(t), newTestSystem(t), 1)

	_, err := New(Options{}) // New reaps the dead harness's run
	require.NoError(t, err)
	requireNothingLeft(t, runID)
	assert.Equal(t, 3, leftovers(t, mine.runID), "the live harness's run must survive reaping")
}

func TestInterruptedHarnessRemovesEverything(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd, runID := startChild(t)
			require.Positive(t, leftovers(t, runID))
			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err, "the child must clean up and exit 0")
			case <-time.After(90 * time.Second):
				t.Fatal("the interrupted child did not finish cleaning up within 90s")
			}
			requireNothingLeft(t, runID)
		})
	}
}
