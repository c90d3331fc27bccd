// Package nodebin finds the static binaries a test runs — a system's node
// binary, the docker backend's network-fault helper — in one order for
// every caller (the CLI, harness/reftest, harness/systemtest, the docker
// backend): a path given explicitly, an environment variable, next to the
// running executable, ./bin, $PATH, and last, when the caller allows it,
// `go build` of its package with CGO_ENABLED=0 into the user's cache
// directory (static, because the docker backend packs it into a FROM
// scratch image).
package nodebin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Spec says where to look for one binary.
type Spec struct {
	// Name is the file name: "storenode", "faultline-netfault".
	Name string
	// Path, when set, is the binary to use, and the only place looked at.
	// Flag names the option it came from, for the error ("--storenode").
	Path, Flag string
	// Env names an environment variable that, when set, is Path.
	Env string
	// Pkg, when set, is the main package's import path (or ./path) to
	// build when no binary is found; empty: never build.
	Pkg string
	// NoSearch skips the executable's directory, ./bin and $PATH (a test
	// that must run the binary built from the source in front of it).
	NoSearch bool
}

// Find returns the absolute path of s's binary.
func Find(s Spec) (string, error) {
	if s.Path != "" {
		return existing(s.Path, s.Flag)
	}
	if s.Env != "" {
		if p := os.Getenv(s.Env); p != "" {
			return existing(p, s.Env)
		}
	}
	var tried []string
	if !s.NoSearch {
		if exe, err := os.Executable(); err == nil {
			p := filepath.Join(filepath.Dir(exe), s.Name)
			tried = append(tried, p)
			if isFile(p) {
				return p, nil
			}
		}
		p := filepath.Join("bin", s.Name)
		tried = append(tried, p)
		if isFile(p) {
			return filepath.Abs(p)
		}
		tried = append(tried, "$PATH")
		if p, err := exec.LookPath(s.Name); err == nil {
			return filepath.Abs(p)
		}
	}
	if s.Pkg == "" {
		return "", fmt.Errorf("%s binary not found (looked at %s): run `make build`%s", s.Name, strings.Join(tried, ", "), orSet(s))
	}
	p, err := Build(s.Pkg, s.Name)
	if err != nil {
		return "", fmt.Errorf("%w%s", err, orSet(s))
	}
	return p, nil
}

func orSet(s Spec) string {
	var ways []string
	if s.Flag != "" {
		ways = append(ways, "pass "+s.Flag)
	}
	if s.Env != "" {
		ways = append(ways, "set "+s.Env)
	}
	if len(ways) == 0 {
		return ""
	}
	return ", or " + strings.Join(ways, ", or ")
}

func existing(p, from string) (string, error) {
	if !isFile(p) {
		return "", fmt.Errorf("%s %q: no such binary (build it with `make build`, or unset it to look elsewhere)", from, p)
	}
	return filepath.Abs(p)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

var (
	mu     sync.Mutex
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build builds pkg statically as name, once per process, into
// <user cache dir>/faultline/bin/<name>-<hash of the working directory>:
// one file per checkout, so that two checkouts do not overwrite each
// other's binary, replaced atomically, so that a node still running the
// previous build is not disturbed. Go's build cache makes the rebuild of
// unchanged sources cheap, and building once per process keeps the binary
// in step with the source.
func Build(pkg, name string) (string, error) {
	wd, _ := os.Getwd()
	key := pkg + "\x00" + name + "\x00" + wd
	mu.Lock()
	b, ok := builds[key]
	if !ok {
		b = &build{}
		builds[key] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.path, b.err = doBuild(pkg, name, wd) })
	return b.path, b.err
}

func doBuild(pkg, name, wd string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "faultline", "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s for the %s binary: %w", dir, name, err)
	}
	sum := sha256.Sum256([]byte(wd))
	out := filepath.Join(dir, name+"-"+hex.EncodeToString(sum[:6]))
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return "", fmt.Errorf("create a file in %s for the %s binary: %w", dir, name, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool(), "build", "-o", tmp.Name(), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", fmt.Errorf("no %s binary, and no go command to build %s: %w", name, pkg, err)
		}
		return "", fmt.Errorf("go build %s (in %s): %w\n%s", pkg, wd, err, strings.TrimSpace(string(msg)))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("install the %s binary at %s: %w", name, out, err)
	}
	return out, nil
}

// goTool is the go command of the toolchain that built this program, else
// the one on PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}
