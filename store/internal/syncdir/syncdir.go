// Package syncdir makes names durable: a file or directory just created
// survives a power loss only once the directory holding it is fsynced
// (POSIX; ext4 often does it sooner, a strict filesystem does not).
package syncdir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Sync fsyncs directory dir, making the names in it durable.
func Sync(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Parent fsyncs the directory that holds path, making path's name durable.
func Parent(path string) error { return Sync(filepath.Dir(filepath.Clean(path))) }
