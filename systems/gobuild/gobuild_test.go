package gobuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is a Program whose "module" is served by a script standing in for
// the go command (a module proxy that serves a made-up module is not
// available here); its "build" copies a real static binary that prints
// "fake version v1.2.3".
var fake = Program{
	Name: "fake", Module: "example.com/fake", Series: "v1.2", MinVersion: "v1.1.0",
	VersionRE: regexp.MustCompile(`(?m)^fake version (\S+)$`),
}

// staticProgram builds a static Go binary printing out, for the checks.
func staticProgram(t *testing.T, out string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\""+out+"\") }\n"), 0o644))
	bin := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	return bin
}

// fakeGo writes the stand-in go command: `list` prints the served
// versions, `get` fails when getErr is set, `build` copies bin to its -o
// path and appends a line to the returned count file.
func fakeGo(t *testing.T, bin, getErr string) (goCmd, count string) {
	t.Helper()
	dir := t.TempDir()
	count = filepath.Join(dir, "builds")
	get := "exit 0"
	if getErr != "" {
		get = "echo '" + getErr + "' >&2; exit 1"
	}
	goCmd = filepath.Join(dir, "go")
	require.NoError(t, os.WriteFile(goCmd, []byte(`#!/bin/sh
case "$1" in
list) echo "example.com/fake v1.0.0 v1.1.0 v1.2.0 v1.2.3 v1.3.0-rc.1" ;;
get) `+get+` ;;
build) echo x >> "`+count+`"; cp "`+bin+`" "$4" ;;
esac
`), 0o755))
	return goCmd, count
}

func builds(t *testing.T, count string) int {
	b, err := os.ReadFile(count)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "x")
}

func TestNewest(t *testing.T) {
	vs := strings.Fields("v3.6.16 v3.7.0-beta.0 v3.7.0-rc.0 v3.7.0 v3.7.1 v3.7.3 v3.8.0-alpha.0")
	for _, tc := range []struct{ series, want string }{
		{"v3.7", "v3.7.3"},
		{"v3.6", "v3.6.16"},
		{"v3.9", ""},
		{"v3.8", ""}, // only a pre-release
	} {
		assert.Equal(t, tc.want, Newest(vs, tc.series), tc.series)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"v1.2.3", "v1.2.3", ""},
		{"1.2.3", "v1.2.3", ""},
		{"v1.1.0", "v1.1.0", ""},
		{"v1.3.0-rc.1", "v1.3.0-rc.1", ""},
		{"v1.0.9", "", "older than v1.1.0"},
		{"v0.9.0", "", "older than v1.1.0"},
		{"latest", "", "not a release like v1.2.0"},
		{"v1.2", "", "not a release"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := fake.normalize(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho 'fake version v1.2.3'\n"), 0o755))
	other := staticProgram(t, "hello v1.2.3")
	for _, tc := range []struct{ name, path, err string }{
		{"missing", filepath.Join(dir, "nope"), "not a Linux ELF"},
		{"script", script, "not a Linux ELF"},
		{"another program", other, "does not say fake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fake.Check(context.Background(), tc.path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	if p, err := exec.LookPath("ls"); err == nil {
		_, err := fake.Check(context.Background(), p)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "dynamically linked")
	}
	// A prebuilt binary goes through the same checks.
	_, err := fake.Ensure(context.Background(), Options{Binary: other})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not say fake")
	_, err = fake.Ensure(context.Background(), Options{Binary: other, Version: "v1.2.3"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "give one")
}

func TestEnsureGivenBinary(t *testing.T) {
	bin := staticProgram(t, "fake version 1.2.3")
	b, err := fake.Ensure(context.Background(), Options{Binary: bin})
	require.NoError(t, err)
	assert.Equal(t, "v1.2.3", b.Version)
	assert.Equal(t, bin, b.Path)
	assert.False(t, b.Built)
}

// TestEnsureBuildsOnceAndCaches: the default version is the series'
// newest release; a second call, and concurrent calls, reuse the build.
func TestEnsureBuildsOnceAndCaches(t *testing.T) {
	goCmd, count := fakeGo(t, staticProgram(t, "fake version v1.2.3"), "")
	cache := t.TempDir()
	var wg sync.WaitGroup
	got := make([]Binary, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = fake.Ensure(context.Background(), Options{CacheDir: cache, Go: goCmd})
		}()
	}
	wg.Wait()
	built := 0
	for i := range got {
		require.NoError(t, errs[i])
		assert.Equal(t, "v1.2.3", got[i].Version)
		assert.Equal(t, filepath.Join(cache, "v1.2.3", "fake"), got[i].Path)
		if got[i].Built {
			built++
		}
	}
	assert.Equal(t, 1, built, "one caller builds, the others wait for it")
	assert.Equal(t, 1, builds(t, count))

	again, err := fake.Ensure(context.Background(), Options{CacheDir: cache, Go: goCmd, Version: "1.2.3"})
	require.NoError(t, err)
	assert.False(t, again.Built)
	assert.Equal(t, 1, builds(t, count), "a cached version is not built again")
	assertOnly(t, cache, ".lock", "v1.2.3")
}

func TestEnsureRefuses(t *testing.T) {
	bin := staticProgram(t, "fake version v1.2.3")
	for _, tc := range []struct {
		name, version, getErr string
		errs                  []string
	}{
		{"unserved", "v1.2.9", "", []string{"does not serve example.com/fake@v1.2.9", "from v1.1.0 on: v1.1.0 v1.2.0 v1.2.3 v1.3.0-rc.1"}},
		{"too old", "v1.0.0", "", []string{"older than v1.1.0"}},
		// The go command's own output is in the error, with the version.
		{"failed get", "", "verifying module: checksum mismatch", []string{"building v1.2.3 failed", "checksum mismatch", "go get example.com/fake@v1.2.3"}},
		// The build of v1.2.0 prints v1.2.3: not what was asked for.
		{"wrong version built", "v1.2.0", "", []string{"the build of v1.2.0 says it is v1.2.3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goCmd, _ := fakeGo(t, bin, tc.getErr)
			cache := t.TempDir()
			_, err := fake.Ensure(context.Background(), Options{CacheDir: cache, Go: goCmd, Version: tc.version})
			require.Error(t, err)
			for _, e := range tc.errs {
				assert.Contains(t, err.Error(), e)
			}
			assertOnly(t, cache, ".lock")
		})
	}
}

// TestServedByTheRealProxy asks the real module proxy through the real go
// command (no build): the error for an unserved version lists releases.
func TestServedByTheRealProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("asks the module proxy")
	}
	p := Program{Name: "nats-server", Module: "github.com/nats-io/nats-server/v2", Series: "v2.10", MinVersion: "v2.10.0", VersionRE: regexp.MustCompile(`nats-server: (\S+)`)}
	_, err := p.Ensure(context.Background(), Options{CacheDir: t.TempDir(), Version: "v2.10.999"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not serve github.com/nats-io/nats-server/v2@v2.10.999")
	assert.Contains(t, err.Error(), "v2.10.0 ", "the error lists the releases it serves")
	assert.NotContains(t, err.Error(), "v2.9.", "older releases than MinVersion are not offered")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.Contains(t, names, e.Name(), "left behind in the cache")
	}
}
