package store

import (
	"bytes"
	"encoding/json"
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

// hostile strings for the hand-written JSON codec: everything encoding/json
// escapes or replaces.
var hostile = []string{
	"", "plain", `quo"te`, `back\slash`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f",
	"\x00\x01\x1f\x7f", "caf\u00e9 \u4e16\u754c \U0001F600", "\u2028line\u2029para",
	"bad\xffutf8\xc3", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big", `\u0041 not an escape`,
	strings.Repeat("x", 300),
}

func marshal(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// The hand-written encoders give exactly encoding/json's bytes.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range hostile {
		for _, req := range []Request{
			{Key: s},
			{Key: s, Value: sp(s), RequestID: s},
			{Key: "k", Expected: sp(s), New: sp(""), RequestID: "r"},
			{Key: "k", Value: sp(""), Expected: sp("a"), New: sp(s)},
		} {
			assert.Equal(t, string(marshal(t, req)), string(req.AppendJSON(nil)), "request %+q", s)
		}
		for _, resp := range []Response{
			{},
			{Outcome: OutcomeOK, Value: s, Found: true, RequestID: s},
			{Outcome: OutcomeFail, Mismatch: true, Error: s},
			{Outcome: s, Found: true, Mismatch: true, Value: "v", Error: "e", RequestID: "r"},
		} {
			assert.Equal(t, string(marshal(t, resp)), string(resp.AppendJSON(nil)), "response %+q", s)
		}
		tok := Token{s: 1, "n1": 18446744073709551615, "n2": 0, "a" + s: 7}
		assert.Equal(t, string(marshal(t, tok)), EncodeToken(tok), "token %+q", s)
	}
}

// The decoders agree with encoding/json: same value when it succeeds, an
// error when it fails.
func TestDecodersMatchEncodingJSON(t *testing.T) {
	bodies := []string{
		`{"key":"k"}`, ` {"key":"k","value":"v","request_id":"c1-1"} ` + "\n", `{}`, ``, ` `, `{`, `}`, `[]`, `null`,
		`{"key":"k","key":"j"}`, `{"Key":"k"}`, `{"key":"k","bogus":1}`, `{"key":"k",}`, `{"key":"k"} {}`, `{"key":"k"}x`,
		`{"key":null}`, `{"key":"k","value":null}`, `{"key":"a\"b"}`, `{"key":"a\u0041"}`, "{\"key\":\"a\x01\"}",
		"{\"key\":\"\xff\"}", `{"key":1}`, `{"key":"k","expected":"a","new":"b","request_id":"r"}`,
		`{"outcome":"ok","value":"v","found":true,"mismatch":false,"error":"e","request_id":"r"}`,
		`{"outcome":"ok","found":tru}`, `{"outcome":"ok","found":"true"}`, `{"outcome":"ok","found":null}`,
		`{"outcome":"ok","outcome":"fail"}`, `{"outcome":"ok","extra":[1,2]}`, `{"value":"x"}`,
		`{"n1":3,"n2":5}`, `{"n1":03}`, `{"n1":3.0}`, `{"n1":1e2}`, `{"n1":-1}`, `{"n1":18446744073709551616}`,
		`{"n1":3,"n1":4}`, `{"n1":"3"}`, `{"n\u0031":3}`,
	}
	for _, s := range hostile {
		bodies = append(bodies, string(marshal(t, Request{Key: s, Value: sp(s), RequestID: s})),
			string(marshal(t, Response{Outcome: s, Value: s, Found: true})))
	}
	for _, body := range bodies {
		checkDecoders(t, []byte(body))
	}
}

func checkDecoders(t testing.TB, data []byte) {
	var fast, slow Request
	ferr := DecodeRequest(data, &fast)
	serr := DecodeStrict(data, &slow)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("request %q: fast error %v, encoding/json error %v", data, ferr, serr)
	}
	if ferr == nil && !assert.Equal(t, slow, fast, "request %q", data) {
		t.FailNow()
	}

	var fresp, sresp Response
	ferr = DecodeResponse(data, &fresp)
	serr = json.Unmarshal(data, &sresp)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("response %q: fast error %v, encoding/json error %v", data, ferr, serr)
	}
	if ferr == nil && !assert.Equal(t, sresp, fresp, "response %q", data) {
		t.FailNow()
	}

	if len(data) == 0 || len(data) > MaxTokenBytes {
		return
	}
	ftok, ferr := DecodeToken(string(data))
	var stok Token
	serr = json.Unmarshal(data, &stok)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("token %q: fast error %v, encoding/json error %v", data, ferr, serr)
	}
	if ferr == nil && !assert.Equal(t, stok, ftok, "token %q", data) {
		t.FailNow()
	}
}

func FuzzWireJSON(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, []byte(`{"key":"`+s+`","value":"v","request_id":"r"}`))
	}
	f.Add("", []byte(`{"outcome":"ok","found":true,"value":"x"}`))
	f.Add("", []byte(`{"n1":3,"n2":5}`))
	f.Fuzz(func(t *testing.T, s string, data []byte) {
		req := Request{Key: s, Value: sp(s), Expected: sp(s), New: sp(s), RequestID: s}
		enc := req.AppendJSON(nil)
		if want := marshal(t, req); !bytes.Equal(want, enc) {
			t.Fatalf("request %q: encoded %s, encoding/json %s", s, enc, want)
		}
		resp := Response{Outcome: s, Value: s, Found: true, Mismatch: len(s)%2 == 0, Error: s, RequestID: s}
		if want, got := marshal(t, resp), resp.AppendJSON(nil); !bytes.Equal(want, got) {
			t.Fatalf("response %q: encoded %s, encoding/json %s", s, got, want)
		}
		if want, got := string(marshal(t, Token{s: 1, "n1": 2})), EncodeToken(Token{s: 1, "n1": 2}); want != got {
			t.Fatalf("token %q: encoded %s, encoding/json %s", s, got, want)
		}
		checkDecoders(t, enc)
		checkDecoders(t, data)
	})
}
