package checkers

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

type panicking struct{}

func (panicking) Name() string { return "panicking" }
func (panicking) Check(context.Context, []history.Event) Result {
	var m map[string]int
	m["x"]++ // a bug: assignment to a nil map
	return Result{}
}

// A checker that panics is a crash, reported as an error: never a verdict,
// not even unknown.
func TestCrashIsNotAVerdict(t *testing.T) {
	r, err := checkSafely(context.Background(), panicking{}, nil)
	var ce *CrashError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "panicking", ce.Checker)
	assert.Contains(t, err.Error(), "crashed")
	assert.NotEmpty(t, ce.Stack)
	assert.Equal(t, Result{}, r)

}
