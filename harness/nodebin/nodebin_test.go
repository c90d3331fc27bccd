package nodebin_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness/nodebin"
)

func TestFindOrder(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mynode")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))

	got, err := nodebin.Find(nodebin.Spec{Name: "mynode", Path: bin, Flag: "--mynode"})
	require.NoError(t, err)
	assert.Equal(t, bin, got, "an explicit path wins")

	_, err = nodebin.Find(nodebin.Spec{Name: "mynode", Path: filepath.Join(dir, "nope"), Flag: "--mynode"})
	assert.ErrorContains(t, err, `--mynode "`+filepath.Join(dir, "nope")+`": no such binary`)

	t.Setenv("MYNODE", bin)
	got, err = nodebin.Find(nodebin.Spec{Name: "mynode", Env: "MYNODE"})
	require.NoError(t, err)
	assert.Equal(t, bin, got, "then the environment")

	t.Setenv("MYNODE", "")
	t.Setenv("PATH", dir)
	got, err = nodebin.Find(nodebin.Spec{Name: "mynode", Env: "MYNODE"})
	require.NoError(t, err)
	assert.Equal(t, bin, got, "then $PATH")

	t.Setenv("PATH", "")
	_, err = nodebin.Find(nodebin.Spec{Name: "mynode", Env: "MYNODE", Flag: "--mynode"})
	assert.ErrorContains(t, err, "mynode binary not found")
	assert.ErrorContains(t, err, "pass --mynode, or set MYNODE")
}

// The last resort builds the package, static.
func TestBuild(t *testing.T) {
	p, err := nodebin.Find(nodebin.Spec{Name: "faultline-netfault", Pkg: "github.com/faultline/faultline/cmd/faultline-netfault", NoSearch: true})
	require.NoError(t, err)
	out, _ := exec.Command(p).CombinedOutput()
	assert.Contains(t, string(out), "usage: faultline-netfault")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b[:min(len(b), 4096)]), "/lib64/ld-linux", "static: no dynamic loader")
}
