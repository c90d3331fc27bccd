package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// LineError says which line of a history is malformed and why.
type LineError struct {
	File string // "" when reading from a stream
	Line int    // 1-based
	Err  error
}

func (e *LineError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.File != "" {
		where = e.File + ":" + fmt.Sprint(e.Line)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ReadResult is a history read from a file or stream.
type ReadResult struct {
	Events []Event
	// Warnings are problems that lost nothing but the torn last line of a
	// history whose writer was killed mid-line.
	Warnings []string
}

// ReadFile reads and validates the history at path. See Read.
func ReadFile(path string) (ReadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ReadResult{}, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	res, err := read(f, path)
	return res, err
}

// Read reads and validates a history in JSON Lines. A malformed line is an
// error (a *LineError naming the line and what is wrong), except the last
// line when it is not terminated by a newline and is not valid JSON: that
// is a write torn by a kill, and it is skipped with a warning. Blank lines
// are ignored.
//
// Validation: every line is a JSON object with a known type, a non-empty f,
// and a process >= -1; indices and times never decrease; a completion (ok,
// fail, info) of a client process follows an invoke of that process that is
// still open; a process never has two invokes open at once.
func Read(r io.Reader) (ReadResult, error) { return read(r, "") }

func read(r io.Reader, file string) (ReadResult, error) {
	var res ReadResult
	br := bufio.NewReaderSize(r, 1<<16)
	v := newValidator()
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return res, fmt.Errorf("read history: %w", err)
		}
		atEOF := errors.Is(err, io.EOF)
		torn := atEOF && len(line) > 0 // last line with no newline
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 {
			ev, perr := parseLine(trimmed)
			if perr == nil {
				perr = v.check(ev)
			}
			if perr != nil {
				// A line cut short by a kill is never valid JSON (it lost
				// at least its closing brace); a complete object that is
				// wrong is an error even on the last line.
				if torn && !json.Valid(trimmed) {
					res.Warnings = append(res.Warnings, (&LineError{File: file, Line: lineNo,
						Err: fmt.Errorf("skipped a torn last line (the writer was probably killed mid-write): %w", perr)}).Error())
					break
				}
				return res, &LineError{File: file, Line: lineNo, Err: perr}
			}
			res.Events = append(res.Events, ev)
		}
		if atEOF {
			break
		}
	}
	return res, nil
}

// wireEvent is Event with the required fields as pointers, so one decode
// both fills the event and tells which required fields were missing.
type wireEvent struct {
	Index   *int64          `json:"index"`
	Time    *int64          `json:"time"`
	Process *int            `json:"process"`
	Type    *Type           `json:"type"`
	F       *string         `json:"f"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Node    string          `json:"node"`
	Error   string          `json:"error"`
	Final   bool            `json:"final"`
}

func parseLine(b []byte) (Event, error) {
	if b[0] != '{' {
		return Event{}, errors.New("not a JSON object")
	}
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return Event{}, fmt.Errorf("not a JSON object: %v", err)
		}
		return Event{}, fmt.Errorf("bad field: %v", err)
	}
	missing := func(name string) error {
		return fmt.Errorf("missing field %q (every event needs index, time, process, type and f)", name)
	}
	switch {
	case w.Index == nil:
		return Event{}, missing("index")
	case w.Time == nil:
		return Event{}, missing("time")
	case w.Process == nil:
		return Event{}, missing("process")
	case w.Type == nil:
		return Event{}, missing("type")
	case w.F == nil:
		return Event{}, missing("f")
	}
	ev := Event{Index: *w.Index, Time: *w.Time, Process: *w.Process, Type: *w.Type, F: *w.F,
		Key: w.Key, Value: w.Value, Node: w.Node, Error: w.Error, Final: w.Final}
	if !ev.Type.Valid() {
		return Event{}, fmt.Errorf("type %q is not one of invoke, ok, fail, info", ev.Type)
	}
	if ev.F == "" {
		return Event{}, errors.New(`field "f" is empty: it must name the function (read, write, cas, add, ...)`)
	}
	if ev.Process < NemesisProcess {
		return Event{}, fmt.Errorf("process %d is invalid: clients are >= 0, the nemesis is -1", ev.Process)
	}
	if ev.Time < 0 {
		return Event{}, fmt.Errorf("time %d is negative: it is nanoseconds since the run started", ev.Time)
	}
	return ev, nil
}

type validator struct {
	first     bool
	lastIndex int64
	lastTime  int64
	open      map[int]Event // process -> open invoke
}

func newValidator() *validator { return &validator{first: true, open: map[int]Event{}} }

func (v *validator) check(ev Event) error {
	if !v.first {
		if ev.Index <= v.lastIndex {
			return fmt.Errorf("index %d does not follow index %d: indices must increase", ev.Index, v.lastIndex)
		}
		if ev.Time < v.lastTime {
			return fmt.Errorf("time %d is before the previous event's time %d: events must be in the order they happened", ev.Time, v.lastTime)
		}
	}
	if ev.Process != NemesisProcess {
		inv, isOpen := v.open[ev.Process]
		switch ev.Type {
		case Invoke:
			if isOpen {
				return fmt.Errorf("process %d invokes %s while its invoke at index %d is still open: a process has at most one operation outstanding", ev.Process, ev.F, inv.Index)
			}
			v.open[ev.Process] = ev
		default:
			if !isOpen {
				return fmt.Errorf("%s of process %d completes no open invoke: a completion must follow an invoke of the same process", ev.Type, ev.Process)
			}
			if inv.F != ev.F {
				return fmt.Errorf("%s of %s by process %d completes an invoke of %s (index %d): f must match", ev.Type, ev.F, ev.Process, inv.F, inv.Index)
			}
			delete(v.open, ev.Process)
		}
	}
	v.first = false
	v.lastIndex, v.lastTime = ev.Index, ev.Time
	return nil
}
