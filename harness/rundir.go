package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// TimestampFormat names a run directory: UTC, milliseconds, e.g.
// 20261123T151000.000Z.
const TimestampFormat = "20060102T150405.000Z"

// makeRunDir creates runs/<name>/<timestamp>/ (and nodes/), failing with a
// clear error when the runs directory is not writable.
func makeRunDir(runsDir, name string, at time.Time) (string, error) {
	dir := filepath.Join(runsDir, name, at.UTC().Format(TimestampFormat))
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		return "", fmt.Errorf("create the run directory %s (is --out %q writable?): %w", dir, runsDir, err)
	}
	// Probe: MkdirAll succeeds on an existing directory we cannot write.
	probe := filepath.Join(dir, ".probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return "", fmt.Errorf("the run directory %s is not writable (choose another --out): %w", dir, err)
	}
	os.Remove(probe)
	return dir, nil
}

// linkLatest points runs/latest at dir, replacing the old link atomically.
func linkLatest(runsDir, dir string) error {
	latest := filepath.Join(runsDir, "latest")
	// Only a link this function made is ever replaced: a file or a
	// directory named latest is someone's data, and the rename below
	// would silently replace a file.
	if info, err := os.Lstat(latest); err == nil && info.Mode()&os.ModeSymlink == 0 {
		kind := "a regular file"
		if info.IsDir() {
			kind = "a directory"
		}
		return fmt.Errorf("link %s: it is %s, not a symlink: left as it is (move it away to have the latest run linked there)", latest, kind)
	}
	rel, err := filepath.Rel(runsDir, dir)
	if err != nil {
		rel = dir
	}
	tmp := filepath.Join(runsDir, fmt.Sprintf(".latest-%d", os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("link %s: %w", latest, err)
	}
	if err := os.Rename(tmp, latest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", latest, err)
	}
	return nil
}

// writeJSON writes v, indented, to path (via a temporary file, so a
// reader never sees half a file).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
