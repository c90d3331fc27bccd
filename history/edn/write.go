package edn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/faultline/faultline/history"
)

// Write writes events as a Jepsen history, one operation map a line as
// Jepsen writes history.edn:
//
//	{:index 0, :time 1200, :type :invoke, :process 0, :f :write, :value 3, :node "n1"}
//
// The nemesis's events have :process :nemesis. A history of more than one
// key writes each client value as a jepsen.independent tuple [key value]
// (for jepsen.independent's checker, and for Read), after a first line
// IndependentMarker that tells Read so; a history of one key
// writes bare values, as Knossos's cas-register expects. JSON values
// become EDN: null is nil, arrays vectors, objects maps with string keys.
//
// What Jepsen's tools read differently (the README's "Jepsen histories"):
// a cas that failed with "mismatch" is a plain :fail, which Knossos drops
// although faultline reads it as an observation; a read that returned null
// (the key was absent) reads nil, which Knossos accepts in any state.
func Write(w io.Writer, events []history.Event) error {
	keys := map[string]bool{}
	for _, e := range events {
		if !e.IsNemesis() {
			keys[e.Key] = true
		}
	}
	tuples := len(keys) > 1
	bw := bufio.NewWriter(w)
	if tuples {
		// Read could not tell tuples from pair values without reads:
		// say so, in a comment Jepsen's tools skip.
		if _, err := bw.WriteString(IndependentMarker + "\n"); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
	}
	var b []byte
	for _, e := range events {
		b = b[:0]
		b = append(b, "{:index "...)
		b = strconv.AppendInt(b, e.Index, 10)
		b = append(b, ", :time "...)
		b = strconv.AppendInt(b, e.Time, 10)
		b = append(b, ", :type :"...)
		b = append(b, e.Type...)
		b = append(b, ", :process "...)
		if e.IsNemesis() {
			b = append(b, ":nemesis"...)
		} else {
			b = strconv.AppendInt(b, int64(e.Process), 10)
		}
		b = append(b, ", :f "...)
		if keywordName(e.F) {
			b = append(append(b, ':'), e.F...)
		} else {
			b = append(b, ednString(e.F)...)
		}
		b = append(b, ", :value "...)
		val, err := jsonToEDN(e.Value)
		if err != nil {
			return fmt.Errorf("event %d: value %s: %w", e.Index, e.Value, err)
		}
		if tuples && !e.IsNemesis() {
			b = append(b, '[')
			b = append(b, ednString(e.Key)...)
			b = append(b, ' ')
			b = append(b, val...)
			b = append(b, ']')
		} else {
			b = append(b, val...)
		}
		if e.Node != "" {
			b = append(b, ", :node "...)
			b = append(b, ednString(e.Node)...)
		}
		if e.Error != "" {
			b = append(b, ", :error "...)
			b = append(b, ednString(e.Error)...)
		}
		if e.Final {
			b = append(b, ", :final true"...)
		}
		b = append(b, "}\n"...)
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// keywordName reports whether s can be written as a keyword's name and
// read back as the same name.
func keywordName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' || s[0] == ':' || s[0] == '#' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c > 0x7f ||
			c == '-' || c == '_' || c == '*' || c == '+' || c == '!' || c == '?' || c == '<' || c == '>' || c == '=' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// jsonToEDN rewrites a JSON value as EDN, token by token, keeping the
// order of object keys and numbers as written.
func jsonToEDN(v json.RawMessage) ([]byte, error) {
	if history.IsNull(v) {
		return []byte("nil"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var out []byte
	// first[i] is whether the collection at depth i has no element yet.
	var first []bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out = append(out, byte(d))
			first = first[:len(first)-1]
			continue
		}
		if n := len(first); n > 0 {
			if !first[n-1] {
				out = append(out, ' ')
			}
			first[n-1] = false
		}
		switch t := tok.(type) {
		case json.Delim:
			out = append(out, byte(t))
			first = append(first, true)
		case string:
			out = append(out, ednString(t)...)
		case json.Number:
			out = append(out, t...)
		case bool:
			out = strconv.AppendBool(out, t)
		case nil:
			out = append(out, "nil"...)
		}
	}
}
