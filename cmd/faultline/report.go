package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/results"
)

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report <run-dir | history.jsonl>",
		Short: "Write report.html and linearizability.html for a run (or a bare history)",
		Long: `report regenerates a run's pages from what the run directory holds:
history.jsonl, test.json, results.json and nodes/*.log. Given the path of a
history file instead of a directory, it writes the pages beside the file
(reading test.json and results.json there when they exist), so a history
recorded elsewhere gets a report too. A history that was never checked gets
a page that says so: report shows verdicts, it does not make them.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("report takes one argument, a run directory (e.g. runs/latest) or a history.jsonl file (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target := args[0]
			info, err := os.Stat(target)
			if err != nil {
				return fmt.Errorf("report: %w (give a run directory, e.g. runs/latest, or a history.jsonl)", err)
			}
			dir := target
			if info.IsDir() {
				err = results.WriteReports(cmd.Context(), target)
			} else {
				dir = filepath.Dir(target)
				err = results.WriteReportsForHistory(cmd.Context(), target)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, results.ReportFile))
			fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, results.LinearizationFile))
			return nil
		},
	}
}
