// Package procstat reads a process's (or a thread's) stat file under
// /proc: "pid (comm) state ppid pgrp ...", where the command name may
// itself hold spaces and parentheses, so the fields are counted from its
// last ')'.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Indices into Fields, counted from the state (field 3 of proc(5)).
const (
	State     = 0  // R, S, D, T, t, Z, X, ...
	PGrp      = 2  // the process group id
	UTime     = 11 // user CPU time, in clock ticks
	STime     = 12 // system CPU time, in clock ticks
	StartTime = 19 // start time, in clock ticks since boot
)

// Read returns the fields of /proc/<pid>/stat from the state on.
func Read(pid int) ([]string, error) { return ReadFile(fmt.Sprintf("/proc/%d/stat", pid)) }

// ReadFile returns the fields of the stat file at path (a process's or a
// thread's, /proc/<pid>/task/<tid>/stat) from the state on; an error when
// the file cannot be read or holds fewer than StartTime+1 of them.
func ReadFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("unreadable %s: no command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) <= StartTime {
		return nil, fmt.Errorf("unreadable %s: %d fields", path, len(f))
	}
	return f, nil
}
