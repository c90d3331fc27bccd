package docker

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// The network-fault helper (cmd/faultline-netfault) goes into every node
// image at /HelperName, beside the system's binary, so that when the
// harness cannot open a container's network namespace from the host (not
// root on the docker host) partitions and packet faults still reach any
// system's nodes through docker exec, whatever its binary knows.
const (
	HelperName = "faultline-netfault"
	// HelperEnv is the path of a helper binary to use instead of finding
	// or building one.
	HelperEnv = "FAULTLINE_NETFAULT"
	// HelperPkg is the helper's import path, built when no binary is found.
	HelperPkg = "github.com/faultline/faultline/cmd/faultline-netfault"
)

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// FindHelper returns the helper binary: $FAULTLINE_NETFAULT, else
// faultline-netfault next to the running executable (make build puts it
// beside bin/faultline), else HelperPkg built once per process with `go
// build` (CGO_ENABLED=0) into <user cache dir>/faultline/bin, which works
// wherever the go command can see faultline's module (this repository,
// or a module that requires it).
func FindHelper() (string, error) {
	helperOnce.Do(func() { helperPath, helperErr = findHelper() })
	return helperPath, helperErr
}

func findHelper() (string, error) {
	if p := os.Getenv(HelperEnv); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("%s=%q: no such binary", HelperEnv, p)
		}
		return filepath.Abs(p)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), HelperName)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "faultline", "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s for the %s binary: %w", dir, HelperName, err)
	}
	tmp, err := os.CreateTemp(dir, "."+HelperName+"-*")
	if err != nil {
		return "", fmt.Errorf("create a file in %s: %w", dir, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gocmd); err != nil {
		gocmd = "go"
	}
	cmd := exec.Command(gocmd, "build", "-o", tmp.Name(), HelperPkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("no %s next to the executable and go build %s failed (set %s to a static build of it): %w: %s",
			HelperName, HelperPkg, HelperEnv, err, strings.TrimSpace(string(out)))
	}
	// One file per process would pile up; one shared name, replaced
	// atomically, is safe: a build of the same source is the same helper.
	out := filepath.Join(dir, HelperName)
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("install %s at %s: %w", HelperName, out, err)
	}
	return out, nil
}
