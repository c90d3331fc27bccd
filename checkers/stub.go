package checkers

import (
	"context"
	"errors"

	"github.com/faultline/faultline/history"
)

// PLACEHOLDERS: the checkers implementation replaces this file.

// New returns the checker named name (one of Names), or an error listing
// the valid names.
func New(name string, opts Options) (Checker, error) {
	return nil, errors.New("checkers: not implemented yet")
}

// CheckAll runs the named checkers on events and combines their verdicts.
func CheckAll(ctx context.Context, events []history.Event, names []string, opts Options) (Summary, error) {
	return Summary{}, errors.New("checkers: not implemented yet")
}
