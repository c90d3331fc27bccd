package lazyfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// fileLog is one file's un-fsynced changes, oldest first, with a
// descriptor of its own to undo them through (the program's may be
// read-only, append-only or closed by then).
type fileLog struct {
	f    *os.File
	recs []dataRec
}

// dataRec undoes one change of a file's contents or size: write old back
// at off, then cut the file to oldSize. That order serves writes (restore
// the overwritten bytes, drop what was appended), truncates (old is the
// cut-off tail, written back at the new size) and fallocate (old is
// everything from off on, which some modes shift or zero).
type dataRec struct {
	off     int64
	n       int64 // bytes the change wrote at off (writes only; for torn loss)
	old     []byte
	oldSize int64
}

// newFileLog opens an undo descriptor on the file open as fd in this
// process (through /proc, so it works for files whose name is gone).
func newFileLog(fd int) (*fileLog, error) {
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open an undo descriptor: %w", err)
	}
	return &fileLog{f: f}, nil
}

// newFileLogPath opens an undo descriptor on a backing path.
func newFileLogPath(path string) (*fileLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open an undo descriptor: %w", err)
	}
	return &fileLog{f: f}, nil
}

// before records what a change of [off, off+length) (length -1: to the
// end of the file) is about to overwrite, with the file's size now; n is
// how many bytes the change writes (0 for truncate and fallocate).
func (fl *fileLog) before(off, length, n int64) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(fl.f.Fd()), &st); err != nil {
		return fmt.Errorf("stat before a change: %w", err)
	}
	r := dataRec{off: off, n: n, oldSize: st.Size}
	if off < st.Size && length != 0 {
		end := st.Size
		if length > 0 && off+length < end {
			end = off + length
		}
		r.old = make([]byte, end-off)
		if _, err := fl.f.ReadAt(r.old, off); err != nil {
			return fmt.Errorf("read the bytes a change overwrites: %w", err)
		}
	}
	fl.recs = append(fl.recs, r)
	return nil
}

// durable forgets the first k records (those made before an fsync began).
func (fl *fileLog) durable(k int) {
	if k > len(fl.recs) {
		k = len(fl.recs)
	}
	fl.recs = append(fl.recs[:0], fl.recs[k:]...)
}

// undo applies the records newest first. With torn, a random number of
// the oldest records is kept, and the newest of those possibly cut short.
func (fl *fileLog) undo(torn *rand.Rand) error {
	keep, cut := 0, int64(-1)
	if torn != nil && len(fl.recs) > 0 {
		keep = torn.IntN(len(fl.recs) + 1)
		if keep > 0 && fl.recs[keep-1].n > 1 {
			cut = torn.Int64N(fl.recs[keep-1].n) // bytes of the last kept write that survive
		}
	}
	var errs []error
	for i := len(fl.recs) - 1; i >= keep; i-- {
		errs = append(errs, fl.recs[i].apply(fl.f, 0))
	}
	if cut >= 0 {
		errs = append(errs, fl.recs[keep-1].apply(fl.f, cut))
	}
	fl.recs = nil
	return errors.Join(errs...)
}

// apply undoes r except for its first keep bytes (keep > 0: a torn write
// that reached the disk in part).
func (r dataRec) apply(f *os.File, keep int64) error {
	old, off, size := r.old, r.off, r.oldSize
	if keep > 0 {
		if keep < int64(len(old)) {
			old = old[keep:]
		} else {
			old = nil
		}
		off += keep
		size = max(size, r.off+keep)
	}
	if len(old) > 0 {
		if _, err := f.WriteAt(old, off); err != nil {
			return fmt.Errorf("write back %d bytes at %d: %w", len(old), off, err)
		}
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut back to %d bytes: %w", size, err)
	}
	return nil
}

func (fl *fileLog) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}

// nameOp is a change of names in one or two directories.
type nameOp int

const (
	opCreate   nameOp = iota // a file, symlink, node or hard link appeared: undo removes it
	opMkdir                  // a directory appeared: undo removes it with what it holds
	opUnlink                 // a name went: its file waits in trash
	opRmdir                  // an empty directory went: undo makes it again
	opRename                 // path moved to path2, replacing what trash (or an empty dir) holds
	opExchange               // path and path2 swapped (RENAME_EXCHANGE)
)

// nameRec undoes one change of names. Paths are relative to the backing
// directory, as they were right after the change; dirs are the inode
// numbers of the directories whose fsync makes the change durable (both,
// for a rename across directories).
type nameRec struct {
	op          nameOp
	dirs        map[uint64]bool
	path, path2 string
	trash       string // absolute path of the removed or replaced file kept for undo; "" if none
	mode        uint32 // rmdir, and a rename over an empty directory: the directory's mode
	replacedDir bool   // rename replaced an empty directory
}

func (r *nameRec) undo(backing string) error {
	p := filepath.Join(backing, r.path)
	p2 := filepath.Join(backing, r.path2)
	var err error
	switch r.op {
	case opCreate:
		err = os.Remove(p)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	case opMkdir:
		err = os.RemoveAll(p)
	case opUnlink:
		err = os.Rename(r.trash, p)
		if errors.Is(err, os.ErrNotExist) && !exists(filepath.Dir(p)) {
			// The directory it was unlinked from is gone, and durably
			// (its removal, made after this unlink, survived while
			// this did not): a directory can only go once empty, so
			// the name went with it. The file stays in the trash.
			err = nil
		}
	case opRmdir:
		err = os.Mkdir(p, os.FileMode(r.mode&0o7777))
	case opRename:
		err = os.Rename(p2, p)
		switch {
		case err != nil:
		case r.trash != "":
			err = os.Rename(r.trash, p2)
		case r.replacedDir:
			err = os.Mkdir(p2, os.FileMode(r.mode&0o7777))
		}
	case opExchange:
		err = unix.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, p2, unix.RENAME_EXCHANGE)
	}
	if err != nil {
		return fmt.Errorf("undo %s: %w", r, err)
	}
	return nil
}

func (r *nameRec) String() string {
	switch r.op {
	case opCreate:
		return "create " + r.path
	case opMkdir:
		return "mkdir " + r.path
	case opUnlink:
		return "unlink " + r.path
	case opRmdir:
		return "rmdir " + r.path
	case opRename:
		return "rename " + r.path + " -> " + r.path2
	case opExchange:
		return "exchange " + r.path + " <-> " + r.path2
	}
	return "?"
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
