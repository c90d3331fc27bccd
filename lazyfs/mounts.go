package lazyfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline/faultline/internal/procstat"
)

// A mount's source in /proc/self/mountinfo names its owner:
// faultline-lazyfs:<pid>:<start time of pid in clock ticks since boot>.
// The start time tells a live owner from a new process that got its pid.

// ownerTag names the mounts made by process pid.
func ownerTag(pid int) (string, error) {
	start, err := startTime(pid)
	if err != nil {
		return "", fmt.Errorf("lazyfs: %w", err)
	}
	return fmt.Sprintf("%s:%d:%s", fsName, pid, start), nil
}

// startTime is field 22 of /proc/<pid>/stat.
func startTime(pid int) (string, error) {
	f, err := procstat.Read(pid)
	if err != nil {
		return "", err
	}
	return f[procstat.StartTime], nil
}

// MountInfo is a lazyfs mount found in /proc/self/mountinfo.
type MountInfo struct {
	Point string // the mount point
	Owner int    // the pid of the process that serves it
	Live  bool   // that process still runs (the same process, not a reused pid)
}

// Mounts lists the lazyfs mounts visible to this process.
func Mounts() ([]MountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("lazyfs: list mounts: %w", err)
	}
	defer f.Close()
	var out []MountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		point, fstype, source, ok := parseMountinfo(sc.Text())
		if !ok || fstype != FSType {
			continue
		}
		m := MountInfo{Point: point}
		parts := strings.Split(source, ":")
		if len(parts) == 3 && parts[0] == fsName {
			if pid, err := strconv.Atoi(parts[1]); err == nil {
				m.Owner = pid
				start, err := startTime(pid)
				m.Live = err == nil && start == parts[2]
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lazyfs: list mounts: %w", err)
	}
	return out, nil
}

// parseMountinfo returns the mount point, type and source of one line of
// /proc/self/mountinfo.
func parseMountinfo(line string) (point, fstype, source string, ok bool) {
	f := strings.Fields(line)
	sep := -1
	for i, s := range f {
		if s == "-" && i >= 6 {
			sep = i
			break
		}
	}
	if sep < 0 || len(f) < sep+3 {
		return "", "", "", false
	}
	return unescape(f[4]), f[sep+1], unescape(f[sep+2]), true
}

// unescape undoes mountinfo's octal escapes (\040 for a space, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsMounted reports whether path is a mount point of any filesystem.
func IsMounted(path string) (bool, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("lazyfs: list mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if point, _, _, ok := parseMountinfo(sc.Text()); ok && point == p {
			return true, nil
		}
	}
	return false, sc.Err()
}

// Reap lazily unmounts every lazyfs mount whose owner is gone (a harness
// that died), under dir when dir is not "" (everywhere otherwise). Mounts
// of live owners are left alone, whoever they are. It returns the mount
// points it unmounted.
func Reap(dir string) ([]string, error) {
	ms, err := Mounts()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, err
		}
	}
	var done []string
	var errs []error
	for _, m := range ms {
		if m.Live || m.Owner == os.Getpid() {
			continue
		}
		if dir != "" && m.Point != dir && !strings.HasPrefix(m.Point, dir+"/") {
			continue
		}
		if err := detach(m.Point); err != nil {
			errs = append(errs, fmt.Errorf("lazyfs: unmount stale %s (owner pid %d is gone): %w", m.Point, m.Owner, err))
			continue
		}
		done = append(done, m.Point)
	}
	return done, errors.Join(errs...)
}

func osExec(name string, args ...string) (string, error) {
	out, err := osexec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
