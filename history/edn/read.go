package edn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/faultline/faultline/history"
)

// SingleKey is the key of every operation of a history that is not split
// into independent keys.
const SingleKey = "register"

// IndependentMarker is the first line of a history Write splits into
// jepsen.independent tuples: a comment to Jepsen's tools, and to Read the
// word that every client value is a [key value] pair, reads or not (a
// history without reads gives no other evidence of it).
const IndependentMarker = "; faultline: jepsen.independent tuples, every client :value is [key value]"

// NilReadError is the error of a read that returned nil, which the reader
// turns into an info completion (see Read).
const NilReadError = "nil read: Knossos takes a read of nil as telling nothing"

// ReadFile reads the Jepsen history at path. See Read.
func ReadFile(path string) (history.ReadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return history.ReadResult{}, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	return read(f, path)
}

// Read reads a Jepsen history of register operations: operation maps one
// after another (as Jepsen writes history.edn), or one vector or list of
// them (as Knossos's test data is written). It returns the history in
// faultline's contract, validated as history.Read validates, with
// Knossos's meaning of each operation:
//
//   - :type :invoke, :ok, :fail, :info and :f are kept; :process is an
//     integer >= 0, or :nemesis, whose operations become nemesis events
//     (process -1; :f :start and :stop become start-nemesis and
//     stop-nemesis, other names are kept, so :start-partition and
//     :stop-partition mark a fault's interval).
//   - A read that returned nil is an info completion with error
//     NilReadError: Knossos's register accepts a read of nil in any state.
//   - A failed operation keeps its :error as EDN text (":mismatch", never
//     "mismatch"): Knossos drops failed operations, and so does faultline
//     for a failed cas that is not a mismatch.
//   - A cas from nil that did not fail is refused with an error: Knossos's
//     cas-register lets it succeed on a register never written, while
//     faultline's register never matches an absent key.
//   - When every client operation's value is a pair [k v], reads included
//     (jepsen.independent tuples: a read invokes [k nil]), or the first
//     line is IndependentMarker (as Write writes it), k is the key and v
//     the value; otherwise every operation acts on the key SingleKey. Two
//     keys that read as one key (1 and "1") are an error.
//   - A write or cas that completed :ok takes the ok's :value, as
//     Knossos's history/complete gives the invoke the completion's value
//     (of a [k v] tuple, v: an ok on another key is an error).
//   - :index is the position in the history; :time is kept when every
//     operation has one and they increase, else the position stands for
//     it (Knossos orders operations by position alone).
//
// Errors name the line and column of what is wrong (a *history.LineError
// for an operation that breaks the contract, a *SyntaxError inside one for
// bad EDN). As in history.Read, a last operation map cut short by the end
// of the input (after at least one whole one) is a torn write: it is
// skipped with a warning, if nothing but white space follows its line (a
// map left open with more lines after it swallowed them: an error).
func Read(r io.Reader) (history.ReadResult, error) { return read(r, "") }

// jop is one Jepsen operation as read.
type jop struct {
	line, col int
	typ       history.Type
	f         string
	nemesis   bool
	process   int
	value     form
	errText   string
	time      int64
	hasTime   bool
	// node and final are what faultline's export writes (:node "n1",
	// :final true), read back so that a round trip keeps final reads.
	node  string
	final bool
}

func read(r io.Reader, file string) (history.ReadResult, error) {
	var res history.ReadResult
	lineErr := func(line, col int, err error) error {
		return &history.LineError{File: file, Line: line, Err: fmt.Errorf("column %d: %w", col, err)}
	}
	syntax := func(err error) error {
		var se *SyntaxError
		if errors.As(err, &se) {
			return &history.LineError{File: file, Line: se.Line, Err: err}
		}
		return err
	}
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(len(IndependentMarker))
	marked := string(head) == IndependentMarker
	p := newParser(br)
	var ops []jop
	first := true
	wrapped := false
	for {
		var opens rune
		var opensLine, opensCol int
		if !wrapped {
			opens, _ = p.skipSpace()
			opensLine, opensCol = p.line, p.col+1
		}
		f, err := p.readForm()
		if err == io.EOF {
			break
		}
		var se *SyntaxError
		if errors.As(err, &se) && se.EOF && (opens == '{' || opens == '#') && !first && p.lastContent > opensLine {
			// Left open with more lines after it: a kill tears only the
			// last line, so this is a malformed operation, and skipping it
			// would drop every operation after it.
			return res, &history.LineError{File: file, Line: opensLine, Err: fmt.Errorf(
				"column %d: the operation that opens here is not closed before the end of the input, and lines %d to %d follow it: only a last operation cut short by a killed writer is skipped (line %d, %w)",
				opensCol, opensLine+1, p.lastContent, se.Line, err)}
		}
		if errors.As(err, &se) && se.EOF && (opens == '{' || opens == '#') && !first {
			// An operation map cut short by the end of the input, on the
			// last line: the writer was killed mid-write, as history.Read
			// allows.
			res.Warnings = append(res.Warnings, (&history.LineError{File: file, Line: se.Line,
				Err: fmt.Errorf("skipped a torn last operation (the writer was probably killed mid-write): %w", err)}).Error())
			break
		}
		if err != nil {
			return res, syntax(err)
		}
		if wrapped {
			return res, lineErr(f.line, f.col, errors.New("expected the end of the input after the vector or list that holds the history"))
		}
		items := []form{f}
		if first && (f.kind == kVector || f.kind == kList) {
			items, wrapped = f.items, true
		}
		first = false
		for _, it := range items {
			op, err := operation(it)
			if err != nil {
				return res, lineErr(it.line, it.col, err)
			}
			ops = append(ops, op)
		}
	}
	independent := isIndependent(ops)
	if marked {
		for _, op := range ops {
			if !op.nemesis && (op.value.kind != kVector || len(op.value.items) != 2) {
				return res, lineErr(op.line, op.col, fmt.Errorf(":value is %s: line 1 says every client value is a [key value] tuple", op.value.describe()))
			}
		}
		independent = true
	}
	takeOKValues(ops, independent)
	useTime := true
	for i, op := range ops {
		if !op.hasTime || i > 0 && op.time <= ops[i-1].time {
			useTime = false
			break
		}
	}
	if !useTime && len(ops) > 0 && ops[0].hasTime {
		res.Warnings = append(res.Warnings, "the operations' :time values do not all increase: their positions stand for their times, as in Knossos")
	}

	v := history.NewValidator()
	// keyOf holds, for each key, the first tuple key that reads as it:
	// keyText writes a string's contents and anything else as EDN text,
	// so 1 and "1" would both be key 1, and two keys Clojure keeps apart
	// would be checked as one.
	type keySource struct {
		id   string
		text string
		line int
	}
	keyOf := map[string]keySource{}
	open := map[int]int{} // process -> its open invoke in ops
	res.Events = make([]history.Event, 0, len(ops))
	for i, op := range ops {
		ev := history.Event{Index: int64(i), Time: int64(i), Type: op.typ, F: op.f, Process: op.process, Error: op.errText, Node: op.node, Final: op.final}
		if useTime {
			ev.Time = op.time
		}
		if op.nemesis {
			ev.Process = history.NemesisProcess
			ev.Value = toJSON(op.value)
		} else {
			val := op.value
			ev.Key = SingleKey
			if independent {
				k := val.items[0]
				ev.Key, val = keyText(k), val.items[1]
				id := string(identity(nil, k))
				if first, ok := keyOf[ev.Key]; !ok {
					keyOf[ev.Key] = keySource{id: id, text: ednText(k), line: op.line}
				} else if first.id != id {
					return res, lineErr(op.line, op.col, fmt.Errorf("key %s reads as key %q, as key %s on line %d does: Clojure keeps them apart, so they cannot be checked as one key", ednText(k), ev.Key, first.text, first.line))
				}
			}
			ev.Value = toJSON(val)
			if err := checkJSONNames(ev.Value); err != nil {
				return res, lineErr(op.line, op.col, err)
			}
			if op.typ == history.Invoke {
				open[op.process] = i
			} else if inv, ok := open[op.process]; ok {
				delete(open, op.process)
				if err := casFromNil(ops[inv], op.typ, independent); err != nil {
					return res, lineErr(ops[inv].line, ops[inv].col, err)
				}
				if op.typ == history.OK && op.f == history.FRead && val.kind == kNil {
					ev.Type, ev.Error = history.Info, NilReadError
				}
			}
		}
		if err := v.Check(ev); err != nil {
			return res, lineErr(op.line, op.col, err)
		}
		res.Events = append(res.Events, ev)
	}
	for _, inv := range open {
		if err := casFromNil(ops[inv], history.Info, independent); err != nil {
			return res, lineErr(ops[inv].line, ops[inv].col, err)
		}
	}
	return res, nil
}

// takeOKValues gives each write and cas invoke that completed :ok the ok's
// value, as Knossos's history/complete does: a Jepsen history's ok says
// what the operation did. For jepsen.independent tuples only the value
// part is taken, so that an ok on another key than its invoke's stays an
// error. Pairing errors are left to the validator.
func takeOKValues(ops []jop, independent bool) {
	open := map[int]int{} // process -> its open invoke in ops
	for i, op := range ops {
		if op.nemesis {
			continue
		}
		if op.typ == history.Invoke {
			open[op.process] = i
			continue
		}
		inv, ok := open[op.process]
		if !ok {
			continue
		}
		delete(open, op.process)
		if op.typ != history.OK || (op.f != history.FWrite && op.f != history.FCAS) || ops[inv].f != op.f {
			continue
		}
		if !independent {
			ops[inv].value = op.value
			continue
		}
		iv := ops[inv].value
		ops[inv].value = form{kind: iv.kind, items: []form{iv.items[0], op.value.items[1]}, line: iv.line, col: iv.col}
	}
}

// checkJSONNames refuses a value whose maps have keys that differ in EDN
// but become one JSON name (a symbol and a string of the same text, 1 and
// "1"): the two values would compare equal. Only values with a map are
// looked at.
func checkJSONNames(v json.RawMessage) error {
	if bytes.IndexByte(v, '{') < 0 {
		return nil
	}
	if !jsontext.Value(v).IsValid() {
		return fmt.Errorf("the value %s has map keys that differ in EDN but are one name in JSON: it would compare equal to another value", v)
	}
	return nil
}

// casFromNil refuses a cas invoke whose expected value is nil unless it
// failed (see Read).
func casFromNil(inv jop, outcome history.Type, independent bool) error {
	if inv.f != history.FCAS || outcome == history.Fail {
		return nil
	}
	val := inv.value
	if independent {
		val = val.items[1]
	}
	if (val.kind == kVector || val.kind == kList) && len(val.items) == 2 && val.items[0].kind == kNil {
		return errors.New("a cas from nil that did not fail: Knossos's cas-register lets it succeed on a register never written, faultline's register never matches an absent key, so their verdicts could differ; this history cannot be checked here")
	}
	return nil
}

// operation reads one operation map.
func operation(f form) (jop, error) {
	op := jop{line: f.line, col: f.col, value: form{kind: kNil}}
	if f.kind != kMap {
		return op, fmt.Errorf("expected an operation map {:type ..., :f ..., :process ..., :value ...}, found a %s", f.describe())
	}
	var has struct{ typ, f, process bool }
	for i := 0; i < len(f.items); i += 2 {
		k, v := f.items[i], f.items[i+1]
		if k.kind != kKeyword {
			continue // not a field of an operation
		}
		switch k.text {
		case "type":
			has.typ = true
			t := history.Type(v.text)
			if v.kind != kKeyword || !t.Valid() || t == "" {
				return op, fmt.Errorf(":type is %s: expected :invoke, :ok, :fail or :info", v.describe())
			}
			op.typ = t
		case "f":
			has.f = true
			if (v.kind != kKeyword && v.kind != kString && v.kind != kSymbol) || v.text == "" {
				return op, fmt.Errorf(":f is %s: expected a keyword such as :read, :write or :cas", v.describe())
			}
			op.f = v.text
		case "process":
			has.process = true
			switch {
			case v.kind == kKeyword && v.text == "nemesis":
				op.nemesis = true
			case v.kind == kInt:
				n, err := strconv.Atoi(v.text)
				if err != nil || n < 0 {
					return op, fmt.Errorf(":process is %s: expected an integer >= 0 or :nemesis", v.describe())
				}
				op.process = n
			default:
				return op, fmt.Errorf(":process is %s: expected an integer >= 0 or :nemesis", v.describe())
			}
		case "value":
			op.value = v
		case "time":
			n, err := strconv.ParseInt(v.text, 10, 64)
			if v.kind != kInt || err != nil || n < 0 {
				return op, fmt.Errorf(":time is %s: expected nanoseconds, an integer >= 0", v.describe())
			}
			op.time, op.hasTime = n, true
		case "error":
			op.errText = ednText(v)
		case "node":
			if v.kind != kNil {
				op.node = ednText(v)
				if v.kind == kString {
					op.node = v.text
				}
			}
		case "final":
			switch {
			case v.kind == kBool && v.text == "true":
				op.final = true
			case v.kind == kBool || v.kind == kNil:
			default:
				return op, fmt.Errorf(":final is %s: expected true or false", v.describe())
			}
		}
	}
	switch {
	case !has.typ:
		return op, errors.New("the operation has no :type (expected :invoke, :ok, :fail or :info)")
	case !has.f:
		return op, errors.New("the operation has no :f (expected :read, :write, :cas, ...)")
	case !has.process:
		return op, errors.New("the operation has no :process (expected an integer >= 0 or :nemesis)")
	}
	if op.nemesis {
		switch op.f {
		case "start", "stop":
			op.f += "-nemesis"
		}
	}
	return op, nil
}

// isIndependent reports whether the client operations' values are
// jepsen.independent tuples [k v]: every one a pair, reads included (a
// plain history's read invokes carry nil; a plain cas's [old new], or a
// write of a pair, is no evidence alone).
func isIndependent(ops []jop) bool {
	evidence := false
	for _, op := range ops {
		if op.nemesis {
			continue
		}
		if op.value.kind != kVector || len(op.value.items) != 2 {
			return false
		}
		if op.f == history.FRead {
			evidence = true
		}
	}
	return evidence
}

// keyText is an independent key as a faultline key: a string's contents,
// anything else as EDN text.
func keyText(k form) string {
	if k.kind == kString {
		return k.text
	}
	return ednText(k)
}

func (f form) describe() string {
	switch f.kind {
	case kNil:
		return "nil"
	case kMap, kVector, kList, kSet:
		return f.kind.name()
	}
	return ednText(f)
}

// toJSON writes a form as a JSON value: nil is null, numbers are kept as
// written, strings are strings, keywords are strings with their colon
// (":a"), symbols and characters are strings, vectors and lists are
// arrays. Sets and maps are unordered in EDN, so that equal ones compare
// equal their elements (sets) or entries (maps) are sorted by their JSON
// text; a map's keys become strings as keyText writes them.
func toJSON(f form) json.RawMessage {
	return json.RawMessage(appendJSON(nil, f))
}

func appendJSON(b []byte, f form) []byte {
	switch f.kind {
	case kNil:
		return append(b, "null"...)
	case kBool, kInt, kFloat:
		return append(b, f.text...)
	case kKeyword:
		return appendJSONString(b, ":"+f.text)
	case kString, kSymbol, kChar:
		return appendJSONString(b, f.text)
	case kVector, kList:
		b = append(b, '[')
		for i, it := range f.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, it)
		}
		return append(b, ']')
	case kSet:
		elems := make([]string, len(f.items))
		for i, it := range f.items {
			elems[i] = string(appendJSON(nil, it))
		}
		sort.Strings(elems)
		return append(append(append(b, '['), strings.Join(elems, ",")...), ']')
	case kMap:
		entries := make([]string, 0, len(f.items)/2)
		for i := 0; i < len(f.items); i += 2 {
			e := appendJSONString(nil, keyText(f.items[i]))
			e = append(e, ':')
			entries = append(entries, string(appendJSON(e, f.items[i+1])))
		}
		sort.Strings(entries)
		return append(append(append(b, '{'), strings.Join(entries, ",")...), '}')
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// ednText writes a form back as EDN text (for keys and errors).
func ednText(f form) string {
	switch f.kind {
	case kNil:
		return "nil"
	case kBool, kInt, kFloat, kSymbol:
		return f.text
	case kKeyword:
		return ":" + f.text
	case kString:
		return ednString(f.text)
	case kChar:
		return `\` + f.text
	}
	open, close := "[", "]"
	switch f.kind {
	case kList:
		open, close = "(", ")"
	case kSet:
		open, close = "#{", "}"
	case kMap:
		open, close = "{", "}"
	}
	parts := make([]string, len(f.items))
	for i, it := range f.items {
		parts[i] = ednText(it)
	}
	return open + strings.Join(parts, " ") + close
}

// ednString quotes s as an EDN string.
func ednString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteRune(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
