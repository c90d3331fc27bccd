package durable

import (
	"errors"
	"sync"

	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/types"
)

// lazyVFS is the journal's filesystem under the deliberate fault
// lazy-fsync: a journal file's Sync only marks it dirty, and syncAll,
// run every Options.FsyncEvery, fsyncs the dirty files. Writes still go
// to the file at once (into the page cache), so a kill -9 loses nothing;
// only a power loss does.
type lazyVFS struct {
	*fs.FS
	mu    sync.Mutex
	dirty map[*lazyFile]bool
}

func newLazyVFS() *lazyVFS { return &lazyVFS{FS: fs.New(), dirty: map[*lazyFile]bool{}} }

type lazyFile struct {
	types.WritableFile
	v *lazyVFS
}

func (v *lazyVFS) wrap(f types.WritableFile, err error) (types.WritableFile, error) {
	if err != nil {
		return nil, err
	}
	return &lazyFile{WritableFile: f, v: v}, nil
}

func (v *lazyVFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	return v.wrap(v.FS.Create(dir, name, size))
}

func (v *lazyVFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	return v.wrap(v.FS.OpenWriter(dir, name))
}

// Sync defers the fsync to the next syncAll.
func (f *lazyFile) Sync() error {
	f.v.mu.Lock()
	f.v.dirty[f] = true
	f.v.mu.Unlock()
	return nil
}

// Close fsyncs a dirty file first: its data must reach the disk some time.
func (f *lazyFile) Close() error {
	f.v.mu.Lock()
	dirty := f.v.dirty[f]
	delete(f.v.dirty, f)
	f.v.mu.Unlock()
	var err error
	if dirty {
		err = f.WritableFile.Sync()
	}
	return errors.Join(err, f.WritableFile.Close())
}

// syncAll fsyncs every dirty journal file.
func (v *lazyVFS) syncAll() error {
	v.mu.Lock()
	files := make([]*lazyFile, 0, len(v.dirty))
	for f := range v.dirty {
		files = append(files, f)
	}
	clear(v.dirty)
	v.mu.Unlock()
	var errs []error
	for _, f := range files {
		errs = append(errs, f.WritableFile.Sync())
	}
	return errors.Join(errs...)
}

// lazyMeta is the journal's meta store under lazy-fsync. The meta store
// commits for real (bbolt fsyncs), and a commit records segments as
// sealed at an offset: the segments' own data must be on disk first, or
// after a power loss the journal names an index block that never reached
// the disk and cannot be opened. The fault loses acknowledged writes; it
// must not make the node unable to start.
type lazyMeta struct {
	*metadb.BoltMetaDB
	v *lazyVFS
}

func (m lazyMeta) CommitState(s types.PersistentState) error {
	if err := m.v.syncAll(); err != nil {
		return err
	}
	return m.BoltMetaDB.CommitState(s)
}
