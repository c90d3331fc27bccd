package lazyfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// FSType is the filesystem type of every lazyfs mount in
// /proc/self/mountinfo (fuse.<Name>).
const FSType = "fuse." + fsName

const fsName = "faultline-lazyfs"

// FS is a mounted lazy filesystem.
type FS struct {
	backing string // absolute
	trash   string // absolute; same filesystem as backing
	mnt     string // absolute
	server  *fuse.Server

	// mu orders every change and its undo record against Lose and the
	// fsyncs, so that a record always describes the backing file as it
	// was just before its change.
	mu        sync.Mutex
	files     map[uint64]*fileLog // by inode number
	names     []*nameRec          // oldest first
	trashSeq  int
	dead      bool // unmounted: nothing more is recorded or undone
	keepNames bool // Options.KeepNames
}

// Stats says what the filesystem holds that is not durable.
type Stats struct {
	Files      int   // files with un-fsynced changes
	Writes     int   // un-fsynced data records
	UndoBytes  int64 // bytes kept to undo them
	Names      int   // un-fsynced name changes
	TrashFiles int   // removed files kept until their directory's fsync
}

// Options configure a mount.
type Options struct {
	// Debug logs every FUSE request (go-fuse's debug output).
	Debug bool
	// AllowOther lets users other than the mounting one (processes in
	// containers with another uid) use the mount.
	AllowOther bool
	// KeepNames makes every change of names durable at once, so that Lose
	// drops only file contents and sizes: Jepsen's lazyfs's model, and
	// close to what ext4 and xfs do for a program that fsyncs its files
	// but never their directories (a file's fsync commits the journal
	// that holds its name). The default, strict POSIX, loses such a
	// program's new files whole.
	KeepNames bool
}

// Mount mounts a lazy filesystem at mountpoint, passing through to
// backing. Both directories must exist; mountpoint must not be a mount
// already. The trash directory backing+".lazyfs-trash" is created next to
// backing (on the same filesystem, so that removed files can be moved
// there) and removed by Unmount.
func Mount(backing, mountpoint string, opt Options) (*FS, error) {
	b, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory %q: %w", backing, err)
	}
	m, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount point %q: %w", mountpoint, err)
	}
	for _, d := range []string{b, m} {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("lazyfs: %w (create the directory first)", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("lazyfs: %s is not a directory", d)
		}
	}
	if mounted, err := IsMounted(m); err != nil {
		return nil, err
	} else if mounted {
		return nil, fmt.Errorf("lazyfs: %s is already a mount point (unmount it first, or Reap stale lazyfs mounts)", m)
	}
	if err := fuseDevice(); err != nil {
		return nil, err
	}
	f := &FS{backing: b, trash: b + ".lazyfs-trash", mnt: m, files: map[uint64]*fileLog{}, keepNames: opt.KeepNames}
	if err := os.RemoveAll(f.trash); err != nil {
		return nil, fmt.Errorf("lazyfs: clear the trash directory: %w", err)
	}
	if err := os.Mkdir(f.trash, 0o700); err != nil {
		return nil, fmt.Errorf("lazyfs: create the trash directory: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(b, &st); err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	lroot := &fs.LoopbackRoot{Path: b, Dev: uint64(st.Dev)}
	root := &node{LoopbackNode: &fs.LoopbackNode{RootData: lroot}, fs: f}
	lroot.RootNode = root
	zero := time.Duration(0)
	owner, err := ownerTag(os.Getpid())
	if err != nil {
		return nil, err
	}
	opts := &fs.Options{
		// No kernel caching of names or attributes: after Lose the
		// kernel must see the backing directory as it is.
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName:     owner,
			Name:       fsName,
			AllowOther: opt.AllowOther,
			// As root, mount(2) directly; else fusermount3.
			DirectMount: true,
			Debug:       opt.Debug,
		},
	}
	srv, err := fs.Mount(m, root, opts)
	if err != nil {
		os.RemoveAll(f.trash)
		return nil, fmt.Errorf("lazyfs: mount %s on %s: %w (FUSE needs /dev/fuse and root or fusermount3)", b, m, err)
	}
	f.server = srv
	closeOnExec()
	return f, nil
}

// fuseDevice checks that the FUSE device is there.
func fuseDevice() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("lazyfs: FUSE is not available (/dev/fuse: %w); in Docker, give the container --device /dev/fuse --cap-add SYS_ADMIN", err)
	}
	return nil
}

// Available says why lazyfs cannot mount here, or nil when it can: it
// needs /dev/fuse and root (or fusermount3 on the PATH).
func Available() error {
	if err := fuseDevice(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		if _, err := lookPath("fusermount3"); err != nil {
			return fmt.Errorf("lazyfs: not root and no fusermount3 on the PATH: cannot mount FUSE filesystems")
		}
	}
	return nil
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// Mountpoint returns the mount point.
func (f *FS) Mountpoint() string { return f.mnt }

// Backing returns the backing directory.
func (f *FS) Backing() string { return f.backing }

// Stats returns what is not durable now.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s Stats
	for _, fl := range f.files {
		if len(fl.recs) == 0 {
			continue
		}
		s.Files++
		s.Writes += len(fl.recs)
		for _, r := range fl.recs {
			s.UndoBytes += int64(len(r.old))
		}
	}
	s.Names = len(f.names)
	for _, r := range f.names {
		if r.trash != "" {
			s.TrashFiles++
		}
	}
	return s
}

// Lose drops every change that is not durable, leaving the backing
// directory as a power loss would: only what was fsynced. The programs
// using the mount should be dead (a power loss kills them too); a program
// still writing races with the undo. The filesystem stays mounted and
// goes on recording from the new state. Lose returns every undo step that
// failed; the undo goes on past them.
func (f *FS) Lose() error { return f.lose(nil) }

// LoseTorn is Lose, except that each file keeps a random prefix of its
// un-fsynced writes, in the order they were made, the last one kept
// possibly cut short (a disk that wrote part of its queue). Names are
// lost as with Lose.
func (f *FS) LoseTorn(r *rand.Rand) error {
	if r == nil {
		return errors.New("lazyfs: LoseTorn needs a random source")
	}
	return f.lose(r)
}

func (f *FS) lose(torn *rand.Rand) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return fmt.Errorf("lazyfs: %s is unmounted: nothing to lose", f.mnt)
	}
	var errs []error
	// Contents first: they are undone through descriptors and do not
	// depend on names. Then names, newest first, each in the tree as it
	// was right after its change.
	for ino, fl := range f.files {
		if err := fl.undo(torn); err != nil {
			errs = append(errs, fmt.Errorf("inode %d: %w", ino, err))
		}
		fl.close()
		delete(f.files, ino)
	}
	for i := len(f.names) - 1; i >= 0; i-- {
		if err := f.names[i].undo(f.backing); err != nil {
			errs = append(errs, err)
		}
	}
	f.names = nil
	if err := f.emptyTrash(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lazyfs: lose un-fsynced changes in %s: %w", f.mnt, err)
	}
	return nil
}

// emptyTrash removes every file in the trash (none is needed once the
// names are undone or durable).
func (f *FS) emptyTrash() error {
	ents, err := os.ReadDir(f.trash)
	if err != nil {
		return fmt.Errorf("read the trash: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(f.trash, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Unmount unmounts the filesystem (lazily if programs still hold files in
// it), keeping the backing directory as it is now, un-fsynced changes
// included, and removes the trash directory.
func (f *FS) Unmount() error {
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return nil
	}
	f.dead = true
	for ino, fl := range f.files {
		fl.close()
		delete(f.files, ino)
	}
	f.names = nil
	f.mu.Unlock()
	var errs []error
	if err := f.server.Unmount(); err != nil {
		if derr := detach(f.mnt); derr != nil {
			errs = append(errs, fmt.Errorf("lazyfs: unmount %s: %w; lazy unmount: %w", f.mnt, err, derr))
		}
	}
	if err := os.RemoveAll(f.trash); err != nil {
		errs = append(errs, fmt.Errorf("lazyfs: remove the trash directory: %w", err))
	}
	return errors.Join(errs...)
}

// detach lazily unmounts mnt: it goes from the namespace now and is freed
// when the last program lets go of it. This always works for a FUSE mount
// whose server is gone or stuck.
func detach(mnt string) error {
	err := unix.Unmount(mnt, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) { // EINVAL: not a mount point (any more)
		return nil
	}
	if p, lerr := lookPath("fusermount3"); lerr == nil {
		out, ferr := osExec(p, "-uz", mnt)
		if ferr == nil {
			return nil
		}
		return fmt.Errorf("umount2(MNT_DETACH): %w; fusermount3 -uz: %w: %s", err, ferr, out)
	}
	return fmt.Errorf("umount2(MNT_DETACH): %w", err)
}

// trashName is a fresh name in the trash.
func (f *FS) trashName() string {
	f.trashSeq++
	return filepath.Join(f.trash, strconv.Itoa(f.trashSeq))
}

// closeOnExec marks every open file descriptor of this process
// close-on-exec. go-fuse opens /dev/fuse without O_CLOEXEC, so every node
// process the harness starts afterwards would inherit the FUSE connection:
// once the harness died, nothing would ever abort it, and a node thread
// blocked on the mount would hang for good. Go opens its own files with
// O_CLOEXEC, and os/exec passes a child only the files it is given, so
// marking all of them changes nothing else. (A fork between the mount and
// this call could still inherit the device: a window of microseconds.)
func closeOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
