package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// NodeFiles returns the files sys wants in the data directory of the node
// laid out as n (NodeFiler), checked to stay inside it, in path order; nil
// when sys wants none.
func NodeFiles(sys System, n NodeLayout) ([]NodeFile, error) {
	nf, ok := sys.(NodeFiler)
	if !ok {
		return nil, nil
	}
	var out []NodeFile
	for p, b := range nf.NodeFiles(n) {
		if !filepath.IsLocal(p) {
			return nil, fmt.Errorf("system %s: node file %q must be a relative path inside the data directory", sys.Name(), p)
		}
		out = append(out, NodeFile{Path: filepath.Clean(p), Data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// NodeFile is one file of a node's data directory, Path relative to it.
type NodeFile struct {
	Path string
	Data []byte
}

// WriteNodeFiles writes files under dir and fsyncs each file and the
// directories that name it, so that a power loss cannot take them back.
func WriteNodeFiles(dir string, files []NodeFile) error {
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		fh, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = fh.Write(f.Data)
		if err == nil {
			err = fh.Sync()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			if err := syncDir(d); err != nil {
				return err
			}
			if d == filepath.Clean(dir) || d == filepath.Dir(d) {
				break
			}
		}
	}
	return nil
}

func syncDir(d string) error {
	fh, err := os.Open(d)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := fh.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", d, err)
	}
	return nil
}
