package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The client HTTP/JSON API's wire format, shared by the node (server side)
// and store/client. store/README.md documents it with examples.

// Paths of the client and admin API.
const (
	PathRead   = "/v1/read"
	PathWrite  = "/v1/write"
	PathCAS    = "/v1/cas"
	PathStatus = "/admin/status"
	PathClock  = "/admin/clock"
)

// TokenHeader carries the causal token (a JSON version vector) both ways.
const TokenHeader = "Faultline-Token"

// Size limits of the client API. A request over a limit is refused with
// 400 (or 413 for the body) before anything is proposed.
const (
	MaxKeyBytes       = 256
	MaxValueBytes     = 64 << 10
	MaxRequestIDBytes = 128
	MaxBodyBytes      = 256 << 10
	MaxTokenBytes     = 64 << 10
)

// Outcomes, in every response body.
const (
	OutcomeOK      = "ok"      // applied (or read)
	OutcomeFail    = "fail"    // definitely not applied
	OutcomeUnknown = "unknown" // may or may not have applied
)

// Request is the body of a read, write or cas request. Read uses Key;
// write uses Key and Value; cas uses Key, Expected and New. RequestID is
// required for write and cas: a retry with the same id applies at most
// once and returns the first attempt's result.
type Request struct {
	Key       string  `json:"key"`
	Value     *string `json:"value,omitempty"`
	Expected  *string `json:"expected,omitempty"`
	New       *string `json:"new,omitempty"`
	RequestID string  `json:"request_id,omitempty"`
}

// Validate checks a request for op ("read", "write", "cas") against the
// limits, and says what is wrong and what would be right.
func (r Request) Validate(op string) error {
	if r.Key == "" {
		return fmt.Errorf(`missing "key": a non-empty string of at most %d bytes`, MaxKeyBytes)
	}
	if len(r.Key) > MaxKeyBytes {
		return fmt.Errorf(`"key" is %d bytes: at most %d allowed`, len(r.Key), MaxKeyBytes)
	}
	if len(r.RequestID) > MaxRequestIDBytes {
		return fmt.Errorf(`"request_id" is %d bytes: at most %d allowed`, len(r.RequestID), MaxRequestIDBytes)
	}
	// Keys and values are text: a JSON string cannot carry other bytes
	// (encoding/json would turn each into U+FFFD, making two keys one and
	// changing values), so they are refused, never altered.
	if !utf8.ValidString(r.Key) {
		return fmt.Errorf(`"key" is not valid UTF-8: keys and values are UTF-8 text`)
	}
	if !utf8.ValidString(r.RequestID) {
		return fmt.Errorf(`"request_id" is not valid UTF-8`)
	}
	checkValue := func(name string, v *string) error {
		if v == nil {
			return fmt.Errorf(`missing %q: %s needs a string of at most %d bytes`, name, op, MaxValueBytes)
		}
		if len(*v) > MaxValueBytes {
			return fmt.Errorf(`%q is %d bytes: at most %d allowed`, name, len(*v), MaxValueBytes)
		}
		if !utf8.ValidString(*v) {
			return fmt.Errorf(`%q is not valid UTF-8: keys and values are UTF-8 text`, name)
		}
		return nil
	}
	switch op {
	case "read":
		if r.Value != nil || r.Expected != nil || r.New != nil {
			return fmt.Errorf(`read takes only "key" (and optionally "request_id")`)
		}
	case "write":
		if r.Expected != nil || r.New != nil {
			return fmt.Errorf(`write takes "key", "value" and "request_id", not "expected"/"new" (use %s)`, PathCAS)
		}
		if err := checkValue("value", r.Value); err != nil {
			return err
		}
	case "cas":
		if r.Value != nil {
			return fmt.Errorf(`cas takes "key", "expected", "new" and "request_id", not "value" (use %s)`, PathWrite)
		}
		if err := checkValue("expected", r.Expected); err != nil {
			return err
		}
		if err := checkValue("new", r.New); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown operation %q: valid are read, write, cas", op)
	}
	if op != "read" && r.RequestID == "" {
		return fmt.Errorf(`missing "request_id": %s needs a unique id (at most %d bytes) so a retry applies at most once`, op, MaxRequestIDBytes)
	}
	return nil
}

// Response is the body of every client API response, errors included.
type Response struct {
	Outcome   string `json:"outcome"` // ok | fail | unknown
	Value     string `json:"value,omitempty"`
	Found     bool   `json:"found,omitempty"`    // reads: false when the key is absent
	Mismatch  bool   `json:"mismatch,omitempty"` // cas: found another value
	Error     string `json:"error,omitempty"`    // why, when not ok
	RequestID string `json:"request_id,omitempty"`
}

// EncodeToken encodes a token for TokenHeader ("" for an empty token):
// the bytes json.Marshal gives (keys sorted), without reflection.
func EncodeToken(t Token) string {
	if len(t) == 0 {
		return ""
	}
	var kb [8]string
	keys := kb[:0]
	n := 2
	for k := range t {
		keys = append(keys, k)
		n += len(k) + 25
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = strconv.AppendUint(b, t[k], 10)
	}
	b = append(b, '}')
	return string(b)
}

// DecodeToken parses a TokenHeader value ("" is the empty token).
func DecodeToken(s string) (Token, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxTokenBytes {
		return nil, fmt.Errorf("%s header is %d bytes: at most %d allowed", TokenHeader, len(s), MaxTokenBytes)
	}
	if t, ok := decodeTokenFast(s); ok {
		return t, nil
	}
	var t Token
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return nil, fmt.Errorf(`%s header: want a JSON object of node id to count, like {"n1":3}: %w`, TokenHeader, err)
	}
	return t, nil
}

// Merge returns the pointwise maximum of a and b (nil when both are empty).
func Merge(a, b Token) Token {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(Token, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v > out[k] {
			out[k] = v
		}
	}
	return out
}

// Status is the body of GET /admin/status.
type Status struct {
	ID            string      `json:"id"`
	Mode          Mode        `json:"mode"`
	Role          string      `json:"role,omitempty"`
	Leader        string      `json:"leader,omitempty"`
	Term          uint64      `json:"term,omitempty"`
	Applied       uint64      `json:"applied,omitempty"`
	Vector        Token       `json:"vector,omitempty"`
	Raft          *RaftTiming `json:"raft,omitempty"` // strong mode's Raft timing
	ClockOffsetNS int64       `json:"clock_offset_ns"`
	Faults        []string    `json:"faults"`
	// PeerAuth: the peer address requires the cluster's secret;
	// PeerRefused counts the connections refused for lack of it.
	PeerAuth    bool   `json:"peer_auth"`
	PeerRefused uint64 `json:"peer_refused"`
}

// ClockOffset is the body of GET and PUT /admin/clock.
type ClockOffset struct {
	OffsetNS *int64 `json:"offset_ns"`
}

// Offset returns the offset as a duration (0 when absent).
func (c ClockOffset) Offset() time.Duration {
	if c.OffsetNS == nil {
		return 0
	}
	return time.Duration(*c.OffsetNS)
}

// The hot types of the client API (Request, Response, Token) have
// hand-written JSON encoders and decoders, because encoding/json's
// reflection was a visible part of the CPU per request. The encoders give
// exactly the bytes encoding/json gives (same field order and omitempty
// rules, same escaping: HTML characters, control characters, invalid
// UTF-8 as U+FFFD, U+2028/U+2029); the decoders take a fast path only for
// the plain shape every client sends (known field names spelt exactly,
// each at most once, strings without escapes, control characters or
// invalid UTF-8) and hand everything else to encoding/json, so their
// results and errors are encoding/json's. wire_test.go checks both
// against encoding/json, with hostile strings and a fuzz test.

// AppendJSON appends r's JSON encoding (what json.Marshal gives) to b.
func (r *Request) AppendJSON(b []byte) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, r.Key)
	if r.Value != nil {
		b = append(b, `,"value":`...)
		b = appendJSONString(b, *r.Value)
	}
	if r.Expected != nil {
		b = append(b, `,"expected":`...)
		b = appendJSONString(b, *r.Expected)
	}
	if r.New != nil {
		b = append(b, `,"new":`...)
		b = appendJSONString(b, *r.New)
	}
	if r.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, r.RequestID)
	}
	return append(b, '}')
}

// AppendJSON appends r's JSON encoding (what json.Marshal gives) to b.
func (r *Response) AppendJSON(b []byte) []byte {
	b = append(b, `{"outcome":`...)
	b = appendJSONString(b, r.Outcome)
	if r.Value != "" {
		b = append(b, `,"value":`...)
		b = appendJSONString(b, r.Value)
	}
	if r.Found {
		b = append(b, `,"found":true`...)
	}
	if r.Mismatch {
		b = append(b, `,"mismatch":true`...)
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	if r.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, r.RequestID)
	}
	return append(b, '}')
}

// DecodeRequest decodes a request body strictly, as a json.Decoder with
// DisallowUnknownFields does, refusing anything after the object but
// white space. An empty body gives an error wrapping io.EOF.
func DecodeRequest(data []byte, r *Request) error {
	var fr Request
	if fr.decodeFast(data) {
		*r = fr
		return nil
	}
	return DecodeStrict(data, r)
}

// DecodeStrict decodes the JSON value in data into v with unknown fields
// refused and nothing but white space after the value. An empty body
// gives an error wrapping io.EOF. Text that is not UTF-8 — raw bytes, or
// a \u escape of a lone UTF-16 surrogate — is refused (ErrNotUTF8)
// rather than replaced with U+FFFD as encoding/json would.
func DecodeStrict(data []byte, v any) error {
	if err := checkText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("extra data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("extra data after the JSON object")
	}
	return nil
}

// DecodeResponse decodes a response body as json.Unmarshal does (unknown
// fields ignored).
func DecodeResponse(data []byte, r *Response) error {
	var fr Response
	if fr.decodeFast(data) {
		*r = fr
		return nil
	}
	return json.Unmarshal(data, r)
}

// ErrNotUTF8 is returned for a JSON body holding text that is not UTF-8.
var ErrNotUTF8 = errors.New("the body holds text that is not UTF-8 (raw bytes, or a \\u escape of a lone surrogate): keys and values are UTF-8 text; encode binary data, for example as base64")

// checkText checks that data is UTF-8 and that its \u escapes spell no
// lone surrogate (the two ways a JSON string can ask for a non-UTF-8
// string). A backslash can only appear in a string in valid JSON, so
// the escapes need no tracking of where strings start.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		return ErrNotUTF8
	}
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := bytes.IndexByte(data, '\\'); i >= 0 && i < len(data); {
		if i+1 >= len(data) {
			return nil // a syntax error the decoder reports
		}
		if data[i+1] != 'u' {
			i += 2
		} else {
			r, ok := hex4(i)
			switch {
			case !ok:
				return nil // a syntax error the decoder reports
			case r >= 0xD800 && r < 0xDC00:
				if lo, ok := hex4(i + 6); !ok || lo < 0xDC00 || lo >= 0xE000 {
					return ErrNotUTF8
				}
				i += 12
			case r >= 0xDC00 && r < 0xE000:
				return ErrNotUTF8
			default:
				i += 6
			}
		}
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 {
			break
		}
		i += j
	}
	return nil
}

func (r *Request) decodeFast(data []byte) bool {
	s := fastScanner{b: data}
	var seen uint8
	return s.object(func(name []byte) bool {
		var bit uint8
		var dst *string
		switch string(name) {
		case "key":
			bit, dst = 1, &r.Key
		case "value":
			bit, r.Value = 2, new(string)
			dst = r.Value
		case "expected":
			bit, r.Expected = 4, new(string)
			dst = r.Expected
		case "new":
			bit, r.New = 8, new(string)
			dst = r.New
		case "request_id":
			bit, dst = 16, &r.RequestID
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		v, ok := s.str()
		*dst = string(v)
		return ok
	})
}

func (r *Response) decodeFast(data []byte) bool {
	s := fastScanner{b: data}
	var seen uint8
	return s.object(func(name []byte) bool {
		var bit uint8
		var dst *string
		var bdst *bool
		switch string(name) {
		case "outcome":
			bit, dst = 1, &r.Outcome
		case "value":
			bit, dst = 2, &r.Value
		case "found":
			bit, bdst = 4, &r.Found
		case "mismatch":
			bit, bdst = 8, &r.Mismatch
		case "error":
			bit, dst = 16, &r.Error
		case "request_id":
			bit, dst = 32, &r.RequestID
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if bdst != nil {
			v, ok := s.boolean()
			*bdst = v
			return ok
		}
		v, ok := s.str()
		*dst = string(v)
		return ok
	})
}

func decodeTokenFast(str string) (Token, bool) {
	s := fastScanner{b: []byte(str)}
	t := Token{}
	ok := s.object(func(name []byte) bool {
		v, ok := s.uint()
		t[string(name)] = v // a repeated name: the last one wins, as in encoding/json
		return ok
	})
	return t, ok
}

// fastScanner reads the plain subset of JSON the fast decoders accept;
// any false means "not plain: let encoding/json decide".
type fastScanner struct {
	b []byte
	i int
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *fastScanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads a whole document: one object, white space around it;
// member reads each value after its name and colon.
func (s *fastScanner) object(member func(name []byte) bool) bool {
	s.ws()
	if !s.next('{') {
		return false
	}
	s.ws()
	if !s.next('}') {
		for {
			name, ok := s.str()
			if !ok {
				return false
			}
			s.ws()
			if !s.next(':') {
				return false
			}
			s.ws()
			if !member(name) {
				return false
			}
			s.ws()
			if s.next('}') {
				break
			}
			if !s.next(',') {
				return false
			}
			s.ws()
		}
	}
	s.ws()
	return s.i == len(s.b)
}

// str reads a string with no escape, no control character and valid
// UTF-8: its bytes are its value.
func (s *fastScanner) str() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[start:j]
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (s *fastScanner) boolean() (bool, bool) {
	rest := s.b[s.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		s.i += 4
		return true, true
	case bytes.HasPrefix(rest, []byte("false")):
		s.i += 5
		return false, true
	}
	return false, false
}

// uint reads a JSON integer that fits a uint64 (no sign, fraction or
// exponent, no leading zero).
func (s *fastScanner) uint() (uint64, bool) {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	d := s.b[start:s.i]
	if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d), 10, 64)
	return v, err == nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json encodes a string (with
// HTML escaping, as json.Marshal and a default json.Encoder do).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
