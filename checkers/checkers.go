package checkers

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/faultline/faultline/history"
)

// New returns the checker named name (one of Names), or an error listing
// the valid names.
func New(name string, opts Options) (Checker, error) {
	switch name {
	case "linearizable":
		return linearizable{opts: opts}, nil
	case "causal":
		return causalChecker{}, nil
	case "causal+":
		return causalChecker{convergence: true}, nil
	case "eventual":
		return eventual{}, nil
	case "set":
		return setChecker{}, nil
	}
	return nil, fmt.Errorf("unknown checker %q: the checkers are %s", name, strings.Join(Names, ", "))
}

// CheckAll runs the named checkers on events (NewAll, then Check). An
// unknown name is an error, before anything is checked.
func CheckAll(ctx context.Context, events []history.Event, names []string, opts Options) (Summary, error) {
	cs, err := NewAll(names, opts)
	if err != nil {
		return Summary{}, err
	}
	return Check(ctx, events, cs)
}

// NewAll returns the checkers named (New), each once, in order.
func NewAll(names []string, opts Options) ([]Checker, error) {
	var cs []Checker
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		c, err := New(n, opts)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// Check runs cs on events and combines their verdicts (invalid outranks
// unknown, unknown outranks valid); a checker named twice runs once. No
// checker at all is an error: a history checked against nothing is not
// valid. A checker that panics is a *CrashError, never a verdict.
func Check(ctx context.Context, events []history.Event, cs []Checker) (Summary, error) {
	if len(cs) == 0 {
		return Summary{}, fmt.Errorf("no checker named: name one or more of %s", strings.Join(Names, ", "))
	}
	sum := Summary{Valid: Valid}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.Name()] {
			continue
		}
		seen[c.Name()] = true
		r, err := checkSafely(ctx, c, events)
		if err != nil {
			return Summary{}, err
		}
		sum.Valid = sum.Valid.Merge(r.Valid)
		sum.Results = append(sum.Results, r)
	}
	return sum, nil
}

// CrashError is a checker that panicked: a bug in faultline, never a
// verdict (not even unknown).
type CrashError struct {
	Checker string
	Panic   any
	Stack   []byte
}

func (e *CrashError) Error() string {
	return fmt.Sprintf("checker %s crashed (a bug in faultline, not a verdict): %v", e.Checker, e.Panic)
}

func checkSafely(ctx context.Context, c Checker, events []history.Event) (r Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &CrashError{Checker: c.Name(), Panic: p, Stack: debug.Stack()}
		}
	}()
	return c.Check(ctx, events), nil
}

// nothingToCheck is the reason the register checkers (linearizable,
// causal, causal+, eventual) give for a history in which no register
// operation has a known outcome the models use: no read, write or cas
// completed ok and no cas failed as a mismatch. A run that recorded
// nothing, only failures (which did nothing), only outcomes unknown, or
// only functions the models do not know proves nothing, so its verdict is
// unknown, never valid. The set checker's rule is the same for its model
// (nothingToCheckSet).
const nothingToCheck = "nothing to check: no read, write or cas completed ok, and no cas failed as a mismatch"
