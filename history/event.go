package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Type is the kind of an event: an invocation or one of three completions.
type Type string

const (
	// Invoke starts an operation. Its value is the operation's input
	// (write: v, cas: [expected, new], read: null).
	Invoke Type = "invoke"
	// OK means the operation took effect; for a read, value is what it read.
	OK Type = "ok"
	// Fail means the operation definitely did not take effect. A cas that
	// failed with error "mismatch" is also an observation that the key did
	// not hold the expected value.
	Fail Type = "fail"
	// Info means the outcome is unknown: it may have taken effect, at any
	// time after its invocation, or never.
	Info Type = "info"
)

// Valid reports whether t is one of the four types of the contract.
func (t Type) Valid() bool {
	switch t {
	case Invoke, OK, Fail, Info:
		return true
	}
	return false
}

// Functions of the bundled workloads. Other tools may record other names;
// a checker that meets a function it does not model, on an op that may
// have taken effect, leaves that key (or set) unknown rather than guess.
const (
	FRead  = "read"
	FWrite = "write"
	FCAS   = "cas"
	FAdd   = "add"
)

// NemesisProcess is the process of every nemesis event. Client processes
// are >= 0, so a nemesis event cannot be taken for a client operation.
const NemesisProcess = -1

// ErrorMismatch is the error of a cas that failed because the key did not
// hold the expected value.
const ErrorMismatch = "mismatch"

// Event is one line of history.jsonl.
type Event struct {
	// Index is the event's 0-based position in the history.
	Index int64 `json:"index"`
	// Time is nanoseconds since the run started, from a monotonic clock.
	Time int64 `json:"time"`
	// Process is the client process (>= 0) or NemesisProcess.
	Process int `json:"process"`
	// Type is invoke, ok, fail or info.
	Type Type `json:"type"`
	// F is the function: read, write, cas, add, ... or, for the nemesis,
	// start-<fault> and stop-<fault>.
	F string `json:"f"`
	// Key is the key the operation acts on ("" for nemesis events).
	Key string `json:"key"`
	// Value is the operation's value, as JSON (see the README).
	Value json.RawMessage `json:"value"`
	// Node is the node the operation was sent to, where known.
	Node string `json:"node,omitempty"`
	// Error says why an operation failed or has an unknown outcome.
	Error string `json:"error,omitempty"`
	// Final marks the final reads made after the cluster healed.
	Final bool `json:"final,omitempty"`
}

// IsNemesis reports whether e was recorded by the nemesis.
func (e Event) IsNemesis() bool { return e.Process == NemesisProcess }

// Null is the JSON null value.
var Null = json.RawMessage("null")

// IntValue encodes an integer as a Value.
func IntValue(v int64) json.RawMessage {
	return json.RawMessage(strconv.AppendInt(nil, v, 10))
}

// CASValue encodes a cas input [expected, new] as a Value.
func CASValue(expected, new int64) json.RawMessage {
	b := []byte{'['}
	b = strconv.AppendInt(b, expected, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, new, 10)
	b = append(b, ']')
	return json.RawMessage(b)
}

// MustValue encodes any value as JSON, panicking on values that cannot be
// encoded (a programming error, never input).
func MustValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("history: cannot encode value %#v: %v", v, err))
	}
	return b
}

// IsNull reports whether v is absent or JSON null.
func IsNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || bytes.Equal(v, Null)
}

// Canonical returns v in a canonical form, so that equal values compare
// equal as strings ("null" for an absent value): no white space, object
// keys in their order, numbers as written, and every string written one
// way: "\u0026" and "&" are the same string, and so are "\u0041" and
// "A" (only '"', '\\' and control characters are escaped, with the short
// escapes where JSON has one). Values that are not valid JSON are returned
// as they are; Read rejects them before they get here.
func Canonical(v json.RawMessage) string {
	if IsNull(v) {
		return "null"
	}
	if plainASCII(v) {
		// No escape and no multi-byte character: compacting is enough.
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return string(v)
		}
		return buf.String()
	}
	c, err := canonicalTokens(v)
	if err != nil {
		return string(v)
	}
	return c
}

func plainASCII(v []byte) bool {
	for _, c := range v {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// canonicalTokens rewrites v token by token (see Canonical).
func canonicalTokens(v []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int // keys and values so far
	}
	var stack []frame
	var b []byte
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			b = append(b, byte(d))
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			switch {
			case f.object && f.n%2 == 1:
				b = append(b, ':')
			case f.n > 0:
				b = append(b, ',')
			}
			f.n++
		}
		switch t := tok.(type) {
		case json.Delim:
			b = append(b, byte(t))
			stack = append(stack, frame{object: t == '{'})
		case string:
			b = appendCanonicalString(b, t)
		case json.Number:
			b = append(b, t...)
		case bool:
			b = strconv.AppendBool(b, t)
		case nil:
			b = append(b, "null"...)
		}
	}
	return string(b), nil
}

// appendCanonicalString writes s as a JSON string, escaping only what
// JSON requires.
func appendCanonicalString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			if c < 0x20 {
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// SplitCAS decodes a cas input [expected, new] into its two parts.
func SplitCAS(v json.RawMessage) (expected, new json.RawMessage, err error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(v, &pair); err != nil || len(pair) != 2 {
		return nil, nil, fmt.Errorf("cas value %s is not a pair [expected, new]", string(v))
	}
	return pair[0], pair[1], nil
}
