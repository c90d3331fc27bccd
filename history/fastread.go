package history

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// lineParser decodes history lines. Most lines of a history are written by
// a recorder and look alike: the known fields, plain strings, integer
// numbers. For those it tokenizes the line once with jsontext (a strict,
// allocation-free RFC 8259 tokenizer) and keeps no per-line garbage:
// strings are interned and values are copied into shared blocks. Any line
// it cannot decode exactly as parseLineStd would (an escape in a string,
// a field it does not know, a duplicate, a null, a number that is not a
// plain integer, invalid UTF-8, malformed JSON) goes to parseLineStd, which
// decides it and words every error. FuzzLineParser holds the two to the
// same result.
type lineParser struct {
	in     bytes.Buffer
	dec    *jsontext.Decoder
	names  map[string]string
	values []byte // the current block that values are copied into
}

// Bounds on what the parser keeps for reuse: interned strings (keys,
// nodes, errors repeat; a history of unique error texts should not grow a
// map as large as itself) and the blocks values are copied into.
const (
	maxInterned = 1 << 12
	valueBlock  = 64 << 10
)

func newLineParser() *lineParser {
	p := &lineParser{names: map[string]string{}}
	// jsontext rejects invalid UTF-8 and lone surrogates anywhere in the
	// line, which sends it to parseLineStd to be worded as an error (see
	// checkStrict). Duplicate names are allowed here because checking
	// them in every object costs a fifth of the fast path's time: the
	// parser tracks the line's own fields itself, and checks the names of
	// a value only when it holds an object (see fast).
	p.dec = jsontext.NewDecoder(&p.in, jsontext.AllowDuplicateNames(true))
	return p
}

// fastPath is off only in benchmarks that measure encoding/json alone.
var fastPath = true

// parse decodes one trimmed, non-empty line.
func (p *lineParser) parse(line []byte) (Event, error) {
	if !fastPath {
		return parseLineStd(line)
	}
	if ev, ok := p.fast(line); ok {
		return ev, checkFields(ev)
	}
	return parseLineStd(line)
}

// Field bits, to know which fields a line had and catch repeats.
const (
	hasIndex = 1 << iota
	hasTime
	hasProcess
	hasType
	hasF
	hasKey
	hasValue
	hasNode
	hasError
	hasFinal
	hasRequired = hasIndex | hasTime | hasProcess | hasType | hasF
)

// fast decodes line if it can do so exactly as parseLineStd would; ok is
// false otherwise.
func (p *lineParser) fast(line []byte) (ev Event, ok bool) {
	if line[0] != '{' {
		return Event{}, false
	}
	p.in.Reset()
	p.in.Write(line)
	p.dec.Reset(&p.in, jsontext.AllowDuplicateNames(true))
	tok, err := p.dec.ReadToken()
	if err != nil || tok.Kind() != '{' {
		return Event{}, false
	}
	var seen int
	var value []byte
	for p.dec.PeekKind() == '"' {
		name, err := p.dec.ReadValue()
		if err != nil {
			return Event{}, false
		}
		var bit int
		switch string(name) {
		case `"index"`:
			bit = hasIndex
		case `"time"`:
			bit = hasTime
		case `"process"`:
			bit = hasProcess
		case `"type"`:
			bit = hasType
		case `"f"`:
			bit = hasF
		case `"key"`:
			bit = hasKey
		case `"value"`:
			bit = hasValue
		case `"node"`:
			bit = hasNode
		case `"error"`:
			bit = hasError
		case `"final"`:
			bit = hasFinal
		default:
			// encoding/json matches names without regard to case and
			// skips unknown ones: let it.
			return Event{}, false
		}
		if seen&bit != 0 {
			return Event{}, false // a duplicate: parseLineStd words the error
		}
		seen |= bit
		v, err := p.dec.ReadValue()
		if err != nil {
			return Event{}, false
		}
		switch bit {
		case hasIndex:
			ev.Index, ok = plainInt(v)
		case hasTime:
			ev.Time, ok = plainInt(v)
		case hasProcess:
			var n int64
			n, ok = plainInt(v)
			ev.Process = int(n)
		case hasType:
			var s string
			s, ok = p.plainString(v)
			ev.Type = Type(s)
		case hasF:
			ev.F, ok = p.plainString(v)
		case hasKey:
			ev.Key, ok = p.plainString(v)
		case hasNode:
			ev.Node, ok = p.plainString(v)
		case hasError:
			ev.Error, ok = p.plainString(v)
		case hasFinal:
			switch string(v) {
			case "true":
				ev.Final, ok = true, true
			case "false":
				ok = true
			default:
				ok = false
			}
		case hasValue:
			// v is only valid until the next read: it is copied below,
			// once the line is known to be decodable here. A value
			// holding an object must name each member once: with
			// jsontext's defaults, IsValid checks that (a '{' inside a
			// string only costs the check).
			value = v
			ok = bytes.IndexByte(v, '{') < 0 || v.IsValid()
		}
		if !ok {
			return Event{}, false
		}
	}
	if tok, err := p.dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return Event{}, false
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		return Event{}, false // more after the object: not one object per line
	}
	if seen&hasRequired != hasRequired {
		return Event{}, false // parseLineStd names the missing field
	}
	if seen&hasValue != 0 {
		ev.Value = p.keep(value)
	}
	return ev, true
}

// plainInt parses an integer written as digits with an optional minus
// sign (as encoding/json would into an int64); ok is false for anything
// else, including overflow. jsontext has already checked that v is a valid
// JSON number.
func plainInt(v []byte) (n int64, ok bool) {
	neg := len(v) > 0 && v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	if len(d) == 0 || len(d) > 18 {
		return 0, false // 18 digits cannot overflow; longer ones go the slow way
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// plainString returns the string v (a quoted JSON string, valid UTF-8 as
// jsontext checked) if it has no escape, interned; ok is false otherwise.
func (p *lineParser) plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	b := v[1 : len(v)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		return "", false
	}
	if s, ok := p.names[string(b)]; ok {
		return s, true
	}
	s := string(b)
	if len(p.names) < maxInterned {
		p.names[s] = s
	}
	return s, true
}

// keep copies v into the current value block. Each value's capacity ends
// where it does, so that an append to one never writes over the next.
func (p *lineParser) keep(v []byte) json.RawMessage {
	if string(v) == "null" {
		return Null[:4:4]
	}
	if len(v) > cap(p.values)-len(p.values) {
		if len(v) > valueBlock/4 {
			return append(json.RawMessage(nil), v...)
		}
		p.values = make([]byte, 0, valueBlock)
	}
	start := len(p.values)
	p.values = append(p.values, v...)
	return p.values[start:len(p.values):len(p.values)]
}
