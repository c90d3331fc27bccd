package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// latest is replaced only when it is a symlink: a file or a directory of
// that name is left as it was, and the error names its real path.
func TestLinkLatest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		make    func(path string) error
		wantErr string // "" : linked
	}{
		{"absent", func(string) error { return nil }, ""},
		{"old symlink", func(p string) error { return os.Symlink("elsewhere", p) }, ""},
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("mine"), 0o644) }, "it is a regular file, not a symlink"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "it is a directory, not a symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			run := filepath.Join(out, "test", "20260101T000000.000Z")
			require.NoError(t, os.MkdirAll(run, 0o755))
			latest := filepath.Join(out, "latest")
			require.NoError(t, tc.make(latest))
			before, _ := os.Lstat(latest)
			err := linkLatest(out, run)
			if tc.wantErr == "" {
				require.NoError(t, err)
				target, err := os.Readlink(latest)
				require.NoError(t, err)
				assert.Equal(t, filepath.Join("test", "20260101T000000.000Z"), target)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "link "+latest+": "+tc.wantErr)
			after, err := os.Lstat(latest)
			require.NoError(t, err)
			assert.Equal(t, before.Mode(), after.Mode(), "left as it was")
			if tc.name == "regular file" {
				b, _ := os.ReadFile(latest)
				assert.Equal(t, "mine", string(b))
			}
			entries, _ := os.ReadDir(out)
			assert.Len(t, entries, 2, "no temporary link left: %v", entries)
		})
	}
}
