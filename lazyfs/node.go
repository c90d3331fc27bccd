package lazyfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is a loopback node whose every change of names or contents leaves
// an undo record. Operations not overridden here (lookup, read, stat,
// xattrs, readlink) pass through unchanged.
type node struct {
	*fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeWrapChilder    = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeTmpfiler       = (*node)(nil)
)

// WrapChild makes every node of the tree a lazy node.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), fs: n.fs}
}

func (n *node) ino() uint64 { return n.EmbeddedInode().StableAttr().Ino }

// rel is the node's path relative to the backing directory.
func (n *node) rel() string { return n.EmbeddedInode().Path(n.Root()) }

func (n *node) abs() string { return filepath.Join(n.fs.backing, n.rel()) }

// addName records a change of names under n (and other, for renames).
// The caller holds fs.mu.
func (n *node) addName(r *nameRec, other *node) {
	if n.fs.keepNames {
		// Durable at once: nothing to undo, nothing to keep.
		if r.trash != "" {
			os.Remove(r.trash)
		}
		return
	}
	r.dirs = map[uint64]bool{n.ino(): true}
	if other != nil {
		r.dirs[other.ino()] = true
	}
	n.fs.names = append(n.fs.names, r)
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	_, err := os.Lstat(filepath.Join(n.abs(), name))
	existed := err == nil
	ch, fh, ff, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, ff, errno
	}
	if !existed && !n.fs.dead {
		n.addName(&nameRec{op: opCreate, path: filepath.Join(n.rel(), name)}, nil)
	}
	return ch, n.fs.wrap(ch, fh, flags), ff, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY && !n.fs.dead {
		if errno := n.fs.beforeTruncate(n.ino(), nil, n.abs(), 0); errno != 0 {
			return nil, 0, errno
		}
	}
	fh, ff, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, ff, errno
	}
	return n.fs.wrap(n.EmbeddedInode(), fh, flags), ff, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	ch, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if errno == 0 && !n.fs.dead {
		n.addName(&nameRec{op: opMkdir, path: filepath.Join(n.rel(), name)}, nil)
	}
	return ch, errno
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	ch, errno := n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
	if errno == 0 && !n.fs.dead {
		n.addName(&nameRec{op: opCreate, path: filepath.Join(n.rel(), name)}, nil)
	}
	return ch, errno
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	ch, errno := n.LoopbackNode.Symlink(ctx, target, name, out)
	if errno == 0 && !n.fs.dead {
		n.addName(&nameRec{op: opCreate, path: filepath.Join(n.rel(), name)}, nil)
	}
	return ch, errno
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	ch, errno := n.LoopbackNode.Link(ctx, target, name, out)
	if errno == 0 && !n.fs.dead {
		n.addName(&nameRec{op: opCreate, path: filepath.Join(n.rel(), name)}, nil)
	}
	return ch, errno
}

// Unlink moves the file into the trash instead of removing it, so that
// Lose can bring it back until the directory is fsynced.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if n.fs.dead {
		return n.LoopbackNode.Unlink(ctx, name)
	}
	p := filepath.Join(n.abs(), name)
	st, err := os.Lstat(p)
	if err != nil {
		return fs.ToErrno(err)
	}
	if st.IsDir() {
		return syscall.EISDIR
	}
	t := n.fs.trashName()
	if err := os.Rename(p, t); err != nil {
		return fs.ToErrno(err)
	}
	n.addName(&nameRec{op: opUnlink, path: filepath.Join(n.rel(), name), trash: t}, nil)
	return 0
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	st, err := os.Lstat(filepath.Join(n.abs(), name))
	if err != nil {
		return fs.ToErrno(err)
	}
	errno := n.LoopbackNode.Rmdir(ctx, name)
	if errno == 0 && !n.fs.dead {
		n.addName(&nameRec{op: opRmdir, path: filepath.Join(n.rel(), name), mode: uint32(st.Mode().Perm())}, nil)
	}
	return errno
}

// Rename keeps a file it replaces as a hard link in the trash (made
// before the rename, so that the rename stays atomic for the program).
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok || np.fs != n.fs {
		return syscall.EXDEV
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	rel1, rel2 := filepath.Join(n.rel(), name), filepath.Join(np.rel(), newName)
	p1, p2 := filepath.Join(n.fs.backing, rel1), filepath.Join(n.fs.backing, rel2)
	if n.fs.dead {
		return fs.ToErrno(unix.Renameat2(unix.AT_FDCWD, p1, unix.AT_FDCWD, p2, uint(flags)))
	}
	r := &nameRec{op: opRename, path: rel1, path2: rel2}
	if flags&unix.RENAME_EXCHANGE != 0 {
		r.op = opExchange
	} else if st, err := os.Lstat(p2); err == nil && flags&unix.RENAME_NOREPLACE == 0 {
		if st.IsDir() {
			r.replacedDir, r.mode = true, uint32(st.Mode().Perm())
		} else {
			t := n.fs.trashName()
			if err := os.Link(p2, t); err != nil {
				return fs.ToErrno(err)
			}
			r.trash = t
		}
	}
	if err := unix.Renameat2(unix.AT_FDCWD, p1, unix.AT_FDCWD, p2, uint(flags)); err != nil {
		if r.trash != "" {
			os.Remove(r.trash)
		}
		return fs.ToErrno(err)
	}
	n.addName(r, np)
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	var inner fs.FileHandle
	var h *handle
	if f != nil {
		h, _ = f.(*handle)
		if h != nil {
			inner = h.lf
		} else {
			inner = f
		}
	}
	if size, ok := in.GetSize(); ok && !n.fs.dead {
		if errno := n.fs.beforeTruncate(n.ino(), h, n.abs(), int64(size)); errno != 0 {
			return errno
		}
	}
	return n.LoopbackNode.Setattr(ctx, inner, in, out)
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return fh, ff, errno
	}
	return &dirHandle{inner: fh, fs: n.fs, ino: n.ino()}, ff, 0
}

// CopyFileRange is refused, so that the kernel copies through read and
// write, which are recorded.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// Tmpfile is refused: an unnamed file that is linked in later would need
// linkat through /proc, which this model does not follow.
func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// Extended attributes are not offered: answering ENOSYS once makes the
// kernel stop asking. Otherwise every write costs a GETXATTR round trip
// (the kernel checks security.capability before each write to drop it),
// a third of the requests of an append-and-fsync workload.
var (
	_ fs.NodeGetxattrer    = (*node)(nil)
	_ fs.NodeSetxattrer    = (*node)(nil)
	_ fs.NodeRemovexattrer = (*node)(nil)
	_ fs.NodeListxattrer   = (*node)(nil)
)

func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOSYS
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.ENOSYS }

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}
