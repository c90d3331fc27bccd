package history_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/history"
)

// Equal JSON values written differently compare equal; different values
// do not.
func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"html escape", `"&0"`, `"\u00260"`, true},
		{"letter escape", `"A"`, `"\u0041"`, true},
		{"white space", ` [1, "x" ,{"k" : 2}] `, `[1,"x",{"k":2}]`, true},
		{"escaped slash", `"a/b"`, `"a\/b"`, true},
		{"unicode raw and escaped", `"é"`, `"\u00e9"`, true},
		{"line separator", "\"\u2028\"", `"\u2028"`, true},
		{"newline escapes", `"a\nb"`, `"a\u000ab"`, true},
		{"nested escapes", `{"k\u0031":["\u003c"]}`, `{"k1":["<"]}`, true},
		{"quote kept escaped", `"say \"hi\""`, `"say \u0022hi\u0022"`, true},
		{"different strings", `"a"`, `"b"`, false},
		{"number and string", `1`, `"1"`, false},
		{"key order matters", `{"a":1,"b":2}`, `{"b":2,"a":1}`, false},
		{"absent and null", ``, `null`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := history.Canonical(json.RawMessage(tc.a)), history.Canonical(json.RawMessage(tc.b))
			if tc.same {
				assert.Equal(t, a, b)
			} else {
				assert.NotEqual(t, a, b)
			}
			assert.True(t, tc.a == "" || json.Valid([]byte(a)), "canonical form %s is JSON", a)
		})
	}
}
