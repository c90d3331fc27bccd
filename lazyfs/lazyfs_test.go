package lazyfs_test

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/lazyfs"
)

// These tests mount a real FUSE filesystem and work on real files through
// it; they need /dev/fuse and root (or fusermount3).

func mount(t *testing.T) (*lazyfs.FS, string, string) {
	t.Helper()
	if err := lazyfs.Available(); err != nil {
		t.Skipf("FUSE is not usable here: %v", err)
	}
	dir := t.TempDir()
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
	if err != nil {
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		if m, _ := lazyfs.IsMounted(mnt); m {
			t.Errorf("%s is still mounted after Unmount", mnt)
		}
	})
	return f, mnt, backing
}

// absent is the content expected of a file that must not exist.
const absent = "\x00absent"

func write(t *testing.T, path, data string, flags int, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flags, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fsyncFile(t *testing.T, path string, datasync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if datasync {
		err = syscall.Fdatasync(int(f.Fd()))
	} else {
		err = f.Sync()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func fsyncDir(t *testing.T, path string) {
	t.Helper()
	d, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("fsync directory %s: %v", path, err)
	}
}

func check(t *testing.T, root string, want map[string]string) {
	t.Helper()
	for name, w := range want {
		b, err := os.ReadFile(filepath.Join(root, name))
		switch {
		case w == absent && err == nil:
			t.Errorf("%s: exists (%q), want it gone", name, b)
		case w == absent && !os.IsNotExist(err):
			t.Errorf("%s: %v, want it gone", name, err)
		case w != absent && err != nil:
			t.Errorf("%s: %v, want %q", name, err, w)
		case w != absent && string(b) != w:
			t.Errorf("%s = %q, want %q", name, b, w)
		}
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, m string)
		want map[string]string
	}{
		{"a directory's durable removal takes its un-fsynced unlinks with it", func(t *testing.T, m string) {
			// A store retiring a directory: rename it aside, empty it,
			// remove it, fsync the parent (the renamed directory itself
			// is never fsynced).
			if err := os.Mkdir(m+"/d", 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, m+"/d/f", "abc", 0, true)
			fsyncDir(t, m+"/d")
			fsyncDir(t, m)
			if err := os.Rename(m+"/d", m+"/d.old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(m + "/d.old/f"); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(m + "/d.old"); err != nil {
				t.Fatal(err)
			}
			fsyncDir(t, m)
		}, map[string]string{"d/f": absent, "d.old/f": absent}},
		{"fsynced bytes survive, later ones vanish", func(t *testing.T, m string) {
			write(t, m+"/f", "abc", 0, true)
			fsyncDir(t, m)
			write(t, m+"/f", "def", os.O_APPEND, false)
		}, map[string]string{"f": "abc"}},
		{"an overwrite is undone", func(t *testing.T, m string) {
			write(t, m+"/f", "hello", 0, true)
			fsyncDir(t, m)
			write(t, m+"/f", "J", 0, false)
		}, map[string]string{"f": "hello"}},
		{"a file fsynced in a directory never fsynced vanishes", func(t *testing.T, m string) {
			write(t, m+"/f", "abc", 0, true)
		}, map[string]string{"f": absent}},
		{"a name fsynced without its data is empty", func(t *testing.T, m string) {
			write(t, m+"/f", "abc", 0, false)
			fsyncDir(t, m)
		}, map[string]string{"f": ""}},
		{"fdatasync counts as fsync", func(t *testing.T, m string) {
			write(t, m+"/f", "abc", 0, false)
			fsyncFile(t, m+"/f", true)
			fsyncDir(t, m)
			write(t, m+"/f", "x", os.O_APPEND, false)
		}, map[string]string{"f": "abc"}},
		{"O_SYNC writes are durable", func(t *testing.T, m string) {
			write(t, m+"/f", "", 0, true)
			fsyncDir(t, m)
			write(t, m+"/f", "abc", os.O_SYNC|os.O_APPEND, false)
		}, map[string]string{"f": "abc"}},
		{"O_DSYNC writes are durable", func(t *testing.T, m string) {
			write(t, m+"/f", "", 0, true)
			fsyncDir(t, m)
			write(t, m+"/f", "abc", syscall.O_DSYNC|os.O_APPEND, false)
		}, map[string]string{"f": "abc"}},
		{"an unlink is undone until the directory is fsynced", func(t *testing.T, m string) {
			write(t, m+"/a", "keep", 0, true)
			write(t, m+"/b", "gone", 0, true)
			fsyncDir(t, m)
			os.Remove(m + "/a")
			os.Remove(m + "/b")
			fsyncDir(t, m)
			write(t, m+"/c", "x", 0, true) // a later, un-fsynced name
			os.Remove(m + "/c")
		}, map[string]string{"a": absent, "b": absent, "c": absent}},
		{"an unlinked file comes back with its fsynced contents", func(t *testing.T, m string) {
			write(t, m+"/a", "keep", 0, true)
			fsyncDir(t, m)
			if err := os.Remove(m + "/a"); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"a": "keep"}},
		{"a rename follows the directory's fsync", func(t *testing.T, m string) {
			write(t, m+"/new", "v2", 0, true)
			write(t, m+"/cur", "v1", 0, true)
			fsyncDir(t, m)
			if err := os.Rename(m+"/new", m+"/cur"); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"cur": "v1", "new": "v2"}},
		{"a rename made durable stays", func(t *testing.T, m string) {
			write(t, m+"/new", "v2", 0, true)
			write(t, m+"/cur", "v1", 0, true)
			fsyncDir(t, m)
			if err := os.Rename(m+"/new", m+"/cur"); err != nil {
				t.Fatal(err)
			}
			fsyncDir(t, m)
		}, map[string]string{"cur": "v2", "new": absent}},
		{"a rename across directories needs both fsynced", func(t *testing.T, m string) {
			os.Mkdir(m+"/d1", 0o755)
			os.Mkdir(m+"/d2", 0o755)
			write(t, m+"/d1/f", "x", 0, true)
			fsyncDir(t, m+"/d1")
			fsyncDir(t, m)
			if err := os.Rename(m+"/d1/f", m+"/d2/f"); err != nil {
				t.Fatal(err)
			}
			fsyncDir(t, m+"/d2")
		}, map[string]string{"d1/f": "x", "d2/f": absent}},
		{"a directory never fsynced in its parent vanishes with its files", func(t *testing.T, m string) {
			os.Mkdir(m+"/d", 0o755)
			write(t, m+"/d/f", "x", 0, true)
			fsyncDir(t, m+"/d")
		}, map[string]string{"d/f": absent, "d": absent}},
		{"an un-fsynced truncate is undone", func(t *testing.T, m string) {
			write(t, m+"/f", "abcdef", 0, true)
			fsyncDir(t, m)
			if err := os.Truncate(m+"/f", 2); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"f": "abcdef"}},
		{"an fsynced truncate stays", func(t *testing.T, m string) {
			write(t, m+"/f", "abcdef", 0, true)
			fsyncDir(t, m)
			if err := os.Truncate(m+"/f", 2); err != nil {
				t.Fatal(err)
			}
			fsyncFile(t, m+"/f", false)
		}, map[string]string{"f": "ab"}},
		{"O_TRUNC at open is undone", func(t *testing.T, m string) {
			write(t, m+"/f", "abcdef", 0, true)
			fsyncDir(t, m)
			write(t, m+"/f", "X", os.O_TRUNC, false)
		}, map[string]string{"f": "abcdef"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, mnt, backing := mount(t)
			tt.do(t, mnt)
			if err := f.Lose(); err != nil {
				t.Fatalf("Lose: %v", err)
			}
			check(t, mnt, tt.want)
			check(t, backing, tt.want) // the backing directory itself is what power loss left
			if s := f.Stats(); s != (lazyfs.Stats{}) {
				t.Errorf("after Lose the filesystem still holds %+v", s)
			}
		})
	}
}

// TestNoLossWithoutLose: a program that fsyncs nothing sees all its
// writes as long as no power is lost, and Stats counts them.
func TestNoLossWithoutLose(t *testing.T) {
	f, mnt, _ := mount(t)
	write(t, mnt+"/f", "abc", 0, false)
	write(t, mnt+"/f", "def", os.O_APPEND, false)
	os.Mkdir(mnt+"/d", 0o755)
	check(t, mnt, map[string]string{"f": "abcdef"})
	s := f.Stats()
	if s.Files != 1 || s.Writes != 2 || s.Names != 2 {
		t.Errorf("Stats = %+v, want 1 file, 2 writes, 2 names", s)
	}
	fsyncFile(t, mnt+"/f", false)
	fsyncDir(t, mnt)
	if s := f.Stats(); s != (lazyfs.Stats{}) {
		t.Errorf("after fsyncs Stats = %+v, want nothing pending", s)
	}
}

// TestLoseTorn: a torn loss keeps a prefix of the un-fsynced writes,
// never less than what was fsynced and never bytes out of order.
func TestLoseTorn(t *testing.T) {
	sizes := map[int]bool{}
	for seed := range uint64(12) {
		f, mnt, _ := mount(t)
		write(t, mnt+"/f", "base:", 0, true)
		fsyncDir(t, mnt)
		full := "base:"
		for i := range 5 {
			s := strings.Repeat(string(rune('a'+i)), 4)
			write(t, mnt+"/f", s, os.O_APPEND, false)
			full += s
		}
		if err := f.LoseTorn(rand.New(rand.NewPCG(seed, 1))); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(mnt + "/f")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(full, string(b)) || len(b) < len("base:") {
			t.Fatalf("seed %d: torn loss left %q, not a prefix of %q at least %q long", seed, b, full, "base:")
		}
		sizes[len(b)] = true
	}
	if len(sizes) < 3 {
		t.Errorf("12 torn losses left only the sizes %v: the prefix is not random", sizes)
	}
}

// TestRecordsAfterLose: the filesystem goes on recording after a loss.
func TestRecordsAfterLose(t *testing.T) {
	f, mnt, _ := mount(t)
	write(t, mnt+"/f", "one", 0, true)
	fsyncDir(t, mnt)
	write(t, mnt+"/f", "-two", os.O_APPEND, false)
	if err := f.Lose(); err != nil {
		t.Fatal(err)
	}
	write(t, mnt+"/f", "-three", os.O_APPEND, true)
	write(t, mnt+"/f", "-four", os.O_APPEND, false)
	if err := f.Lose(); err != nil {
		t.Fatal(err)
	}
	check(t, mnt, map[string]string{"f": "one-three"})
}

// TestReap: a mount whose owner died is unmounted by Reap; a live one is
// not. The owner is this test binary run again as a helper that mounts
// and is then killed.
func TestReap(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("FUSE is not usable here: %v", err)
	}
	_, liveMnt, _ := mount(t)
	dir := t.TempDir()
	backing, mnt := filepath.Join(dir, "b"), filepath.Join(dir, "m")
	os.Mkdir(backing, 0o755)
	os.Mkdir(mnt, 0o755)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMount$")
	cmd.Env = append(os.Environ(), "LAZYFS_HELPER_BACKING="+backing, "LAZYFS_HELPER_MNT="+mnt)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := lazyfs.IsMounted(mnt); m {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper did not mount within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Live: Reap leaves it.
	if done, err := lazyfs.Reap(dir); err != nil || len(done) != 0 {
		t.Fatalf("Reap of a live owner's mount = %v, %v; want nothing done", done, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	done, err := lazyfs.Reap("")
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if len(done) != 1 || done[0] != mnt {
		t.Errorf("Reap unmounted %v, want [%s]", done, mnt)
	}
	if m, _ := lazyfs.IsMounted(mnt); m {
		t.Errorf("%s is still mounted after Reap", mnt)
	}
	if m, _ := lazyfs.IsMounted(liveMnt); !m {
		t.Errorf("Reap unmounted %s, whose owner (this test) is alive", liveMnt)
	}
}

// TestHelperMount is not a test: TestReap runs it in a child process,
// which mounts and waits to be killed.
func TestHelperMount(t *testing.T) {
	backing, mnt := os.Getenv("LAZYFS_HELPER_BACKING"), os.Getenv("LAZYFS_HELPER_MNT")
	if backing == "" {
		t.Skip("helper for TestReap")
	}
	if _, err := lazyfs.Mount(backing, mnt, lazyfs.Options{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
}

// A process started after a mount does not inherit the FUSE device: if it
// did, a node would keep the connection open after the harness died, and
// its threads blocked on the mount would hang for good.
func TestChildrenDoNotInheritTheDevice(t *testing.T) {
	mount(t)
	out, err := exec.Command("sh", "-c", "ls -l /proc/$$/fd").CombinedOutput()
	if err != nil {
		t.Fatalf("list a child's fds: %v: %s", err, out)
	}
	if strings.Contains(string(out), "/dev/fuse") {
		t.Fatalf("a child process inherited /dev/fuse:\n%s", out)
	}
}
