package store

import (
	"encoding/json"
	"fmt"
	"time"
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
	checkValue := func(name string, v *string) error {
		if v == nil {
			return fmt.Errorf(`missing %q: %s needs a string of at most %d bytes`, name, op, MaxValueBytes)
		}
		if len(*v) > MaxValueBytes {
			return fmt.Errorf(`%q is %d bytes: at most %d allowed`, name, len(*v), MaxValueBytes)
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

// EncodeToken encodes a token for TokenHeader ("" for an empty token).
func EncodeToken(t Token) string {
	if len(t) == 0 {
		return ""
	}
	b, _ := json.Marshal(t) // a map[string]uint64 always marshals
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
	ID            string   `json:"id"`
	Mode          Mode     `json:"mode"`
	Role          string   `json:"role,omitempty"`
	Leader        string   `json:"leader,omitempty"`
	Term          uint64   `json:"term,omitempty"`
	Applied       uint64   `json:"applied,omitempty"`
	Vector        Token    `json:"vector,omitempty"`
	ClockOffsetNS int64    `json:"clock_offset_ns"`
	Faults        []string `json:"faults"`
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
