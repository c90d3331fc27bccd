package lazyfs

import (
	"context"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// handle is an open file. It forwards to go-fuse's loopback file, except
// that it records every write before making it, makes fsync forget the
// records, and does not offer its descriptor for passthrough (the kernel
// would then write to the backing file without telling the filesystem).
type handle struct {
	lf   *fs.LoopbackFile
	fd   int // lf's descriptor (valid until Release)
	fs   *FS
	ino  uint64
	sync bool // opened O_SYNC or O_DSYNC: each write is durable
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileFsyncer   = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileGetattrer = (*handle)(nil)
	_ fs.FileSetattrer = (*handle)(nil)
	_ fs.FileLseeker   = (*handle)(nil)
	_ fs.FileAllocater = (*handle)(nil)
	_ fs.FileGetlker   = (*handle)(nil)
	_ fs.FileSetlker   = (*handle)(nil)
	_ fs.FileSetlkwer  = (*handle)(nil)
)

// wrap wraps a loopback file handle of inode in.
func (f *FS) wrap(in *fs.Inode, fh fs.FileHandle, flags uint32) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return fh
	}
	fd, _ := lf.PassthroughFd()
	return &handle{lf: lf, fd: fd, fs: f, ino: in.StableAttr().Ino, sync: flags&syscall.O_DSYNC != 0}
}

// log returns the undo log of inode ino, opening it through fd (or, when
// fd < 0, through path). The caller holds f.mu.
func (f *FS) log(ino uint64, fd int, path string) (*fileLog, error) {
	if fl := f.files[ino]; fl != nil {
		return fl, nil
	}
	var fl *fileLog
	var err error
	if fd >= 0 {
		fl, err = newFileLog(fd)
	} else {
		fl, err = newFileLogPath(path)
	}
	if err != nil {
		return nil, err
	}
	f.files[ino] = fl
	return fl, nil
}

// beforeTruncate records a truncate of inode ino to size, through h or,
// when h is nil, the backing path. The caller holds f.mu.
func (f *FS) beforeTruncate(ino uint64, h *handle, path string, size int64) syscall.Errno {
	fd := -1
	if h != nil {
		fd = h.fd
	}
	fl, err := f.log(ino, fd, path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0 // O_TRUNC on a file that does not exist yet
		}
		return fs.ToErrno(err)
	}
	if err := fl.before(size, -1, 0); err != nil {
		return syscall.EIO
	}
	return 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if !h.fs.dead {
		fl, err := h.fs.log(h.ino, h.fd, "")
		if err != nil {
			return 0, syscall.EIO
		}
		if err := fl.before(off, int64(len(data)), int64(len(data))); err != nil {
			return 0, syscall.EIO
		}
	}
	n, err := syscall.Pwrite(h.fd, data, off)
	if err != nil {
		return uint32(max(n, 0)), fs.ToErrno(err)
	}
	if h.sync && !h.fs.dead {
		// The backing file is open O_SYNC/O_DSYNC too: the write is
		// on its disk.
		h.fs.fileDurable(h.ino, -1)
	}
	return uint32(n), 0
}

// fileDurable forgets the first k undo records of inode ino (k < 0: all).
// The caller holds f.mu.
func (f *FS) fileDurable(ino uint64, k int) {
	fl := f.files[ino]
	if fl == nil {
		return
	}
	if k < 0 {
		k = len(fl.recs)
	}
	fl.durable(k)
	if len(fl.recs) == 0 {
		fl.close()
		delete(f.files, ino)
	}
}

// Fsync makes durable the changes made before it began (fsync and
// fdatasync alike; see the package doc).
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.fs.mu.Lock()
	fl := h.fs.files[h.ino]
	k := 0
	if fl != nil {
		k = len(fl.recs)
	}
	h.fs.mu.Unlock()
	var err error
	if flags&1 != 0 { // FUSE_FSYNC_FDATASYNC
		err = unix.Fdatasync(h.fd)
	} else {
		err = unix.Fsync(h.fd)
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.files[h.ino] == fl && fl != nil { // else Lose came between
		h.fs.fileDurable(h.ino, k)
	}
	return 0
}

func (h *handle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if !h.fs.dead {
		fl, err := h.fs.log(h.ino, h.fd, "")
		if err != nil {
			return syscall.EIO
		}
		// Plain allocation changes only the size; the other modes
		// (punch, zero, collapse, insert) change bytes from off on.
		length := int64(-1)
		if mode&^unix.FALLOC_FL_KEEP_SIZE == 0 {
			length = 0
		}
		if err := fl.before(int64(off), length, 0); err != nil {
			return syscall.EIO
		}
	}
	return h.lf.Allocate(ctx, off, size, mode)
}

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return h.lf.Read(ctx, dest, off)
}
func (h *handle) Flush(ctx context.Context) syscall.Errno   { return h.lf.Flush(ctx) }
func (h *handle) Release(ctx context.Context) syscall.Errno { return h.lf.Release(ctx) }
func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Getattr(ctx, out)
}

// Setattr is reached only through node.Setattr, which records a truncate.
func (h *handle) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Setattr(ctx, in, out)
}
func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return h.lf.Lseek(ctx, off, whence)
}
func (h *handle) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return h.lf.Getlk(ctx, owner, lk, flags, out)
}
func (h *handle) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.lf.Setlk(ctx, owner, lk, flags)
}
func (h *handle) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.lf.Setlkw(ctx, owner, lk, flags)
}

// dirHandle is an open directory: the loopback directory stream, whose
// fsync makes the directory's name changes durable.
type dirHandle struct {
	inner fs.FileHandle
	fs    *FS
	ino   uint64
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
	_ fs.FileFsyncdirer   = (*dirHandle)(nil)
)

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if r, ok := d.inner.(fs.FileReaddirenter); ok {
		return r.Readdirent(ctx)
	}
	return nil, syscall.ENOTSUP
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.inner.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.inner.(fs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
	}
}

// Fsyncdir fsyncs the backing directory, then makes durable every name
// change recorded in this directory before it began.
func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	d.fs.mu.Lock()
	k := len(d.fs.names)
	d.fs.mu.Unlock()
	if s, ok := d.inner.(fs.FileFsyncdirer); ok {
		if errno := s.Fsyncdir(ctx, flags); errno != 0 {
			return errno
		}
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	d.fs.dirDurable(d.ino, min(k, len(d.fs.names)))
	return 0
}

// dirDurable makes durable, in directory ino, the name changes among the
// first k records; a change durable in all its directories is forgotten
// and its trash emptied. The caller holds f.mu.
func (f *FS) dirDurable(ino uint64, k int) {
	kept := f.names[:0]
	for i, r := range f.names {
		if i < k {
			delete(r.dirs, ino)
		}
		if len(r.dirs) > 0 {
			kept = append(kept, r)
			continue
		}
		if r.trash != "" {
			os.RemoveAll(r.trash)
		}
	}
	clear(f.names[len(kept):])
	f.names = kept
}
