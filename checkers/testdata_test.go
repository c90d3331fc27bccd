package checkers_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Tests are data: every history in testdata/ is checked and compared with
// the verdicts expected.json records for it.
func TestTestdata(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	require.NoError(t, err)
	var expected map[string]struct {
		Verdicts  map[string]checkers.Validity `json:"verdicts"`
		Anomalies map[string][]string          `json:"anomalies"`
		Info      map[string][]string          `json:"info"`
		Warnings  int                          `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal(raw, &expected))
	files, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, len(expected), "every history has its expected verdicts, and every entry its history")
	for _, path := range files {
		name := filepath.Base(path)
		exp, ok := expected[name]
		require.True(t, ok, "%s is not in expected.json", name)
		t.Run(name, func(t *testing.T) {
			rr, err := history.ReadFile(path)
			require.NoError(t, err)
			assert.Len(t, rr.Warnings, exp.Warnings)
			for model, want := range exp.Verdicts {
				c, err := checkers.New(model, checkers.Options{})
				require.NoError(t, err)
				res := c.Check(context.Background(), rr.Events)
				require.Equal(t, want, res.Valid, "%s: %s %+v", model, res.Reason, res.Anomalies)
				for _, n := range exp.Anomalies[model] {
					assert.Contains(t, names(res.Anomalies), n, model)
				}
				for _, n := range exp.Info[model] {
					assert.Contains(t, names(res.Info), n, model)
				}
			}
		})
	}
}
