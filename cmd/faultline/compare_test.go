package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/results"
)

func TestCompareBadInput(t *testing.T) {
	sn := testbin.Storenode(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"mode", []string{"--modes", "strong,linear"}, `unknown mode "linear": valid modes are strong, causal, eventual`},
		{"no mode", []string{"--modes", ","}, "name at least one"},
		{"workload", []string{"--workloads", "queue"}, "register, kv, set"},
		{"set workload", []string{"--workloads", "set"}, "use register or kv"},
		{"nemesis", []string{"--nemeses", "partition,meteor"}, `cell "meteor"`},
		{"nemesis combo", []string{"--nemeses", "partition+meteor"}, "join several faults with +"},
		{"format", []string{"--format", "csv"}, "valid formats are text and markdown"},
		{"time limit", []string{"--time-limit", "0s"}, "--time-limit must be positive"},
		{"check timeout", []string{"--check-timeout", "-2m"}, "--check-timeout must be >= 0 (0: no bound), like 2m, not -2m0s"},
		{"backend", []string{"--backend", "k8s"}, "docker, local"},
		{"storenode", []string{"--storenode", "/nonexistent/storenode"}, "make build"},
		{"from", []string{"--from", "/nonexistent/runs"}, "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"compare", "--backend", "local", "--storenode", sn, "--out", out}, tc.args...)
			code, _, stderr := runCLI(t, args...)
			assert.Equal(t, 3, code)
			assert.Contains(t, stderr, tc.want)
			entries, _ := os.ReadDir(out)
			assert.Empty(t, entries, "nothing started, nothing written")
		})
	}
}

// compare on real local nodes: two modes, no nemesis, short runs; then
// --from on what it wrote gives the same verdicts.
func TestCompareEndToEnd(t *testing.T) {
	sn := testbin.Storenode(t)
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "compare", "--backend", "local", "--storenode", sn, "--out", out,
		"--modes", "strong,eventual", "--nemeses", "none", "--time-limit", "2s", "--concurrency", "6", "--format", "markdown")
	require.Equal(t, 0, code, "stderr: %s", stderr)

	lines := strings.Split(stdout, "\n")
	assert.Equal(t, "| mode | nemesis | workload | linearizable | causal+ | causal | eventual | ok/s | p50 | p99 |", lines[0])
	assert.Regexp(t, `^\| strong \| none \| kv \| valid \| valid \| valid \| valid \| \d+ \| [0-9.]+(µs|ms|s) \| [0-9.]+(µs|ms|s) \|$`, lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "| eventual | none | kv | "), lines[3])

	dirs, err := filepath.Glob(filepath.Join(out, "compare-*"))
	require.NoError(t, err)
	require.Len(t, dirs, 1)
	dir := dirs[0]
	assert.Contains(t, stdout, filepath.Join(dir, results.CompareHTMLFile))

	var cmp results.Comparison
	b, err := os.ReadFile(filepath.Join(dir, results.CompareJSONFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cmp))
	require.Len(t, cmp.Cells, 2)
	for _, c := range cmp.Cells {
		require.Len(t, c.Verdicts, 4, "every model on every cell")
		assert.Positive(t, c.OK)
		assert.Positive(t, c.OpsPerSec)
		assert.FileExists(t, filepath.Join(dir, c.Report), "the cell links its report.html")
	}
	assert.Equal(t, "strong", cmp.Cells[0].Mode)
	assert.Equal(t, "linearizable", cmp.Cells[0].Promised, "the model strong mode promises")
	for _, v := range cmp.Cells[0].Verdicts {
		assert.Equal(t, checkers.Valid, v.Valid, "strong mode keeps %s", v.Model)
	}

	page, err := os.ReadFile(filepath.Join(dir, results.CompareHTMLFile))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(page), `title="the model this configuration promises"`), "one promised verdict per cell")
	// Every cell links its report: the page and each verdict's anchor in it.
	links := regexp.MustCompile(`href="([^"#]+)(#[^"]*)?"`).FindAllStringSubmatch(string(page), -1)
	reports := map[string]bool{}
	for _, l := range links {
		assert.FileExists(t, filepath.Join(dir, l[1]))
		reports[l[1]] = true
	}
	assert.Len(t, reports, 2, "one report per cell")

	code, stdout, stderr = runCLI(t, "compare", "--from", dir, "--json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var again results.Comparison
	require.NoError(t, json.Unmarshal([]byte(stdout), &again))
	require.Len(t, again.Cells, 2)
	for i := range cmp.Cells {
		assert.Equal(t, cmp.Cells[i].Verdicts, again.Cells[i].Verdicts, "--from gives the verdicts of the runs")
		assert.Equal(t, cmp.Cells[i].Nemesis, again.Cells[i].Nemesis)
		assert.Equal(t, cmp.Cells[i].Promised, again.Cells[i].Promised, "--from reads the promised model from test.json")
	}

	empty := t.TempDir()
	code, _, stderr = runCLI(t, "compare", "--from", empty)
	assert.Equal(t, 3, code)
	assert.Contains(t, stderr, "no run directories")
}
