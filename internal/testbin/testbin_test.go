package testbin

import (
	"debug/elf"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestBuildOnceStatic(t *testing.T) {
	p1 := Build(t, "./internal/testbin/testdata/hello", "hello")
	p2 := Build(t, "./internal/testbin/testdata/hello", "hello")
	assert.Equal(t, p1, p2, "a second call reuses the first build")

	out, err := exec.Command(p1).Output()
	require.NoError(t, err)
	assert.Equal(t, "hello from testbin", strings.TrimSpace(string(out)))

	f, err := elf.Open(p1)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "CGO_ENABLED=0 binaries have no dynamic interpreter")
	}
}

func TestBuildErrorSaysWhat(t *testing.T) {
	_, err := BuildErr("./internal/testbin/testdata/nosuch", "nosuch")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nosuch")
}
