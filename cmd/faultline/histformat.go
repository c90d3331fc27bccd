package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/history/edn"
)

// History formats `check` and `export` read and write.
const (
	formatJSONL = "jsonl" // faultline's history.jsonl
	formatEDN   = "edn"   // a Jepsen history.edn
)

// historyPath is the history a run directory or file argument names: a
// run directory's history.jsonl, or else a Jepsen store directory's
// history.edn. isRunDir is true only for a faultline run directory.
func historyPath(arg string) (path string, isRunDir bool, err error) {
	st, err := os.Stat(arg)
	if err != nil {
		return "", false, fmt.Errorf("cannot read %s: %w (give a run directory or a history.jsonl file, or a Jepsen history.edn)", arg, err)
	}
	if !st.IsDir() {
		return arg, false, nil
	}
	jsonl := filepath.Join(arg, "history.jsonl")
	if _, err := os.Stat(jsonl); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(arg, "history.edn")); err == nil {
			return filepath.Join(arg, "history.edn"), false, nil
		}
	}
	return jsonl, true, nil
}

// readHistory reads the history at path in format, or, when format is "",
// in the format its content shows: a first map that opens with a string
// key ({"index": ...) is JSON Lines; one that opens with a keyword
// ({:type ...), a vector or list of maps, a tagged record or an EDN
// comment is EDN.
func readHistory(path, format string) (history.ReadResult, error) {
	if format == "" {
		var err error
		if format, err = detectFormat(path); err != nil {
			return history.ReadResult{}, err
		}
	}
	switch format {
	case formatJSONL:
		return history.ReadFile(path)
	case formatEDN:
		return edn.ReadFile(path)
	}
	return history.ReadResult{}, fmt.Errorf("--format %q: give %s or %s", format, formatJSONL, formatEDN)
}

func detectFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	head, _ := bufio.NewReaderSize(f, 4096).Peek(4096)
	i := skipSpace(head, 0)
	if i == len(head) {
		return formatJSONL, nil
	}
	switch head[i] {
	case '{':
		if j := skipSpace(head, i+1); j < len(head) && head[j] == ':' {
			return formatEDN, nil
		}
	case '[', '(', '#', ';':
		return formatEDN, nil
	}
	return formatJSONL, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == ',') {
		i++
	}
	return i
}
