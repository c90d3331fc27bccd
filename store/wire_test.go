package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sp(s string) *string { return &s }

func TestRequestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name    string
		op      string
		req     Request
		mention string // "" = valid
	}{
		{"read", "read", Request{Key: "k"}, ""},
		{"read with id", "read", Request{Key: "k", RequestID: "r"}, ""},
		{"read with value", "read", Request{Key: "k", Value: sp("v")}, "only"},
		{"write", "write", Request{Key: "k", Value: sp(""), RequestID: "r"}, ""},
		{"write max sizes", "write", Request{Key: long(MaxKeyBytes), Value: sp(long(MaxValueBytes)), RequestID: long(MaxRequestIDBytes)}, ""},
		{"empty key", "write", Request{Value: sp("v"), RequestID: "r"}, `"key"`},
		{"key too long", "read", Request{Key: long(MaxKeyBytes + 1)}, "at most 256"},
		{"value too long", "write", Request{Key: "k", Value: sp(long(MaxValueBytes + 1)), RequestID: "r"}, "at most 65536"},
		{"id too long", "write", Request{Key: "k", Value: sp("v"), RequestID: long(MaxRequestIDBytes + 1)}, "request_id"},
		{"write without value", "write", Request{Key: "k", RequestID: "r"}, `"value"`},
		{"write without id", "write", Request{Key: "k", Value: sp("v")}, "request_id"},
		{"write with cas fields", "write", Request{Key: "k", Value: sp("v"), New: sp("n"), RequestID: "r"}, "/v1/cas"},
		{"cas", "cas", Request{Key: "k", Expected: sp("a"), New: sp("b"), RequestID: "r"}, ""},
		{"cas without expected", "cas", Request{Key: "k", New: sp("b"), RequestID: "r"}, `"expected"`},
		{"cas without new", "cas", Request{Key: "k", Expected: sp("a"), RequestID: "r"}, `"new"`},
		{"cas with value", "cas", Request{Key: "k", Value: sp("v"), Expected: sp("a"), New: sp("b"), RequestID: "r"}, "/v1/write"},
		{"cas new too long", "cas", Request{Key: "k", Expected: sp("a"), New: sp(long(MaxValueBytes + 1)), RequestID: "r"}, `"new"`},
		{"unknown op", "delete", Request{Key: "k"}, "read, write, cas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate(tc.op)
			if tc.mention == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.mention)
		})
	}
}

func TestTokens(t *testing.T) {
	assert.Equal(t, "", EncodeToken(nil))
	tok, err := DecodeToken("")
	require.NoError(t, err)
	assert.Nil(t, tok)

	tok, err = DecodeToken(EncodeToken(Token{"n1": 3, "n2": 5}))
	require.NoError(t, err)
	assert.Equal(t, Token{"n1": 3, "n2": 5}, tok)

	for _, bad := range []string{"{", `{"n1":-1}`, `["n1"]`, `{"n1":"3"}`, strings.Repeat(" ", MaxTokenBytes+1)} {
		_, err := DecodeToken(bad)
		assert.Error(t, err, "token %.20q", bad)
	}

	assert.Nil(t, Merge(nil, Token{}))
	assert.Equal(t, Token{"n1": 3, "n2": 5, "n3": 1}, Merge(Token{"n1": 3, "n2": 1}, Token{"n2": 5, "n1": 2, "n3": 1}))
	a := Token{"n1": 1}
	Merge(a, Token{"n1": 9})
	assert.Equal(t, Token{"n1": 1}, a, "merge does not modify its inputs")
}

func TestParseModeAndFaults(t *testing.T) {
	m, err := ParseMode("causal")
	require.NoError(t, err)
	assert.Equal(t, Causal, m)
	_, err = ParseMode("linearizable")
	assert.ErrorContains(t, err, "strong, causal, eventual")

	fs, err := ParseFaults(" stale-reads , skip-deps,")
	require.NoError(t, err)
	assert.Equal(t, []string{"skip-deps", "stale-reads"}, fs.List())
	assert.True(t, fs.On(StaleReads))
	assert.False(t, fs.On(AckBeforeFsync))
	_, err = ParseFaults("stale-reads,nope")
	assert.ErrorContains(t, err, `"nope"`)
	fs, err = ParseFaults("")
	require.NoError(t, err)
	assert.Empty(t, fs.List())
}
