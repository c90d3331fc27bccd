package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
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
	return read(f, path, countLines(f))
}

// countLines counts the lines of a regular file without moving its
// offset (0 for anything else, or on an error): one pass of bytes.Count
// costs a few percent of decoding them, and an event slice made to size
// holds no spare room and is never grown and copied, which on a long
// history would briefly hold it twice.
func countLines(f *os.File) int {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0
	}
	buf := make([]byte, 256<<10)
	n := 0
	for off := int64(0); ; {
		k, err := f.ReadAt(buf, off)
		n += bytes.Count(buf[:k], []byte{'\n'})
		off += int64(k)
		if err != nil {
			break
		}
	}
	return n + 1 // a last line without a newline
}

// Read reads and validates a history in JSON Lines. A malformed line is an
// error (a *LineError naming the line and what is wrong), except the last
// line when it is not terminated by a newline and is not valid JSON: that
// is a write torn by a kill, and it is skipped with a warning. Blank lines
// are ignored.
//
// Validation: every line is a JSON object with a known type, a non-empty
// f, an index and a time >= 0 and a process >= -1, strict as checkStrict
// says (no duplicate names, no name that is a field's only without regard
// to case, valid UTF-8 without lone surrogates, values included, and no
// byte-order mark); indices increase and times never decrease; a
// completion (ok, fail, info) of a client process follows an invoke of
// that process that is still open, with the invoke's f, key and final
// flag, and an ok write or cas with the invoke's value; a process never
// has two invokes open at once.
func Read(r io.Reader) (ReadResult, error) { return read(r, "", 0) }

// read reads lines from r, one at a time (a history is never held whole in
// memory: only the events and their values are kept). lines, when known,
// is how many lines r holds, to size the event slice.
func read(r io.Reader, file string, lines int) (ReadResult, error) {
	var res ReadResult
	br := bufio.NewReaderSize(r, 1<<16)
	if lines > 0 {
		res.Events = make([]Event, 0, min(lines, 1<<26))
	}
	p := newLineParser()
	v := newValidator()
	var long []byte // a line longer than br's buffer, gathered piece by piece
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return res, fmt.Errorf("read history: %w", err)
		}
		atEOF := errors.Is(err, io.EOF)
		torn := atEOF && len(line) > 0 // last line with no newline
		trimmed := bytes.TrimSpace(line)
		if bytes.HasPrefix(trimmed, byteOrderMark) {
			// Checked before the torn-line rule: a mark is not a write
			// cut short, and a one-line history would otherwise be
			// skipped whole with a warning.
			return res, &LineError{File: file, Line: lineNo, Err: errByteOrderMark}
		}
		if len(trimmed) > 0 {
			ev, perr := p.parse(trimmed)
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

// byteOrderMark is U+FEFF in UTF-8, which some Windows editors write at
// the start of a file. JSON Lines forbids it (as RFC 8259 forbids adding
// one to JSON), and readers disagree on it (Python's json refuses it, jq
// skips it), so a history that holds one is refused with what to do, rather
// than read here and refused elsewhere.
var byteOrderMark = []byte("\ufeff")

var errByteOrderMark = errors.New("starts with a UTF-8 byte-order mark: save the file without it (JSON Lines is UTF-8 without a byte-order mark)")

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

// parseLineStd decodes one line with encoding/json. It is the reference
// for what a line means and the source of every error message; lineParser
// takes a faster path for the lines it can decode exactly as this does.
func parseLineStd(b []byte) (Event, error) {
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
	if err := checkStrict(b); err != nil {
		return Event{}, err
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
	return ev, checkFields(ev)
}

// fieldNames are the names of the contract's fields, as written.
var fieldNames = [...]string{"index", "time", "process", "type", "f", "key", "value", "node", "error", "final"}

// checkStrict rejects what encoding/json accepts in a line but the
// contract does not, because it would let one line mean two things: a
// name given twice (encoding/json keeps the last, another reader the
// first), a name that is a field's only without regard to case ("Value":
// encoding/json takes it for "value"), and strings that are not valid
// UTF-8 or hold a lone surrogate escape (encoding/json turns both into
// U+FFFD, so "k\ud800" and "k\udc00" would be one key). The same holds
// inside a value, whose objects and strings are compared as JSON: two
// different values must never compare equal. b is a line encoding/json
// has decoded, so it is well-formed JSON: jsontext, whose defaults are
// this strictness, can only object to these.
func checkStrict(b []byte) error {
	sd := strictDecoders.Get().(*strictDecoder)
	defer strictDecoders.Put(sd)
	sd.r.Reset(b)
	dec := sd.dec
	dec.Reset(&sd.r)
	_, err := dec.ReadToken()
	for err == nil && dec.PeekKind() == '"' {
		var quoted jsontext.Value
		if quoted, err = dec.ReadValue(); err != nil {
			break
		}
		sd.name, _ = jsontext.AppendUnquote(sd.name[:0], quoted)
		if !slices.Contains(fieldNames[:], string(sd.name)) {
			name := string(sd.name) // an unknown field: rare, allocating is fine
			for _, f := range fieldNames {
				if strings.EqualFold(name, f) {
					return fmt.Errorf("field %q is not %q: names are case-sensitive, and a reader that folds case would take it for %q", name, f, f)
				}
			}
		}
		_, err = dec.ReadValue()
	}
	if err == nil {
		_, err = dec.ReadToken()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jsontext.ErrDuplicateName):
		return fmt.Errorf("%v: a line names each field once and a value's objects each member once, else readers disagree on which counts", err)
	default:
		return fmt.Errorf("%v: strings must be valid UTF-8 without lone surrogate escapes, else different strings read as one", err)
	}
}

// strictDecoders keep checkStrict from allocating a decoder a line.
var strictDecoders = sync.Pool{New: func() any {
	sd := &strictDecoder{}
	sd.dec = jsontext.NewDecoder(&sd.r)
	return sd
}}

type strictDecoder struct {
	r    bytes.Reader
	dec  *jsontext.Decoder
	name []byte
}

// checkFields checks what a single event must satisfy on its own.
func checkFields(ev Event) error {
	if !ev.Type.Valid() {
		return fmt.Errorf("type %q is not one of invoke, ok, fail, info", ev.Type)
	}
	if ev.F == "" {
		return errors.New(`field "f" is empty: it must name the function (read, write, cas, add, ...)`)
	}
	if ev.Process < NemesisProcess {
		return fmt.Errorf("process %d is invalid: clients are >= 0, the nemesis is -1", ev.Process)
	}
	if ev.Index < 0 {
		return fmt.Errorf("index %d is negative: it is the event's 0-based position in the history", ev.Index)
	}
	if ev.Time < 0 {
		return fmt.Errorf("time %d is negative: it is nanoseconds since the run started", ev.Time)
	}
	return nil
}

type validator struct {
	first     bool
	lastIndex int64
	lastTime  int64
	// open holds each client process's open invoke: by process id in a
	// slice for the small ids every history uses, in a map past them.
	open     []openInvoke
	openHigh map[int]openInvoke
}

// openInvoke is what a completion is checked against.
type openInvoke struct {
	index int64
	f     string
	key   string
	value json.RawMessage
	final bool
	set   bool
}

// maxDenseProcess bounds the slice of open invokes: process ids are
// counted from 0, and one past this goes to a map, so a single huge id
// costs no more than itself.
const maxDenseProcess = 1 << 16

func newValidator() *validator { return &validator{first: true} }

func (v *validator) lookup(p int) openInvoke {
	if p < len(v.open) {
		return v.open[p]
	}
	return v.openHigh[p]
}

func (v *validator) store(p int, o openInvoke) {
	if p < maxDenseProcess {
		for p >= len(v.open) {
			v.open = append(v.open, openInvoke{})
		}
		v.open[p] = o
		return
	}
	if v.openHigh == nil {
		v.openHigh = map[int]openInvoke{}
	}
	if o.set {
		v.openHigh[p] = o
	} else {
		delete(v.openHigh, p)
	}
}

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
		inv := v.lookup(ev.Process)
		switch ev.Type {
		case Invoke:
			if inv.set {
				return fmt.Errorf("process %d invokes %s while its invoke at index %d is still open: a process has at most one operation outstanding", ev.Process, ev.F, inv.index)
			}
			v.store(ev.Process, openInvoke{index: ev.Index, f: ev.F, key: ev.Key, value: ev.Value, final: ev.Final, set: true})
		default:
			if !inv.set {
				return fmt.Errorf("%s of process %d completes no open invoke: a completion must follow an invoke of the same process", ev.Type, ev.Process)
			}
			if inv.f != ev.F {
				return fmt.Errorf("%s of %s by process %d completes an invoke of %s (index %d): f must match", ev.Type, ev.F, ev.Process, inv.f, inv.index)
			}
			if inv.key != ev.Key {
				return fmt.Errorf("%s of %s by process %d is on key %q, its invoke (index %d) on key %q: key must match, else the operation acts on one key and is checked on another", ev.Type, ev.F, ev.Process, ev.Key, inv.index, inv.key)
			}
			if inv.final != ev.Final {
				return fmt.Errorf("%s of %s by process %d has final %t, its invoke (index %d) final %t: final must match, else a checker that looks at one of the two events takes the op for a final read and one that looks at the other does not", ev.Type, ev.F, ev.Process, ev.Final, inv.index, inv.final)
			}
			if ev.Type == OK && (ev.F == FWrite || ev.F == FCAS) && !sameValue(inv.value, ev.Value) {
				return fmt.Errorf("ok of %s by process %d has value %s, its invoke (index %d) %s: the invoke's value is what a %s does, so its ok must repeat it (a reader that takes the completion's, as Knossos does, would check another operation)", ev.F, ev.Process, Canonical(ev.Value), inv.index, Canonical(inv.value), ev.F)
			}
			v.store(ev.Process, openInvoke{})
		}
	}
	v.first = false
	v.lastIndex, v.lastTime = ev.Index, ev.Time
	return nil
}

// sameValue reports whether a and b are the same JSON value (see
// Canonical), comparing bytes first: a recorder writes them alike.
func sameValue(a, b json.RawMessage) bool {
	return bytes.Equal(a, b) || Canonical(a) == Canonical(b)
}

// Validator checks events one at a time, in order, as Read checks the
// lines of a history, for readers of other formats. Its errors do not name
// a line: the caller knows where the event came from.
type Validator struct{ v *validator }

// NewValidator returns a Validator for a new history.
func NewValidator() *Validator { return &Validator{v: newValidator()} }

// Check checks the next event of the history.
func (v *Validator) Check(ev Event) error {
	if err := checkFields(ev); err != nil {
		return err
	}
	return v.v.check(ev)
}
