package local

import (
	"fmt"
	"os"
	"time"

	"github.com/faultline/faultline/internal/procstat"
)

// waitStopped waits until every thread of every process in process group
// pgid is stopped. kill(SIGSTOP) returns once the signal is queued: the
// kernel wakes one thread to start the group stop, and until that thread
// runs the others go on. On a loaded machine that took long enough for a
// paused node to answer a request, so Pause waits for the stop to take
// hold, as docker's freezer does.
func waitStopped(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		running := 0
		for _, pid := range append(groupMembers(pgid), pgid) {
			running += runningThreads(pid)
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d threads of process group %d still running %s after SIGSTOP", running, pgid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThreads counts the threads of process pid that are neither
// stopped (state T or t) nor dead (Z, X); a process gone counts none.
func runningThreads(pid int) int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	running := 0
	for _, task := range tasks {
		f, err := procstat.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue
		}
		switch f[procstat.State] {
		case "T", "t", "Z", "X", "x":
		default:
			running++
		}
	}
	return running
}
