package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// An interrupt in the first moments of a start, while the network or
// the first volumes are still being created in the daemon, leaves
// nothing behind either (it once left the network: a create still under
// way when the interrupt's cleanup listed the run's objects).
func TestEarlyInterruptLeavesNothing(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	bin := newTestSystem(t).bin
	newBackend(t) // the image is built: the children start creating at once
	for i, delay := range []time.Duration{50, 120, 200, 280, 350, 450} {
		delay *= time.Millisecond
		t.Run(delay.String(), func(t *testing.T) {
			runID := fmt.Sprintf("early-%d-%d-%d", os.Getpid(), i, time.Now().UnixNano())
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", childRunEnv+"="+runID, childBinEnv+"="+bin)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				assert.NoError(t, newBackend(t).removeRun(ctx, runID))
			})
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(90 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the interrupted child did not finish within 90s")
			}
			requireNothingLeft(t, runID)
		})
	}
}
