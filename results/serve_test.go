package results

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
)

const secret = "TOP-SECRET-OUTSIDE-THE-RUNS-DIR"

// runsFixture builds a runs directory like faultline run leaves (three
// runs, runs/latest), with a secret file beside it and symbolic links that
// try to lead out of it. It returns the runs directory.
func runsFixture(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	runs := filepath.Join(base, "runs")
	require.NoError(t, os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o644))
	mk := func(name, ts string, start time.Time, v *checkers.Validity) string {
		dir := filepath.Join(runs, name, ts)
		opts := testOptions(name, 1)
		delete(opts, "start_time")
		opts["start"] = start.Format(time.RFC3339Nano)
		if name == "strong-kv-partition" {
			opts["faults"] = []string{"stale-reads"}
		}
		var sum *checkers.Summary
		if v != nil {
			sum = &checkers.Summary{Valid: *v, Results: []checkers.Result{{Checker: "linearizable", Valid: *v}}}
		}
		genRun(t, dir, genOpts{Seed: 1, Procs: 2, Keys: []string{"a"}, Duration: 200 * time.Millisecond}, opts, sum)
		require.NoError(t, WriteReports(context.Background(), dir))
		return dir
	}
	valid, invalid := checkers.Valid, checkers.Invalid
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	mk("strong-kv-none", "20261123T100000.000Z", t0, &valid)
	mk("strong-kv-partition", "20261123T120000.000Z", t0.Add(2*time.Hour), &invalid)
	mk("eventual-kv-kill", "20261123T110000.000Z", t0.Add(time.Hour), nil)
	require.NoError(t, os.Symlink("strong-kv-partition/20261123T120000.000Z", filepath.Join(runs, "latest")))
	require.NoError(t, os.MkdirAll(filepath.Join(runs, "compare-20261123T130000Z"), 0o755))
	require.NoError(t, WriteCompare(filepath.Join(runs, "compare-20261123T130000Z"), sampleComparison()))
	require.NoError(t, os.Symlink("..", filepath.Join(runs, "up")))
	require.NoError(t, os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(runs, "abs")))
	require.NoError(t, os.Symlink("../secret.txt", filepath.Join(runs, "strong-kv-none", "rel")))
	return runs
}

func startServer(t *testing.T, runs string) *httptest.Server {
	t.Helper()
	srv, err := NewServer(runs, nil)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler()) // 127.0.0.1, an ephemeral port
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return ts
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServeIndex(t *testing.T) {
	ts := startServer(t, runsFixture(t))
	code, hdr, body := get(t, ts.URL+"/")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	assert.Equal(t, 3, strings.Count(body, `<tr class="run">`), "three runs, runs/latest not listed twice")
	iPart := strings.Index(body, "strong-kv-partition/20261123T120000.000Z")
	iKill := strings.Index(body, "eventual-kv-kill/20261123T110000.000Z")
	iNone := strings.Index(body, "strong-kv-none/20261123T100000.000Z")
	require.True(t, iPart > 0 && iKill > 0 && iNone > 0)
	assert.True(t, iPart < iKill && iKill < iNone, "newest first")
	assert.Contains(t, body, `<span class="badge invalid">invalid</span>`)
	assert.Contains(t, body, `<span class="badge valid">valid</span>`)
	assert.Contains(t, body, `<span class="badge none">not checked</span>`)
	assert.Contains(t, body, `href="/runs/strong-kv-partition/20261123T120000.000Z/report.html"`)
	assert.Contains(t, body, "<td>strong</td><td>kv</td><td>partition, kill</td>")
	assert.Contains(t, body, "<td><strong>stale-reads</strong></td>", "deliberate store faults are shown")
	assert.Contains(t, body, "<td>none</td>", "and their absence")
	assert.Contains(t, body, `<a href="/runs/compare-20261123T130000Z/compare.html">compare-20261123T130000Z</a>`, "the mode comparisons are linked")

	cases := []struct {
		filter string
		want   []string
	}{
		{"invalid", []string{"strong-kv-partition"}},
		{"valid", []string{"strong-kv-none"}},
		{"none", []string{"eventual-kv-kill"}},
		{"unknown", nil},
		{"all", []string{"strong-kv-partition", "eventual-kv-kill", "strong-kv-none"}},
	}
	for _, tc := range cases {
		t.Run("verdict="+tc.filter, func(t *testing.T) {
			code, _, body := get(t, ts.URL+"/?verdict="+tc.filter)
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, len(tc.want), strings.Count(body, `<tr class="run">`))
			for _, w := range tc.want {
				assert.Contains(t, body, w+"/2026")
			}
			if len(tc.want) == 0 {
				assert.Contains(t, body, "No run has this verdict")
			}
		})
	}
	code, _, body = get(t, ts.URL+"/?verdict=maybe")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, `verdict="maybe" is not a filter: use one of all, valid, invalid, unknown, none`)
}

func TestServeRunFiles(t *testing.T) {
	ts := startServer(t, runsFixture(t))
	cases := []struct {
		path, wantType, wantBody, wantCSP string
	}{
		{"/runs/strong-kv-partition/20261123T120000.000Z/report.html", "text/html; charset=utf-8", `class="badge big invalid"`, cspNoScript},
		{"/runs/latest/report.html", "text/html; charset=utf-8", `class="badge big invalid"`, cspNoScript},
		{"/runs/strong-kv-none/20261123T100000.000Z/linearizability.html", "text/html; charset=utf-8", "<html", cspInline},
		{"/runs/strong-kv-none/20261123T100000.000Z/nodes/n1.log", "text/plain; charset=utf-8", "msg=started", cspNoScript},
		{"/runs/strong-kv-none/20261123T100000.000Z/history.jsonl", "text/plain; charset=utf-8", `"type":"invoke"`, cspNoScript},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			code, hdr, body := get(t, ts.URL+tc.path)
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, tc.wantType, hdr.Get("Content-Type"))
			assert.Equal(t, tc.wantCSP, hdr.Get("Content-Security-Policy"))
			assert.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
			assert.Contains(t, body, tc.wantBody)
		})
	}
	code, _, _ := get(t, ts.URL+"/runs/strong-kv-none/20261123T100000.000Z/nope.html")
	assert.Equal(t, http.StatusNotFound, code)
}

// rawGet sends path as it is (no client-side cleaning) over loopback TCP
// and returns the status code, the Location header and the body.
func rawGet(t *testing.T, addr, path string) (int, string, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func TestServeConfinedToRunsDir(t *testing.T) {
	ts := startServer(t, runsFixture(t))
	addr := strings.TrimPrefix(ts.URL, "http://")
	paths := []string{
		"/runs/../secret.txt",
		"/runs/%2e%2e/secret.txt",
		"/runs/%2E%2E/secret.txt",
		"/runs/..%2fsecret.txt",
		"/runs/%2e%2e%2fsecret.txt",
		"/runs/strong-kv-none/..%2f..%2fsecret.txt",
		"/runs/strong-kv-none/%2e%2e/%2e%2e/secret.txt",
		"/runs//../secret.txt",
		"/runs/..\\secret.txt",
		"/runs/%5c..%5csecret.txt",
		"/../secret.txt",
		"/runs/up/secret.txt",                     // symlink runs/up -> ..
		"/runs/abs",                               // absolute symlink to the secret
		"/runs/strong-kv-none/rel",                // relative symlink climbing out
		"/runs/up/",                               // a listing of the parent
		"/runs/%2e%2e/",                           // idem
		"/runs/strong-kv-none/%2e%2e%2f%2e%2e%2f", // idem
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			code, loc, body := rawGet(t, addr, p)
			assert.NotContains(t, body, secret)
			assert.NotContains(t, body, ">secret.txt<", "no listing of the directory above")
			if code >= 300 && code < 400 {
				// The mux redirects a path with ".." to its cleaned form,
				// which is the index or a path that does not exist.
				require.True(t, strings.HasPrefix(loc, "/"), "redirect stays on the server: %q", loc)
				code, _, body = rawGet(t, addr, loc)
				assert.NotContains(t, body, secret)
				assert.NotContains(t, body, ">secret.txt<")
				if code == http.StatusOK {
					assert.Contains(t, body, "<h1>faultline runs</h1>", "only the index, inside the runs dir")
				}
				return
			}
			assert.NotEqual(t, http.StatusOK, code, "nothing outside the runs directory is served")
		})
	}
}

func TestNewServerBadDir(t *testing.T) {
	_, err := NewServer(filepath.Join(t.TempDir(), "nope"), nil)
	require.ErrorContains(t, err, "the runs directory must exist")
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err = NewServer(f, nil)
	require.ErrorContains(t, err, "not a directory")
}

// What a careless or hostile neighbour could ask of serve: dotfiles, a
// hard link to a file outside the runs directory (a hard link cannot be
// told from the original, so any file with two links is refused),
// directory listings; and every answer forbids framing.
func TestServeRefusesDotfilesHardLinksListings(t *testing.T) {
	runs := runsFixture(t)
	run := filepath.Join(runs, "strong-kv-none", "20261123T100000.000Z")
	require.NoError(t, os.WriteFile(filepath.Join(run, ".env"), []byte(secret), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(runs, ".git"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(runs, ".git", "config"), []byte(secret), 0o644))
	require.NoError(t, os.Link(filepath.Join(filepath.Dir(runs), "secret.txt"), filepath.Join(run, "linked.txt")))
	ts := startServer(t, runs)
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/runs/strong-kv-none/20261123T100000.000Z/.env", http.StatusNotFound},
		{"/runs/.git/config", http.StatusNotFound},
		{"/runs/strong-kv-none/20261123T100000.000Z/%2eenv", http.StatusNotFound},
		{"/runs/strong-kv-none/20261123T100000.000Z/linked.txt", http.StatusForbidden},
		{"/runs/", http.StatusForbidden},
		{"/runs/strong-kv-none/20261123T100000.000Z/", http.StatusForbidden},
		{"/runs/strong-kv-none/20261123T100000.000Z/nodes/", http.StatusForbidden},
		{"/runs/strong-kv-none/20261123T100000.000Z", http.StatusForbidden}, // a directory without the slash
		{"/runs/latest", http.StatusForbidden},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, _, body := rawGet(t, addr, tc.path)
			assert.Equal(t, tc.want, code, "%s", body)
			assert.NotContains(t, body, secret)
			assert.NotContains(t, body, "history.jsonl", "no listing")
		})
	}
	// The index links the files a person wants instead of a listing.
	_, hdr, body := get(t, ts.URL+"/")
	assert.Contains(t, body, `href="/runs/strong-kv-none/20261123T100000.000Z/nodes/n1.log"`)
	assert.Contains(t, body, `href="/runs/strong-kv-none/20261123T100000.000Z/history.jsonl"`)
	for _, h := range []http.Header{hdr, mustGetHeader(t, ts.URL+"/runs/latest/report.html")} {
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
		assert.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	}
}

func mustGetHeader(t *testing.T, url string) http.Header {
	code, hdr, _ := get(t, url)
	require.Equal(t, http.StatusOK, code)
	return hdr
}

// DNS rebinding: a page on an attacker's domain that resolves to
// 127.0.0.1 sends its own name as Host; only loopback names and
// addresses, and hosts given to AllowHost, are answered.
func TestServeChecksHost(t *testing.T) {
	runs := runsFixture(t)
	srv, err := NewServer(runs, nil)
	require.NoError(t, err)
	defer srv.Close()
	srv.AllowHost("runs.example.internal:8080")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"127.1.2.3:" + port, http.StatusOK},
		{"runs.example.internal:8080", http.StatusOK},
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io:" + port, http.StatusMisdirectedRequest},
		{"10.0.0.1:" + port, http.StatusMisdirectedRequest},
	} {
		t.Run(tc.host, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, ts.URL+"/runs/latest/report.html", nil)
			require.NoError(t, err)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want != http.StatusOK {
				assert.NotContains(t, string(body), "badge", "no report for a foreign Host")
			}
		})
	}
	// Bound to every interface: IP literals name it, other names do not.
	srv.AllowHost("0.0.0.0:8080")
	assert.True(t, srv.hostAllowed("10.0.0.1:8080"))
	assert.False(t, srv.hostAllowed("attacker.example:8080"))
}
