package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/faultline/faultline/history"
)

// CONTRACT (written before the checkers; results/ and the CLI use it).

// Validity is a checker's verdict: valid, invalid or unknown. In JSON it is
// true, false or "unknown", as in Jepsen. Combining verdicts: invalid
// outranks unknown, unknown outranks valid. The zero value is Unknown, so a
// verdict that was never set can never read as valid.
type Validity int

const (
	Unknown Validity = iota
	Valid
	Invalid
)

func (v Validity) String() string {
	switch v {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	}
	return "unknown"
}

// rank orders verdicts for Merge: valid < unknown < invalid.
func (v Validity) rank() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 2
	}
	return 1
}

// Merge returns the combined verdict of v and w.
func (v Validity) Merge(w Validity) Validity {
	if w.rank() > v.rank() {
		return w
	}
	return v
}

// ExitCode is the process exit code for the verdict: 0 valid, 1 invalid,
// 2 unknown (3 is kept for "could not run or read").
func (v Validity) ExitCode() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 1
	}
	return 2
}

func (v Validity) MarshalJSON() ([]byte, error) {
	switch v {
	case Valid:
		return []byte("true"), nil
	case Invalid:
		return []byte("false"), nil
	}
	return []byte(`"unknown"`), nil
}

func (v *Validity) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = Valid
	case "false":
		*v = Invalid
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("valid must be true, false or \"unknown\", not %s", b)
	}
	return nil
}

// Anomaly is one violation (or, in Info, one observation) a checker found.
type Anomaly struct {
	// Name is the anomaly's name: "nonlinearizable", "ThinAirRead",
	// "CyclicCO", "WriteCOInitRead", "WriteCORead", "CyclicCF",
	// "divergence", "lost", ...
	Name string   `json:"name"`
	Keys []string `json:"keys,omitempty"`
	// Guarantee is the session guarantee broken, where one applies:
	// read-your-writes, monotonic-reads, monotonic-writes,
	// writes-follow-reads.
	Guarantee string `json:"guarantee,omitempty"`
	// Ops are the indices (history event index of the invoke) of the few
	// ops that witness it, in witness order.
	Ops []int64 `json:"ops,omitempty"`
	// Explanation says, in English and edge by edge, what happened.
	Explanation string `json:"explanation"`
}

// Result is what a checker says of a history.
type Result struct {
	Checker string   `json:"checker"` // linearizable, causal, causal+, eventual, set
	Valid   Validity `json:"valid"`
	// Reason says why the verdict is unknown (timeout, no final reads).
	Reason    string    `json:"reason,omitempty"`
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Info are observations that do not fail the model (e.g. session
	// guarantee violations under eventual consistency).
	Info   []Anomaly      `json:"info,omitempty"`
	Counts map[string]int `json:"counts,omitempty"`
	// Extra holds checker-specific detail (e.g. failing keys).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// Total is how many anomalies the checker found, of which Anomalies
// lists at most a few: per anomaly name, the checker's count of it
// (keys-nonlinearizable for nonlinearizable), never fewer than listed.
func (r Result) Total() int { return countedTotal(r.Anomalies, r.Counts) }

// TotalInfo is Total for the observations in Info.
func (r Result) TotalInfo() int { return countedTotal(r.Info, r.Counts) }

func countedTotal(list []Anomaly, counts map[string]int) int {
	seen := map[string]bool{}
	total := 0
	for _, a := range list {
		if seen[a.Name] {
			continue
		}
		seen[a.Name] = true
		name := a.Name
		if name == "nonlinearizable" {
			name = "keys-nonlinearizable"
		}
		total += counts[name]
	}
	return max(total, len(list))
}

// Checker checks a history against one model. Checkers are pure: no IO.
type Checker interface {
	Name() string
	Check(ctx context.Context, events []history.Event) Result
}

// Options tune the checkers.
type Options struct {
	// Timeout bounds the linearizability search (0 = none); on timeout
	// the verdict is unknown, never valid.
	Timeout time.Duration
	// SearchMemory bounds the memory of the linearizability search, in
	// bytes, shared among the keys searched at once (0 = DefaultSearchMemory).
	// A key whose search would exceed its share is unknown, with the
	// reason; the other keys are still checked.
	SearchMemory int64
}

// Names lists the valid checker names, for usage messages.
var Names = []string{"linearizable", "causal", "causal+", "eventual", "set"}

// Summary is the content of results.json: every checker's result and the
// combined verdict.
type Summary struct {
	Valid   Validity `json:"valid"`
	Results []Result `json:"results"`
}

// UnmarshalJSON refuses a summary, or a result in it, without an explicit
// "valid": a verdict that is not written down is not valid (nor anything
// else).
func (s *Summary) UnmarshalJSON(b []byte) error {
	var raw struct {
		Valid   *Validity `json:"valid"`
		Results []struct {
			Result
			Valid *Validity `json:"valid"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Valid == nil {
		return fmt.Errorf(`no "valid" field: a checkers summary must say its verdict ("valid": true, false or "unknown")`)
	}
	*s = Summary{Valid: *raw.Valid}
	for i, r := range raw.Results {
		if r.Valid == nil {
			return fmt.Errorf(`result %d (%q) has no "valid" field: each result must say its verdict (true, false or "unknown")`, i, r.Checker)
		}
		r.Result.Valid = *r.Valid
		s.Results = append(s.Results, r.Result)
	}
	return nil
}
