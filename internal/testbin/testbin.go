// Package testbin builds the project's binaries for tests: once per test
// binary, statically linked (CGO_ENABLED=0, so the docker backend can pack
// them into a FROM-scratch image), into a temporary directory.
//
// Use it from a test:
//
//	bin := testbin.Storenode(t)
//
// and remove the directory when the test binary ends with a TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }
//
// Without that TestMain the directory stays behind until a later test
// binary that uses testbin sweeps it (directories of processes that are
// gone are removed on first use).
package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// StorenodePkg is the import path of the reference store's node binary.
const StorenodePkg = "github.com/faultline/faultline/cmd/storenode"

// dirPrefix names the temporary directories, followed by the pid of the
// test binary that owns them.
const dirPrefix = "faultline-testbin-"

var (
	mu     sync.Mutex
	dir    string
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Storenode returns the path of cmd/storenode built for this test binary.
// It fails the test if the build fails.
func Storenode(tb testing.TB) string {
	tb.Helper()
	return Build(tb, StorenodePkg, "storenode")
}

// Build builds the main package pkg (an import path inside this module)
// as name, once per test binary, and returns the binary's path. Concurrent
// callers wait for the one build.
func Build(tb testing.TB, pkg, name string) string {
	tb.Helper()
	p, err := BuildErr(pkg, name)
	if err != nil {
		tb.Fatalf("testbin: %v", err)
	}
	return p
}

// BuildErr is Build for callers without a testing.TB (TestMain,
// benchmarks' setup, other helpers).
func BuildErr(pkg, name string) (string, error) {
	mu.Lock()
	b, ok := builds[pkg+"\x00"+name]
	if !ok {
		b = &build{}
		builds[pkg+"\x00"+name] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.path, b.err = doBuild(pkg, name) })
	return b.path, b.err
}

func doBuild(pkg, name string) (string, error) {
	d, err := tempDir()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(d, name)
	cmd := exec.Command(goTool(), "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %w\n%s", pkg, root, err, strings.TrimSpace(string(msg)))
	}
	return out, nil
}

// tempDir returns this test binary's directory, creating it (and sweeping
// directories left by test binaries that are gone) on first use.
func tempDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		return dir, nil
	}
	sweep()
	d, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("create a directory for test binaries: %w", err)
	}
	dir = d
	return dir, nil
}

// sweep removes directories of earlier test binaries whose process is gone.
func sweep() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), dirPrefix)
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(m)
		}
	}
}

// Cleanup removes the directory of built binaries. Main calls it.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
		builds = map[string]*build{}
	}
}

// Main runs the tests and then removes the built binaries; use it as
// os.Exit(testbin.Main(m)) in a TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	Cleanup()
	return code
}

// moduleRoot finds the directory of go.mod from the working directory (a
// test runs in its package's directory).
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find the module root: no go.mod above %s", wd)
		}
	}
}

// goTool is the go command: the one of the toolchain that built the test,
// else the one on PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}
