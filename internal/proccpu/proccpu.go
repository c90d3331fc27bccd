// Package proccpu reads how much CPU a process has used, for benchmarks
// that report the servers' CPU per operation beside the load generator's.
package proccpu

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Of is the user+system CPU time process pid has used so far, from
// /proc/<pid>/stat; 0 when the process is gone or the file unreadable.
func Of(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count from its ')'.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
