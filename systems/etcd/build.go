package etcd

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

// ServerModule is the module whose main package is the etcd server.
const ServerModule = "go.etcd.io/etcd/server/v3"

// clientModule is required next to the server so that the scratch module
// resolves etcd's own packages at one version (the server's go.mod uses
// replace directives, which is also why `go install` of it fails).
const clientModule = "go.etcd.io/etcd/client/v3"

// DefaultSeries is the release series whose newest version is built when
// no version is given.
const DefaultSeries = "v3.7"

// BinaryOptions says which etcd binary to use.
type BinaryOptions struct {
	// Binary is a prebuilt etcd: used as it is once checked (a static
	// Linux ELF whose --version says etcd). Version is then ignored.
	Binary string
	// Version is the etcd version to build, like v3.7.3 (3.5 or later);
	// empty means the newest release of DefaultSeries the module proxy
	// serves.
	Version string
	// CacheDir holds built binaries as <CacheDir>/<version>/etcd; empty
	// means <os.UserCacheDir()>/faultline/etcd.
	CacheDir string
	// Go is the go command (default "go").
	Go     string
	Logger *slog.Logger
}

// Binary is a checked etcd binary.
type Binary struct {
	Path    string
	Version string // as its --version says, like v3.7.3
	// Built is true when this call built it (false: cached or given).
	Built     bool
	BuildTime time.Duration
}

// EnsureBinary returns a checked etcd binary: the given one, or the
// cached build of the version, building it first if needed. Concurrent
// callers (go test runs packages in parallel) share one build through a
// lock file in the cache directory.
func EnsureBinary(ctx context.Context, o BinaryOptions) (Binary, error) {
	if o.Binary != "" {
		p, err := filepath.Abs(o.Binary)
		if err != nil {
			return Binary{}, err
		}
		v, err := CheckBinary(ctx, p)
		if err != nil {
			return Binary{}, err
		}
		return Binary{Path: p, Version: v}, nil
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
			return Binary{}, fmt.Errorf("etcd: no cache directory for built binaries (%w): pass a prebuilt binary or a cache directory", err)
		}
		o.CacheDir = filepath.Join(d, "faultline", "etcd")
	}
	version := o.Version
	if version != "" {
		v, err := normalizeVersion(version)
		if err != nil {
			return Binary{}, err
		}
		version = v
		// A cached build needs no network.
		if b, ok := cached(ctx, o.CacheDir, version); ok {
			return b, nil
		}
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return Binary{}, fmt.Errorf("etcd: cache directory: %w", err)
	}
	served, err := servedVersions(ctx, o.Go, o.CacheDir)
	if err != nil {
		return Binary{}, err
	}
	if version == "" {
		version = newest(served, DefaultSeries)
		if version == "" {
			return Binary{}, fmt.Errorf("etcd: the module proxy serves no %s.x release of %s (it serves %s): pass a version", DefaultSeries, ServerModule, strings.Join(served, " "))
		}
	} else if !contains(served, version) {
		return Binary{}, fmt.Errorf("etcd: the module proxy does not serve %s@%s; releases it serves from v3.5 on: %s", ServerModule, version, strings.Join(from35(served), " "))
	}

	unlock, err := lock(ctx, filepath.Join(o.CacheDir, ".lock"))
	if err != nil {
		return Binary{}, err
	}
	defer unlock()
	if b, ok := cached(ctx, o.CacheDir, version); ok {
		return b, nil // built by another process while we waited
	}
	o.Logger.Info("building etcd from the module proxy (once per version; cached)", "version", version, "cache", o.CacheDir)
	start := time.Now()
	path, err := build(ctx, o.Go, o.CacheDir, version)
	if err != nil {
		return Binary{}, err
	}
	b := Binary{Path: path, Version: version, Built: true, BuildTime: time.Since(start)}
	o.Logger.Info("etcd built", "version", version, "path", path, "took", b.BuildTime.Round(time.Second))
	return b, nil
}

var versionRE = regexp.MustCompile(`^v?(3)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$`)

// normalizeVersion turns "3.7.3" or "v3.7.3" into "v3.7.3" and refuses
// anything before 3.5 (older servers are another module path).
func normalizeVersion(v string) (string, error) {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("etcd: version %q is not an etcd release like v3.7.3", v)
	}
	minor, _ := strconv.Atoi(m[2])
	if minor < 5 {
		return "", fmt.Errorf("etcd: version %s is older than 3.5: only 3.5 and later are built from %s", v, ServerModule)
	}
	return "v" + strings.TrimPrefix(v, "v"), nil
}

// cached returns the cached build of version when it is there and passes
// CheckBinary.
func cached(ctx context.Context, dir, version string) (Binary, bool) {
	p := filepath.Join(dir, version, "etcd")
	if _, err := os.Stat(p); err != nil {
		return Binary{}, false
	}
	v, err := CheckBinary(ctx, p)
	if err != nil || v != version {
		return Binary{}, false
	}
	return Binary{Path: p, Version: v}, true
}

// servedVersions asks the module proxy (through the go command) which
// versions of the server module it serves.
func servedVersions(ctx context.Context, goCmd, dir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goCmd, "list", "-m", "-versions", ServerModule)
	cmd.Dir = dir // outside any module, so no go.mod or go.work applies
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GO111MODULE=on")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("etcd: list the versions of %s the module proxy serves: `%s list -m -versions %s`: %w\n%s", ServerModule, goCmd, ServerModule, err, bytes.TrimSpace(out))
	}
	f := strings.Fields(string(out))
	if len(f) < 1 || f[0] != ServerModule {
		return nil, fmt.Errorf("etcd: unexpected answer from `go list -m -versions %s`: %q", ServerModule, out)
	}
	return f[1:], nil
}

// newest returns the newest release (no pre-release suffix) of series
// among versions, which the go command lists in semver order.
func newest(versions []string, series string) string {
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

func from35(versions []string) []string {
	var out []string
	for _, v := range versions {
		if m := versionRE.FindStringSubmatch(v); m != nil {
			if minor, _ := strconv.Atoi(m[2]); minor >= 5 {
				out = append(out, v)
			}
		}
	}
	return out
}

// lock takes an exclusive flock on path, waiting (cancellable) for it.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("etcd: build lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("etcd: build lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("etcd: waiting for another process's build (lock %s): %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// build builds version statically in a scratch module under dir and moves
// the checked binary to dir/<version>/etcd. The scratch module is removed
// whatever happens, and a failed build leaves no binary.
func build(ctx context.Context, goCmd, dir, version string) (string, error) {
	scratch, err := os.MkdirTemp(dir, ".build-"+version+"-")
	if err != nil {
		return "", fmt.Errorf("etcd: build directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, "go.mod"), []byte("module faultline.local/etcdbuild\n"), 0o644); err != nil {
		return "", fmt.Errorf("etcd: build directory: %w", err)
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOOS=linux")
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir, cmd.Env = scratch, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("etcd: building %s failed: `%s %s`: %w\n%s", version, goCmd, strings.Join(args, " "), err, tail(out, 4000))
		}
		return nil
	}
	if err := run("get", ServerModule+"@"+version, clientModule+"@"+version); err != nil {
		return "", err
	}
	out := filepath.Join(scratch, "etcd")
	if err := run("build", "-trimpath", "-o", out, ServerModule); err != nil {
		return "", err
	}
	v, err := CheckBinary(ctx, out)
	if err != nil {
		return "", fmt.Errorf("etcd: the build of %s is not usable: %w", version, err)
	}
	if v != version {
		return "", fmt.Errorf("etcd: the build of %s says it is %s", version, v)
	}
	final := filepath.Join(dir, version)
	if err := os.MkdirAll(final, 0o755); err != nil {
		return "", fmt.Errorf("etcd: cache directory: %w", err)
	}
	p := filepath.Join(final, "etcd")
	if err := os.Rename(out, p); err != nil {
		return "", fmt.Errorf("etcd: move the build into the cache: %w", err)
	}
	return p, nil
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return string(b)
}

var etcdVersionRE = regexp.MustCompile(`(?m)^etcd Version: (\S+)$`)

// CheckBinary checks that path is a statically linked Linux ELF (the
// docker backend runs it FROM scratch) whose --version says it is etcd,
// and returns that version ("v3.7.3").
func CheckBinary(ctx context.Context, path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("etcd binary %s: not a Linux ELF executable: %w", path, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return "", fmt.Errorf("etcd binary %s is dynamically linked: build it with CGO_ENABLED=0 (nodes run FROM scratch, with no libc)", path)
		}
	}
	f.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("etcd binary %s: `%s --version` failed: %w: %s", path, path, err, tail(out, 500))
	}
	m := etcdVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("etcd binary %s: its --version does not say etcd (want a line \"etcd Version: 3.x.y\"): %s", path, tail(out, 500))
	}
	return "v" + strings.TrimPrefix(string(m[1]), "v"), nil
}
