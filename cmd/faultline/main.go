// Command faultline runs Jepsen-style tests against a replicated store and
// checks the histories they record.
//
// Subcommands: run, check, report, serve, compare, export. Exit codes follow the
// verdict: 0 valid, 1 invalid, 2 unknown, 3 the harness, the cluster or the
// input failed (usage errors exit 3 too, with the usage).
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "faultline",
		Short:         "Jepsen-style fault-injection tests and consistency checkers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each subcommand lives in its own file and is added here.
	root.AddCommand(newRunCmd())
	root.AddCommand(newCheckCmd())
	root.AddCommand(newReportCmd(), newServeCmd())
	root.AddCommand(newCompareCmd())
	root.AddCommand(newExportCmd())
	root.AddCommand(newLazyFSCmd())
	return root
}

func main() {
	defer func() {
		// Go exits 2 on a panic, which is the code for "unknown": a crash
		// must never read as a verdict.
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "faultline: crashed (a bug in faultline, not a verdict): %v\n%s", p, debug.Stack())
			os.Exit(3)
		}
	}()
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	code := 3
	var ee *exitError
	if asExit(err, &ee) {
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
	}
	fmt.Fprintln(os.Stderr, "faultline:", err)
	os.Exit(code)
}
