package history

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzLineParser holds lineParser to parseLineStd (encoding/json): for any
// line, both give the same event, or both an error with the same message.
func FuzzLineParser(f *testing.F) {
	for _, s := range []string{
		`{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"x","value":1}`,
		`{"index":3,"time":12000,"process":1,"type":"fail","f":"cas","key":"k1","value":[3, 4],"error":"mismatch","node":"n2","final":false}`,
		`{"index":1,"time":5300,"process":-1,"type":"info","f":"start-partition","key":"","value":{"mode":"one","grudge":{"n1":["n2"]}}}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","key":"x","value":null,"final":true}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","key":"x","value":"\u0026"}`,
		`{"Index":1,"time":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":1,"index":2,"time":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":1.0,"time":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":99999999999999999999,"time":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","key":"a\"b"}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","key":null}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","other":[1,{"a":2}]}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read"} {}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read"`,
		"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\xffead\"}",
		`{"index":-0,"time":1,"process":-2,"type":"done","f":""}`,
		`[1]`,
	} {
		f.Add([]byte(s))
	}
	p := newLineParser()
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return
		}
		got, gerr := p.parse(line)
		want, werr := parseLineStd(line)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("%q: error %v, encoding/json: %v", line, gerr, werr)
		}
		if gerr != nil {
			return
		}
		gv, wv := got.Value, want.Value
		got.Value, want.Value = nil, nil
		if !reflect.DeepEqual(got, want) || !bytes.Equal(gv, wv) || (gv == nil) != (wv == nil) {
			t.Fatalf("%q:\n got  %+v value %q\n want %+v value %q", line, got, gv, want, wv)
		}
	})
}

// The lines a recorder writes take the fast path; the fuzz test alone
// would pass if every line went to encoding/json.
func TestLineParserTakesRecorderLines(t *testing.T) {
	p := newLineParser()
	for _, e := range []Event{
		{Index: 7, Time: 1_000_000_123, Process: 3, Type: Invoke, F: FCAS, Key: "k1-0", Value: CASValue(4, 5), Node: "n1"},
		{Index: 8, Time: 1_000_000_999, Process: 3, Type: Fail, F: FCAS, Key: "k1-0", Value: CASValue(4, 5), Node: "n1", Error: ErrorMismatch},
		{Index: 9, Time: 2_000_000_000, Process: NemesisProcess, Type: Info, F: "start-partition", Value: MustValue(map[string][]string{"n1": {"n2", "n3"}})},
		{Index: 10, Time: 2_000_000_001, Process: 12, Type: OK, F: FRead, Key: "k", Value: Null, Final: true},
	} {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := p.fast(line)
		if !ok {
			t.Fatalf("%s went the slow way", line)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("%s:\n got  %+v\n want %+v", line, got, e)
		}
	}
}
