package results

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Names of the files in a run directory.
const (
	HistoryFile       = "history.jsonl"
	TestFile          = "test.json"
	ResultsFile       = "results.json"
	ReportFile        = "report.html"
	LinearizationFile = "linearizability.html"
	NodesDir          = "nodes"
)

// Field is one top-level field of test.json, in file order.
type Field struct {
	Name string
	// Value is the field's value: a JSON string's text, or any other JSON
	// value in compact form.
	Value string
	// Raw is the value as it is in the file.
	Raw json.RawMessage
}

// Run is what a run directory holds, as read by LoadRun. Problems that do
// not stop a report from being written (a missing test.json or
// results.json, a torn last history line) are kept in the Err fields and
// Warnings, so the page can say so.
type Run struct {
	Dir string
	// History is the history file's name in Dir (history.jsonl for a run).
	History string
	Events  []history.Event
	// Warnings are what reading the history warned about.
	Warnings []string

	// Test holds test.json's fields in file order; TestErr says why it is
	// missing or unreadable.
	Test    []Field
	TestErr string

	// Summary is results.json; nil when SummaryErr says why it is missing
	// or unreadable.
	Summary    *checkers.Summary
	SummaryErr string

	// NodeLogs are the node logs, relative to Dir (nodes/n1.log, ...).
	NodeLogs []string
}

// TestValue returns the text of test.json's field name, or "".
func (r *Run) TestValue(name string) string {
	for _, f := range r.Test {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// LoadRun reads the run directory dir. Only the history is required: an
// unreadable or malformed history.jsonl is an error naming the file and the
// line; a missing or malformed test.json or results.json is recorded in
// the Run.
func LoadRun(ctx context.Context, dir string) (*Run, error) {
	return loadRun(ctx, dir, filepath.Join(dir, HistoryFile))
}

// loadRun reads the history at hpath and the rest of the run from dir.
func loadRun(ctx context.Context, dir, hpath string) (*Run, error) {
	run := &Run{Dir: dir, History: filepath.Base(hpath)}
	res, err := history.ReadFile(hpath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: a run directory holds the history the harness recorded (or pass the path of a history.jsonl): %w", dir, HistoryFile, err)
		}
		return nil, fmt.Errorf("read the run's history: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	run.Events, run.Warnings = res.Events, res.Warnings

	run.Test, err = readTestFile(filepath.Join(dir, TestFile))
	if err != nil {
		run.TestErr = err.Error()
	}
	run.Summary, err = readSummary(filepath.Join(dir, ResultsFile))
	if err != nil {
		run.SummaryErr = err.Error()
	}
	logs, _ := filepath.Glob(filepath.Join(dir, NodesDir, "*.log"))
	sort.Strings(logs)
	for _, l := range logs {
		run.NodeLogs = append(run.NodeLogs, NodesDir+"/"+filepath.Base(l))
	}
	return run, nil
}

// readTestFile reads test.json's top-level fields in file order. Unknown
// fields are kept: the page shows every field.
func readTestFile(path string) ([]Field, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: the test's options are unknown", TestFile)
		}
		return nil, fmt.Errorf("read %s: %w", TestFile, err)
	}
	fields, err := parseObject(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of the test's options: %w", TestFile, err)
	}
	return fields, nil
}

// parseObject decodes a JSON object into its fields, keeping their order.
func parseObject(b []byte) ([]Field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("it starts with %v, not {", tok)
	}
	var fields []Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		fields = append(fields, Field{Name: name, Value: fieldText(raw), Raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return fields, nil
}

// fieldText is a field's value as a page shows it: a string's text, a
// list of strings joined by commas, any other value as compact JSON.
func fieldText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return strings.Join(list, ", ")
	}
	return history.Canonical(raw)
}

func readSummary(path string) (*checkers.Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: this history has not been checked, so there is no verdict (run `faultline check` on the run directory)", ResultsFile)
		}
		return nil, fmt.Errorf("read %s: %w", ResultsFile, err)
	}
	var s checkers.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s is not a checkers summary ({\"valid\": true|false|\"unknown\", \"results\": [...]}), so there is no verdict: %w", path, err)
	}
	return &s, nil
}
