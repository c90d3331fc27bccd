package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
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
		running, err := runningThreads(pgid)
		if err != nil {
			return err
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

// runningThreads counts the threads of group pgid's processes that are
// not stopped (state T or t) or dead (Z, X).
func runningThreads(pgid int) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	running := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		st, ok := procStat(filepath.Join("/proc", p.Name(), "stat"))
		if !ok || st.pgrp != pgid {
			continue
		}
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			continue // gone meanwhile
		}
		for _, task := range tasks {
			ts, ok := procStat(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if !ok {
				continue
			}
			switch ts.state {
			case 'T', 't', 'Z', 'X', 'x':
			default:
				running++
			}
		}
	}
	return running, nil
}

type stat struct {
	state byte
	pgrp  int
}

// procStat reads a /proc stat file: "pid (comm) state ppid pgrp ...",
// where comm may itself hold spaces and parentheses.
func procStat(path string) (stat, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return stat{}, false
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], pgrp: pgrp}, true
}
