package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
)

type filer struct {
	harness.System
	files map[string][]byte
}

func (f filer) Name() string                                   { return "filer" }
func (f filer) NodeFiles(harness.NodeLayout) map[string][]byte { return f.files }
func (f filer) Ready(context.Context, harness.Node) error      { return nil }

func TestNodeFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		err   string
		want  []string
	}{
		{"none", nil, "", nil},
		{"sorted", map[string][]byte{"b.conf": []byte("b"), "a/x.conf": []byte("x")}, "", []string{"a/x.conf", "b.conf"}},
		{"absolute", map[string][]byte{"/etc/passwd": nil}, "must be a relative path", nil},
		{"escapes", map[string][]byte{"../x": nil}, "must be a relative path", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := harness.NodeFiles(filer{files: tc.files}, harness.NodeLayout{})
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			var paths []string
			for _, f := range got {
				paths = append(paths, f.Path)
			}
			assert.Equal(t, tc.want, paths)
			dir := t.TempDir()
			require.NoError(t, harness.WriteNodeFiles(dir, got))
			for _, f := range got {
				b, err := os.ReadFile(filepath.Join(dir, f.Path))
				require.NoError(t, err)
				assert.Equal(t, tc.files[f.Path], b)
			}
		})
	}
}
