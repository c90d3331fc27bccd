// Package proccpu reads how much CPU a process has used, for benchmarks
// that report the servers' CPU per operation beside the load generator's.
package proccpu

import (
	"strconv"
	"time"

	"github.com/faultline/faultline/internal/procstat"
)

// Of is the user+system CPU time process pid has used so far, from
// /proc/<pid>/stat; 0 when the process is gone or the file unreadable.
func Of(pid int) time.Duration {
	f, err := procstat.Read(pid)
	if err != nil {
		return 0
	}
	utime, _ := strconv.ParseInt(f[procstat.UTime], 10, 64)
	stime, _ := strconv.ParseInt(f[procstat.STime], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
