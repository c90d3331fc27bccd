package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// byteSize is a flag holding a number of bytes, written like 512MiB, 1GiB,
// 300MB or 1048576.
type byteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.mult && v%u.mult == 0 {
			return fmt.Sprintf("%d%s", v/u.mult, u.suffix)
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 || n*float64(mult) > 1<<50 {
		return fmt.Errorf("%q is not a size: give a positive number of bytes with a unit, like 512MiB, 2GiB or 300MB", s)
	}
	*b = byteSize(n * float64(mult))
	return nil
}

func (b *byteSize) Type() string { return "size" }

// exitInterrupted is the exit code of a run stopped by Ctrl-C, SIGTERM or SIGHUP,
// whatever the part it recorded checks as: the shell's 128 + SIGINT.
const exitInterrupted = 130

// nonNegative refuses a negative duration for flag, whose zero means
// what zero says: the code behind these flags takes anything <= 0 for
// zero, so a negative value would be accepted as "no bound" (or "no
// pause") when the user surely meant something else. like is a value to
// suggest.
func nonNegative(flag string, d time.Duration, zero, like string) error {
	if d < 0 {
		return usageErr("%s must be >= 0 (0: %s), like %s, not %s", flag, zero, like, d)
	}
	return nil
}

// stopSignals stop a long-running command the way Ctrl-C does (nodes
// stopped, what was recorded checked): SIGHUP too, which a closed terminal
// or a dropped ssh session sends, and which by default would kill
// faultline with the cluster still running and nothing checked.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// signalName names a stop signal for the messages.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

var brokenPipeOnce sync.Once

// surviveBrokenPipe makes a write to a closed stdout or stderr (faultline
// run | head) fail with EPIPE instead of killing the process: Go raises
// SIGPIPE for a broken pipe on fd 1 or 2 unless SIGPIPE is notified
// (os/signal). A long command must live on to stop its cluster and check
// what it recorded. Notify rather than Ignore: an ignored signal stays
// ignored in the nodes it execs, a caught one is reset to the default.
func surviveBrokenPipe() {
	brokenPipeOnce.Do(func() { signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE) })
}
