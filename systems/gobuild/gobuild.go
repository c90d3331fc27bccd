// Package gobuild gives a system under test its node binary: a Go program
// built statically (CGO_ENABLED=0, so the docker backend can run it FROM
// scratch) from the Go module proxy at a pinned version, cached by version
// under the user's cache directory; or a prebuilt binary, checked the same
// way a build is (a static Linux ELF whose version flag names the program).
//
// Why a scratch module and not `go install M@V`: `go install` refuses a
// module whose go.mod has replace directives (etcd's server has them), and
// a scratch module lets companion modules be pinned to the same version
// (Program.With). Why a lock file: `go test` runs packages in parallel,
// and two packages of one system must share one build, not race two.
package gobuild

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Program is a Go program that runs one node of a system under test.
type Program struct {
	// Name names the program in errors, the cache directory and the
	// binary's file name ("etcd", "nats-server").
	Name string
	// Module is the module whose releases are the program's versions.
	Module string
	// Package is the main package to build; default Module.
	Package string
	// With lists modules required at the same version as Module (etcd's
	// client module, so its own packages resolve at one version).
	With []string
	// Series is the release series built when no version is given: its
	// newest release (no pre-release) the proxy serves, like "v3.7".
	Series string
	// MinVersion, when set, refuses older versions (another module path,
	// or options the system needs that they lack), like "v3.5.0".
	MinVersion string
	// VersionArgs make the binary print its version; default --version.
	VersionArgs []string
	// VersionRE finds the version in that output: its first submatch,
	// with or without a leading v.
	VersionRE *regexp.Regexp
}

// Options say which binary to use.
type Options struct {
	// Binary is a prebuilt binary, used once checked; Version must then
	// be empty (a binary says its own version).
	Binary string
	// Version to build, like v2.15.3 (the v is optional); empty: the
	// newest release of Program.Series the module proxy serves.
	Version string
	// CacheDir holds builds as <CacheDir>/<version>/<Name>; default
	// <os.UserCacheDir()>/faultline/<Name>.
	CacheDir string
	// Go is the go command; default "go".
	Go     string
	Logger *slog.Logger
}

// Binary is a checked binary.
type Binary struct {
	Path    string
	Version string // as the binary says, with a leading v
	// Built is true when this call built it (false: cached or given).
	Built     bool
	BuildTime time.Duration
}

// Ensure returns a checked binary of p: the given one, or the cached build
// of the version, building it first if needed.
func (p Program) Ensure(ctx context.Context, o Options) (Binary, error) {
	if err := p.valid(); err != nil {
		return Binary{}, err
	}
	if o.Binary != "" {
		if o.Version != "" {
			return Binary{}, fmt.Errorf("%s: a prebuilt binary (%s) and a version (%s): give one, a binary says its own version", p.Name, o.Binary, o.Version)
		}
		path, err := filepath.Abs(o.Binary)
		if err != nil {
			return Binary{}, err
		}
		v, err := p.Check(ctx, path)
		if err != nil {
			return Binary{}, err
		}
		return Binary{Path: path, Version: v}, nil
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return Binary{}, fmt.Errorf("%s: no cache directory for built binaries (%w): pass a prebuilt binary or a cache directory", p.Name, err)
		}
		o.CacheDir = filepath.Join(d, "faultline", p.Name)
	}
	version := o.Version
	if version != "" {
		v, err := p.normalize(version)
		if err != nil {
			return Binary{}, err
		}
		version = v
		// A cached build needs no network.
		if b, ok := p.cached(ctx, o.CacheDir, version); ok {
			return b, nil
		}
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return Binary{}, fmt.Errorf("%s: cache directory: %w", p.Name, err)
	}
	served, err := p.served(ctx, o.Go, o.CacheDir)
	if err != nil {
		return Binary{}, err
	}
	if version == "" {
		version = Newest(served, p.Series)
		if version == "" {
			return Binary{}, fmt.Errorf("%s: the module proxy serves no %s.x release of %s (it serves %s): pass a version", p.Name, p.Series, p.Module, strings.Join(p.supported(served), " "))
		}
	} else if !contains(served, version) {
		return Binary{}, fmt.Errorf("%s: the module proxy does not serve %s@%s; the releases it serves%s: %s", p.Name, p.Module, version, p.fromMin(), strings.Join(p.supported(served), " "))
	}

	unlock, err := lock(ctx, p.Name, filepath.Join(o.CacheDir, ".lock"))
	if err != nil {
		return Binary{}, err
	}
	defer unlock()
	if b, ok := p.cached(ctx, o.CacheDir, version); ok {
		return b, nil // built by another process while this one waited
	}
	o.Logger.Info("building "+p.Name+" from the module proxy (once per version; cached)", "version", version, "cache", o.CacheDir)
	start := time.Now()
	path, err := p.build(ctx, o.Go, o.CacheDir, version)
	if err != nil {
		return Binary{}, err
	}
	b := Binary{Path: path, Version: version, Built: true, BuildTime: time.Since(start)}
	o.Logger.Info(p.Name+" built", "version", version, "path", path, "took", b.BuildTime.Round(time.Second))
	return b, nil
}

func (p Program) valid() error {
	if p.Name == "" || p.Module == "" || p.Series == "" || p.VersionRE == nil {
		return fmt.Errorf("gobuild: Program %q needs Name, Module, Series and VersionRE", p.Name)
	}
	return nil
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$`)

// normalize turns "2.15.3" or "v2.15.3" into "v2.15.3" and refuses
// versions before MinVersion.
func (p Program) normalize(v string) (string, error) {
	if versionRE.FindStringSubmatch(v) == nil {
		return "", fmt.Errorf("%s: version %q is not a release like %s.0", p.Name, v, p.Series)
	}
	v = "v" + strings.TrimPrefix(v, "v")
	if p.MinVersion != "" && older(v, p.MinVersion) {
		return "", fmt.Errorf("%s: version %s is older than %s, the oldest this harness runs", p.Name, v, p.MinVersion)
	}
	return v, nil
}

// older reports whether release a is before release b, by major, minor
// and patch (pre-release suffixes are not compared).
func older(a, b string) bool {
	ma, mb := versionRE.FindStringSubmatch(a), versionRE.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		return false
	}
	for i := 1; i <= 3; i++ {
		x, _ := strconv.Atoi(ma[i])
		y, _ := strconv.Atoi(mb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// supported is versions without those before MinVersion.
func (p Program) supported(versions []string) []string {
	var out []string
	for _, v := range versions {
		if p.MinVersion == "" || !older(v, p.MinVersion) {
			out = append(out, v)
		}
	}
	return out
}

func (p Program) fromMin() string {
	if p.MinVersion == "" {
		return ""
	}
	return " from " + p.MinVersion + " on"
}

// cached returns the cached build of version when it is there and passes
// Check.
func (p Program) cached(ctx context.Context, dir, version string) (Binary, bool) {
	path := filepath.Join(dir, version, p.Name)
	if _, err := os.Stat(path); err != nil {
		return Binary{}, false
	}
	v, err := p.Check(ctx, path)
	if err != nil || v != version {
		return Binary{}, false
	}
	return Binary{Path: path, Version: v}, true
}

// goEnv is the go command's environment: outside any module or workspace
// of the caller, and never cgo.
func goEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOOS=linux")
}

// served asks the module proxy (through the go command) which versions of
// the module it serves, in semver order.
func (p Program) served(ctx context.Context, goCmd, dir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goCmd, "list", "-m", "-versions", p.Module)
	cmd.Dir, cmd.Env = dir, goEnv() // dir is outside any module
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: list the versions of %s the module proxy serves: `%s list -m -versions %s`: %w\n%s", p.Name, p.Module, goCmd, p.Module, err, tail(out, 2000))
	}
	f := strings.Fields(string(out))
	if len(f) < 1 || f[0] != p.Module {
		return nil, fmt.Errorf("%s: unexpected answer from `go list -m -versions %s`: %q", p.Name, p.Module, tail(out, 500))
	}
	return f[1:], nil
}

// Newest returns the newest release (no pre-release suffix) of series
// among versions, which the go command lists in semver order.
func Newest(versions []string, series string) string {
	best := ""
	for _, v := range versions {
		if strings.HasPrefix(v, series+".") && !strings.Contains(v, "-") {
			best = v
		}
	}
	return best
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// lock takes an exclusive flock on path, waiting (cancellable) for it.
func lock(ctx context.Context, name, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: build lock: %w", name, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("%s: build lock %s: %w", name, path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%s: waiting for another process's build (lock %s): %w", name, path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// build builds version statically in a scratch module under dir and moves
// the checked binary to dir/<version>/<Name>. The scratch module is
// removed whatever happens, and a failed build leaves no binary.
func (p Program) build(ctx context.Context, goCmd, dir, version string) (string, error) {
	scratch, err := os.MkdirTemp(dir, ".build-"+version+"-")
	if err != nil {
		return "", fmt.Errorf("%s: build directory: %w", p.Name, err)
	}
	defer os.RemoveAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, "go.mod"), []byte("module faultline.local/gobuild\n"), 0o644); err != nil {
		return "", fmt.Errorf("%s: build directory: %w", p.Name, err)
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir, cmd.Env = scratch, goEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: building %s failed: `%s %s`: %w\n%s", p.Name, version, goCmd, strings.Join(args, " "), err, tail(out, 4000))
		}
		return nil
	}
	get := []string{"get", p.Module + "@" + version}
	for _, m := range p.With {
		get = append(get, m+"@"+version)
	}
	if err := run(get...); err != nil {
		return "", err
	}
	pkg := p.Package
	if pkg == "" {
		pkg = p.Module
	}
	out := filepath.Join(scratch, p.Name)
	if err := run("build", "-trimpath", "-o", out, pkg); err != nil {
		return "", err
	}
	v, err := p.Check(ctx, out)
	if err != nil {
		return "", fmt.Errorf("%s: the build of %s is not usable: %w", p.Name, version, err)
	}
	if v != version {
		return "", fmt.Errorf("%s: the build of %s says it is %s", p.Name, version, v)
	}
	final := filepath.Join(dir, version)
	if err := os.MkdirAll(final, 0o755); err != nil {
		return "", fmt.Errorf("%s: cache directory: %w", p.Name, err)
	}
	path := filepath.Join(final, p.Name)
	if err := os.Rename(out, path); err != nil {
		return "", fmt.Errorf("%s: move the build into the cache: %w", p.Name, err)
	}
	return path, nil
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return string(b)
}

// Check checks that path is a statically linked Linux ELF (the docker
// backend runs it FROM scratch) whose version output names the program,
// and returns that version with a leading v.
func (p Program) Check(ctx context.Context, path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s binary %s: not a Linux ELF executable: %w", p.Name, path, err)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			f.Close()
			return "", fmt.Errorf("%s binary %s is dynamically linked: build it with CGO_ENABLED=0 (nodes run FROM scratch, with no libc)", p.Name, path)
		}
	}
	f.Close()
	args := p.VersionArgs
	if len(args) == 0 {
		args = []string{"--version"}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s binary %s: `%s %s` failed: %w: %s", p.Name, path, path, strings.Join(args, " "), err, tail(out, 500))
	}
	m := p.VersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s binary %s: its %s does not say %s (want a match of %q): %s", p.Name, path, strings.Join(args, " "), p.Name, p.VersionRE, tail(out, 500))
	}
	return "v" + strings.TrimPrefix(string(m[1]), "v"), nil
}
