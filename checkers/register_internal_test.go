package checkers

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/history"
)

// canonical's fast path must agree with history.Canonical.
func TestCanonicalFastPath(t *testing.T) {
	for _, v := range []string{"", "1", "-1", "-", "0", "12345678901234567890", "123456789012345678901", " 1", "1 ", "null", `"a"`, "[1, 2]", "1.5", "-0", `{"a": 1}`} {
		assert.Equal(t, history.Canonical(json.RawMessage(v)), canonical(json.RawMessage(v)), "%q", v)
	}
}
