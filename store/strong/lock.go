package strong

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// walSegmentSize is the size of one Raft log segment file (preallocated
// by raft-wal; a new one starts when it is full).
const walSegmentSize = 16 << 20

// lockDir takes an exclusive flock on dir/LOCK, retrying for up to wait:
// another process still holding the data dir (a node not quite dead) is
// an error after a while, not a silent hang (raft-wal opens its meta file
// without a timeout). Closing the file releases the lock.
func lockDir(dir string, wait time.Duration) (*os.File, error) {
	name := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("data dir %s is locked by another process (%s) for over %v: stop the other node first: %w", dir, name, wait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
