package results

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/history"
)

//go:embed report.tmpl
var reportSource string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{"minInt": func(a, b int) int { return min(a, b) }}).Parse(reportSource))

// WriteReports reads the run directory runDir (history.jsonl, test.json,
// results.json, nodes/*.log) and writes report.html and
// linearizability.html into it. Only the history is required: a missing
// results.json is said on the page (there is no verdict), never invented.
// Each page is written to a temporary file and renamed, so a reader never
// sees half a page. The harness calls it at the end of every run.
func WriteReports(ctx context.Context, runDir string) error {
	run, err := LoadRun(ctx, runDir)
	if err != nil {
		return err
	}
	return writeReports(ctx, run, runDir)
}

// WriteReportsForHistory writes the two pages of the history file at
// historyPath (whatever its name) beside it, reading test.json,
// results.json and nodes/ from its directory when they are there: a
// history recorded elsewhere gets a report too.
func WriteReportsForHistory(ctx context.Context, historyPath string) error {
	dir := filepath.Dir(historyPath)
	run, err := loadRun(ctx, dir, historyPath)
	if err != nil {
		return err
	}
	return writeReports(ctx, run, dir)
}

func writeReports(ctx context.Context, run *Run, dir string) error {
	if len(run.Events) == 0 {
		run.Warnings = append(run.Warnings, "The history is empty: the run recorded no events.")
	}
	var linNote string
	err := writeAtomic(filepath.Join(dir, LinearizationFile), func(w io.Writer) error {
		linNote = writeLinearizability(ctx, run, history.Pair(run.Events), w)
		return nil
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	view, err := buildReport(ctx, run, linNote, time.Now())
	if err != nil {
		return fmt.Errorf("build report for %s: %w", dir, err)
	}
	if err := writeWindows(dir, view.windows); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, ReportFile), func(w io.Writer) error {
		return reportTmpl.Execute(w, view)
	}); err != nil {
		return err
	}
	slog.Debug("wrote reports", "dir", dir, "verdict", view.Verdict.Text)
	return nil
}

// writeAtomic writes path through a temporary file in the same directory,
// renamed over path once complete.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
