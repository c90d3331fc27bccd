package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/history/edn"
)

// newExportCmd is `faultline export`: write a history for other tools.
func newExportCmd() *cobra.Command {
	var format, out, from string
	cmd := &cobra.Command{
		Use:   "export --format edn|jsonl [-o FILE] <run-dir | history.jsonl | history.edn>",
		Short: "Write a history in another format (edn: for Jepsen's tools)",
		Long: `export reads a history (a run directory's history.jsonl, any history.jsonl,
or a Jepsen history.edn) and writes it to stdout, or to -o FILE:

  --format edn    a Jepsen history, one operation map a line, for Knossos and
                  jepsen.independent (more than one key: values are [key value])
  --format jsonl  faultline's history contract

Exit code 3 when the input cannot be read or the output written.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("export takes one argument, a run directory or a history file (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, args[0], from, format, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "the format to write: edn or jsonl (required)")
	f.StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	f.StringVar(&from, "from", "", "the input's format, jsonl or edn (default: told from the content)")
	return cmd
}

func runExport(cmd *cobra.Command, arg, from, format, out string) error {
	if format != formatEDN && format != formatJSONL {
		return checkInputError(fmt.Errorf("--format %q: give %s (for Jepsen's tools) or %s", format, formatEDN, formatJSONL))
	}
	path, _, err := historyPath(arg)
	if err != nil {
		return checkInputError(err)
	}
	rr, err := readHistory(path, from)
	if err != nil {
		return checkInputError(fmt.Errorf("read %s: %w", path, err))
	}
	for _, w := range rr.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "faultline: warning:", w)
	}
	write := func(w io.Writer) error {
		if format == formatEDN {
			return edn.Write(w, rr.Events)
		}
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		for _, e := range rr.Events {
			if e.Value == nil {
				e.Value = history.Null // the contract's value field is always there
			}
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	if out == "" {
		if err := write(cmd.OutOrStdout()); err != nil {
			return checkInputError(fmt.Errorf("write: %w", err))
		}
		return nil
	}
	// -o names a file: renaming onto a directory fails, and the temporary
	// file would land in the directory's parent (filepath.Dir).
	if info, err := os.Stat(out); err == nil && info.IsDir() {
		return checkInputError(fmt.Errorf("-o %s is a directory; give a file path like %s", out, filepath.Join(out, "history."+format)))
	}
	// Write beside the target and rename, so that a failed export leaves
	// no half-written file under the name asked for.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*")
	if err != nil {
		return checkInputError(fmt.Errorf("write %s: %w", out, err))
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return checkInputError(fmt.Errorf("write %s: %w", out, err))
	}
	if err := tmp.Close(); err != nil {
		return checkInputError(fmt.Errorf("write %s: %w", out, err))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return checkInputError(fmt.Errorf("write %s: %w", out, err))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return checkInputError(fmt.Errorf("write %s: %w", out, err))
	}
	return nil
}
