package lazyfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline/faultline/lazyfs"
)

// TestKeepNames: with Options.KeepNames every change of names survives a
// Lose and only un-fsynced contents go, as with Jepsen's lazyfs.
func TestKeepNames(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("FUSE is not usable here: %v", err)
	}
	dir := t.TempDir()
	backing, m := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, m} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := lazyfs.Mount(backing, m, lazyfs.Options{KeepNames: true})
	if err != nil {
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})

	// A file fsynced in a directory never fsynced: kept, contents and all.
	write(t, filepath.Join(m, "synced"), "durable", 0, true)
	// A file never fsynced: its name stays, its contents go.
	write(t, filepath.Join(m, "unsynced"), "lost", 0, false)
	// Renames and unlinks without a directory fsync stay done.
	write(t, filepath.Join(m, "old"), "moved", 0, true)
	if err := os.Rename(filepath.Join(m, "old"), filepath.Join(m, "new")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(m, "gone"), "x", 0, true)
	if err := os.Remove(filepath.Join(m, "gone")); err != nil {
		t.Fatal(err)
	}
	// NATS's filestore pattern: a directory renamed aside, its files
	// removed, the directory removed, the parent fsynced.
	if err := os.MkdirAll(filepath.Join(m, "s", "msgs"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(m, "s", "msgs", "1.blk"), "block", 0, false)
	if err := os.Rename(filepath.Join(m, "s", "msgs"), filepath.Join(m, "s", "__msgs__")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(m, "s", "__msgs__")); err != nil {
		t.Fatal(err)
	}
	fsyncDir(t, filepath.Join(m, "s"))

	if st := f.Stats(); st.Names != 0 || st.TrashFiles != 0 {
		t.Errorf("stats %+v: no name change or trash file may be held", st)
	}
	if err := f.Lose(); err != nil {
		t.Fatalf("Lose: %v", err)
	}
	check(t, m, map[string]string{
		"synced": "durable", "unsynced": "", "old": absent, "new": "moved", "gone": absent,
		"s/msgs/1.blk": absent, "s/__msgs__/1.blk": absent,
	})
}
