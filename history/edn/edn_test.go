package edn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/history/edn"
)

var expectRE = regexp.MustCompile(`(?m)^; expect: (valid|invalid)$`)

// Each testdata history says the verdict Knossos gives it, and why, in
// its first comment lines; the linearizable checker must give the same.
func TestTestdataVerdicts(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.edn")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			m := expectRE.FindSubmatch(b)
			require.NotNil(t, m, "no '; expect: valid|invalid' line")
			rr, err := edn.ReadFile(path)
			require.NoError(t, err)
			res := linearizable(t, rr.Events)
			assert.Equal(t, string(m[1]), res.Valid.String(), "%s %+v", res.Reason, res.Anomalies)
		})
	}
}

func linearizable(t *testing.T, events []history.Event) checkers.Result {
	t.Helper()
	c, err := checkers.New("linearizable", checkers.Options{})
	require.NoError(t, err)
	return c.Check(context.Background(), events)
}

// What the reader makes of each kind of operation (the mapping Read
// documents).
func TestReadMapping(t *testing.T) {
	rr, err := edn.ReadFile("testdata/nemesis.edn")
	require.NoError(t, err)
	require.Len(t, rr.Events, 10)
	assert.Equal(t, int64(160), rr.Events[2].Time, ":time is kept when it increases")
	assert.Equal(t, history.NemesisProcess, rr.Events[1].Process)
	assert.Equal(t, "start-partition", rr.Events[1].F)
	assert.Equal(t, `[":isolated",{"n1":["n2","n3"]}]`, history.Canonical(rr.Events[2].Value))
	assert.Equal(t, "start-nemesis", rr.Events[8].F)
	assert.Equal(t, "stop-nemesis", rr.Events[9].F)
	assert.Equal(t, edn.SingleKey, rr.Events[0].Key)
	faults := history.Faults(rr.Events)
	require.NotEmpty(t, faults)
	assert.Equal(t, "partition", faults[0].Name)

	rr, err = edn.ReadFile("testdata/nil-read.edn")
	require.NoError(t, err)
	assert.Equal(t, history.Info, rr.Events[3].Type, "a nil read is info")
	assert.Equal(t, edn.NilReadError, rr.Events[3].Error)
	assert.Equal(t, int64(3), rr.Events[3].Time, "no :time: the position stands for it")

	rr, err = edn.ReadFile("testdata/failed-cas.edn")
	require.NoError(t, err)
	assert.Equal(t, history.Fail, rr.Events[5].Type)
	assert.Equal(t, ":mismatch", rr.Events[5].Error, "never the contract's \"mismatch\"")

	rr, err = edn.ReadFile("testdata/independent.edn")
	require.NoError(t, err)
	assert.Equal(t, "1", rr.Events[0].Key)
	assert.Equal(t, "5", string(rr.Events[0].Value))
	assert.Equal(t, "2", rr.Events[6].Key)
	assert.Equal(t, "[5,6]", string(rr.Events[6].Value))

	// A plain history of cas alone is not taken for independent tuples.
	rr, err = edn.Read(strings.NewReader(`{:process 0 :type :invoke :f :cas :value [1 2]} {:process 0 :type :fail :f :cas :value [1 2]}`))
	require.NoError(t, err)
	assert.Equal(t, edn.SingleKey, rr.Events[0].Key)
	assert.Equal(t, "[1,2]", string(rr.Events[0].Value))
}

func TestReadValues(t *testing.T) {
	for _, tc := range []struct{ edn, json string }{
		{`nil`, `null`},
		{`-42`, `-42`},
		{`42N`, `42`},
		{`1.5`, `1.5`},
		{`1.0`, `1.0`},
		{`2e3`, `2e3`},
		{`1.5M`, `1.5`},
		{`"a\"b\n\u00e9"`, `"a\"b\né"`},
		{`:kw`, `":kw"`},
		{`:ns/kw`, `":ns/kw"`},
		{`true`, `true`},
		{`\a`, `"a"`},
		{`\newline`, `"\n"`},
		{`[1, 2 (3) #_ 4]`, `[1,2,[3]]`},
		{`#{3 1 2}`, `[1,2,3]`},
		{`{:b 1 "a" 2}`, `{":b":1,"a":2}`},
		{`#inst "2026-01-01T00:00:00Z"`, `"2026-01-01T00:00:00Z"`},
		{"[1 ; a comment\n 2]", `[1,2]`},
	} {
		t.Run(tc.edn, func(t *testing.T) {
			in := `{:process 0, :type :invoke, :f :write, :value ` + tc.edn + `}`
			rr, err := edn.Read(strings.NewReader(in))
			require.NoError(t, err)
			assert.Equal(t, history.Canonical([]byte(tc.json)), history.Canonical(rr.Events[0].Value))
		})
	}
}

// Bad input is an error naming the line and column and what was expected.
func TestReadErrors(t *testing.T) {
	inv := `{:process 0, :type :invoke, :f :read, :value nil}`
	for _, tc := range []struct {
		name, in string
		line     int
		want     string
	}{
		{"unclosed map", "\n  {:process 0, :type :invoke", 2, "column 3: map opened here is not closed: expected '}'"},
		{"unclosed string", `{:f "read`, 1, `column 5: string opened here is not closed`},
		{"stray closer", inv + "\n]", 2, `column 1: unexpected ']'`},
		{"odd map", `{:process 0 :type}`, 1, "column 1: map has a key without a value"},
		{"not a map", `[1 2]`, 1, "column 2: expected an operation map"},
		{"bad type", `{:process 0, :type :done, :f :read}`, 1, ":type is :done: expected :invoke, :ok, :fail or :info"},
		{"no process", `{:type :invoke, :f :read}`, 1, "has no :process"},
		{"string process", `{:process "p", :type :invoke, :f :read}`, 1, `:process is "p": expected an integer >= 0 or :nemesis`},
		{"negative process", `{:process -1, :type :invoke, :f :read}`, 1, `:process is -1`},
		{"ratio", `{:process 0, :type :invoke, :f :write, :value 1/2}`, 1, `column 47: "1/2" is not a number`},
		{"bad escape", `{:f "a\qb"}`, 1, `unknown escape \q`},
		{"after the vector", "[" + inv + "]\n" + inv, 2, "expected the end of the input after the vector"},
		{"completion without invoke", inv + "\n{:process 1, :type :ok, :f :read, :value 1}", 2, "completes no open invoke"},
		{"two invokes", inv + "\n  " + inv, 2, "column 3: process 0 invokes read while its invoke"},
		{"cas from nil", `{:process 0, :type :invoke, :f :cas, :value [nil 1]}` + "\n" + `{:process 0, :type :ok, :f :cas, :value [nil 1]}`, 1, "a cas from nil that did not fail"},
		{"cas from nil never completed", `{:process 0, :type :invoke, :f :cas, :value [nil 1]}`, 1, "a cas from nil"},
		{"bad time", `{:process 0, :type :invoke, :f :read, :time "x"}`, 1, `:time is "x"`},
		{"tag without value", `#foo`, 1, "tag #foo has no value"},
		{"deep", strings.Repeat("[", 2000), 1, "nested deeper than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := edn.Read(strings.NewReader(tc.in))
			require.Error(t, err)
			var le *history.LineError
			require.True(t, errors.As(err, &le), "%T %v", err, err)
			assert.Equal(t, tc.line, le.Line, "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A failed cas from nil tells nothing and is read.
	_, err := edn.Read(strings.NewReader(`{:process 0, :type :invoke, :f :cas, :value [nil 1]} {:process 0, :type :fail, :f :cas, :value [nil 1]}`))
	require.NoError(t, err)
}

// A history written by Write reads back with the same operations and the
// same verdict.
func TestWriteReadsBack(t *testing.T) {
	events := checkertest.Register(checkertest.RegisterConfig{Seed: 3, Ops: 400, Processes: 5, Keys: 4, ReadRate: 0.4, CASRate: 0.2, InfoRate: 0.05, Nodes: 2})
	events = append(events, history.Event{Index: int64(len(events)), Time: events[len(events)-1].Time + 1,
		Process: history.NemesisProcess, Type: history.Info, F: "start-partition", Value: []byte(`{"n1":["n2"],"note":"a \"b\""}`)})
	var buf bytes.Buffer
	require.NoError(t, edn.Write(&buf, events))
	assert.Contains(t, buf.String(), `:type :invoke, :process 0, :f :`)
	rr, err := edn.Read(&buf)
	require.NoError(t, err)
	require.Len(t, rr.Events, len(events))
	for i, e := range rr.Events {
		w := events[i]
		assert.Equal(t, w.Process, e.Process)
		assert.Equal(t, w.F, e.F)
		assert.Equal(t, w.Key, e.Key)
		assert.Equal(t, w.Time, e.Time)
		if e.Error == edn.NilReadError {
			continue // Knossos's meaning of a nil read
		}
		assert.Equal(t, w.Type, e.Type)
		assert.Equal(t, history.Canonical(w.Value), history.Canonical(e.Value), "event %d", i)
	}
	assert.Equal(t, checkers.Valid, linearizable(t, rr.Events).Valid)
}

// Any input reads, or fails with an error naming its line; what reads
// is a valid history.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.edn")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`#{1 #_ 2} \u00e9 "\u0041" 1.5M 7N`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr, err := edn.Read(bytes.NewReader(data))
		if err != nil {
			var le *history.LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		v := history.NewValidator()
		for _, e := range rr.Events {
			if err := v.Check(e); err != nil {
				t.Fatalf("invalid event %+v: %v", e, err)
			}
		}
		var buf bytes.Buffer
		if err := edn.Write(&buf, rr.Events); err != nil {
			t.Fatalf("write: %v", err)
		}
	})
}

// A last operation map cut short is a torn write, skipped with a warning;
// a torn vector, or a history with nothing whole, is an error.
func TestReadTornLastOperation(t *testing.T) {
	whole := "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n"
	for _, torn := range []string{`{:process 1, :type :invoke, :f :re`, `{:process 1, :f "rea`, `#jepsen.history.Op{:process 1`} {
		rr, err := edn.Read(strings.NewReader(whole + torn))
		require.NoError(t, err, torn)
		assert.Len(t, rr.Events, 2)
		require.Len(t, rr.Warnings, 1)
		assert.Contains(t, rr.Warnings[0], "line 3: skipped a torn last operation")
	}
	_, err := edn.Read(strings.NewReader("[" + whole))
	assert.ErrorContains(t, err, "vector opened here is not closed")
	_, err = edn.Read(strings.NewReader(`{:process 1, :type :invoke`))
	assert.ErrorContains(t, err, "map opened here is not closed")
	_, err = edn.Read(strings.NewReader(whole + "{:process 1}\n{:process 2"))
	assert.ErrorContains(t, err, "line 3: column 1: the operation has no :type", "only the last map may be torn")
}

// A map with a key twice, or a set with an element twice, is an error (as
// Clojure's reader throws), naming the line: otherwise one of the two
// would count and the other vanish. So is a lone surrogate escape, which
// would be written out as U+FFFD and make different strings one. Each
// invalid input has a valid counterpart.
func TestReadRejectsDuplicatesAndLoneSurrogates(t *testing.T) {
	inv := "{:process 0, :type :invoke, :f :write, :value 1}\n"
	for _, tc := range []struct {
		name, ok string // the completion of inv
		want     string // "" = valid
	}{
		{"distinct fields", `{:process 0, :type :ok, :f :write, :value 1}`, ""},
		{"value twice", `{:process 0, :type :ok, :f :write, :value 7, :value 1}`, "column 46: duplicate key :value in a map (first at line 2, column 36)"},
		{"type twice", `{:process 0, :type :ok, :f :write, :value 1, :type :fail}`, "duplicate key :type"},
		{"keyword and string keys differ", `{:process 0, :type :ok, :f :write, :value {:a 1, "a" 2}}`, ""},
		{"key twice in a value", `{:process 0, :type :ok, :f :write, :value {:a 1, :a 2}}`, "duplicate key :a"},
		{"1 and 1N are one key", `{:process 0, :type :ok, :f :write, :value {1 :x, 1N :y}}`, "duplicate key 1"},
		{"1 and 1.0 are two keys", `{:process 0, :type :ok, :f :write, :value {1 :x, 1.0 :y}}`, ""},
		{"element twice in a set", `{:process 0, :type :ok, :f :write, :value #{1 2 1}}`, "duplicate element 1 in a set"},
		{"a vector and a list are equal", `{:process 0, :type :ok, :f :write, :value #{[1 2] (1 2)}}`, "duplicate element (1 2)"},
		{"equal maps in any order", `{:process 0, :type :ok, :f :write, :value #{{:a 1 :b 2} {:b 2 :a 1}}}`, "duplicate element"},
		{"surrogate pair", `{:process 0, :type :ok, :f :write, :value "a\ud83d\ude00"}`, ""},
		{"lone high surrogate", `{:process 0, :type :ok, :f :write, :value "a\ud800"}`, `column 45: lone surrogate \ud800`},
		{"lone low surrogate", `{:process 0, :type :ok, :f :write, :value "a\udc00"}`, `lone surrogate \udc00`},
		{"surrogate character", `{:process 0, :type :ok, :f :write, :value \ud800}`, "a lone surrogate is no character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := edn.Read(strings.NewReader(inv + tc.ok + "\n"))
			if tc.want == "" {
				require.NoError(t, err)
				require.Len(t, rr.Events, 2)
				return
			}
			require.Error(t, err)
			var le *history.LineError
			require.True(t, errors.As(err, &le), "%T %v", err, err)
			assert.Equal(t, 2, le.Line, "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// An ok write or cas is the operation its ok says, as Knossos's
// history/complete makes it: the invoke takes the ok's value (of a [k v]
// tuple, v), so a Jepsen history gets Knossos's verdict. An ok on another
// key than its invoke's is an error naming the ok's line.
func TestReadOKValueReplacesInvokes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // a verdict, or an error
	}{
		{"ok write of another value, read", `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 2}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 2}`, "valid"},
		{"ok write of another value, invoke's value read", `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 2}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}`, "invalid"},
		{"info write keeps the invoke's value", `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :info, :f :write, :value 2}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}`, "valid"},
		{"ok cas of another value", `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 0, :type :invoke, :f :cas, :value [1 5]}
{:process 0, :type :ok, :f :cas, :value [1 3]}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 3}`, "valid"},
		{"independent: the value of the tuple", `{:process 0, :type :invoke, :f :write, :value [:a 1]}
{:process 0, :type :ok, :f :write, :value [:a 2]}
{:process 1, :type :invoke, :f :read, :value [:a nil]}
{:process 1, :type :ok, :f :read, :value [:a 2]}`, "valid"},
		{"independent: ok on another key", `{:process 0, :type :invoke, :f :write, :value [:a 1]}
{:process 0, :type :ok, :f :write, :value [:b 1]}
{:process 1, :type :invoke, :f :read, :value [:a nil]}
{:process 1, :type :ok, :f :read, :value [:a 1]}`, `line 2: column 1: ok of write by process 0 is on key ":b", its invoke (index 0) on key ":a": key must match`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := edn.Read(strings.NewReader(tc.in))
			if tc.want != "valid" && tc.want != "invalid" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			res := linearizable(t, rr.Events)
			assert.Equal(t, tc.want, res.Valid.String(), "%s %+v", res.Reason, res.Anomalies)
		})
	}
}

// Only a torn last line is a killed writer's: an operation left open with
// more lines after it swallows them all, so it is an error naming the line
// it opens on, never a warning that drops the rest of the history.
func TestReadUnclosedOperationMidFile(t *testing.T) {
	whole := "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n"
	rest := "{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 99}\n"
	for _, tc := range []struct {
		name, in string
		want     string // "" = read, the torn line skipped with a warning
	}{
		{"torn map on the last line", whole + `{:process 1, :type :invoke, :f :re`, ""},
		{"torn map, then blank lines", whole + "{:process 1, :type :invoke\n\n  \n", ""},
		{"torn string on the last line", whole + `{:process 1, :f "rea`, ""},
		{"unclosed map with lines after it", whole + "{:process 1, :type :invoke, :f :read, :value nil\n" + rest,
			"line 3: column 1: the operation that opens here is not closed before the end of the input, and lines 4 to 5 follow it"},
		{"unclosed string with lines after it", whole + "{:process 1, :type :invoke, :f :write, :value \"abc}\n" + rest,
			"line 3: column 1: the operation that opens here is not closed"},
		{"torn map, then a comment", whole + "{:process 1, :type :invoke\n; end\n", "line 3: column 1: the operation that opens here is not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := edn.Read(strings.NewReader(tc.in))
			if tc.want == "" {
				require.NoError(t, err)
				assert.Len(t, rr.Events, 2)
				require.Len(t, rr.Warnings, 1)
				assert.Contains(t, rr.Warnings[0], "line 3: skipped a torn last operation")
				return
			}
			require.Error(t, err)
			var le *history.LineError
			require.True(t, errors.As(err, &le), "%T %v", err, err)
			assert.Equal(t, 3, le.Line)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Export and read back keep a multi-key history's keys even without reads
// (which alone showed the tuples before): Write marks the tuples on its
// first line. Keys that differ in Clojure never read as one key, nor map
// keys inside a value as one JSON name.
func TestKeysSurviveAndStayApart(t *testing.T) {
	jsonl := func(lines ...string) []history.Event {
		rr, err := history.Read(strings.NewReader(strings.Join(lines, "\n")))
		require.NoError(t, err)
		return rr.Events
	}
	// F10: no reads, two keys; a cas on b from 1 fails, so a's cas from 3
	// after a's unknown write of 3 and its ok write of 2 decide it.
	noReads := jsonl(
		`{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"a","value":3}`,
		`{"index":1,"time":10,"process":0,"type":"info","f":"write","key":"a","value":3,"error":"timeout"}`,
		`{"index":2,"time":20,"process":1,"type":"invoke","f":"cas","key":"b","value":[1,1]}`,
		`{"index":3,"time":30,"process":1,"type":"fail","f":"cas","key":"b","value":[1,1],"error":"timeout"}`,
		`{"index":4,"time":60,"process":2,"type":"invoke","f":"cas","key":"a","value":[3,1]}`,
		`{"index":5,"time":70,"process":2,"type":"ok","f":"cas","key":"a","value":[3,1]}`,
		`{"index":6,"time":80,"process":2,"type":"invoke","f":"write","key":"b","value":1}`,
		`{"index":7,"time":90,"process":2,"type":"ok","f":"write","key":"b","value":1}`,
	)
	t.Run("export without reads reads back per key", func(t *testing.T) {
		require.Equal(t, checkers.Valid, linearizable(t, noReads).Valid)
		var buf bytes.Buffer
		require.NoError(t, edn.Write(&buf, noReads))
		assert.True(t, strings.HasPrefix(buf.String(), edn.IndependentMarker+"\n"))
		rr, err := edn.Read(&buf)
		require.NoError(t, err)
		for i, e := range rr.Events {
			assert.Equal(t, noReads[i].Key, e.Key, "event %d", i)
			assert.Equal(t, history.Canonical(noReads[i].Value), history.Canonical(e.Value), "event %d", i)
		}
		assert.Equal(t, checkers.Valid, linearizable(t, rr.Events).Valid)
	})
	t.Run("one key exports bare values, unmarked", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, edn.Write(&buf, noReads[4:6]))
		assert.False(t, strings.HasPrefix(buf.String(), ";"))
	})

	op := func(p int, typ, f, value string) string {
		return fmt.Sprintf("{:process %d, :type :%s, :f :%s, :value %s}\n", p, typ, f, value)
	}
	for _, tc := range []struct {
		name, in string
		want     string // "" = valid
	}{
		{"marked tuples", edn.IndependentMarker + "\n" + op(0, "invoke", "write", `[1 5]`) + op(0, "ok", "write", `[1 5]`), ""},
		{"marked, not a tuple", edn.IndependentMarker + "\n" + op(0, "invoke", "write", `[1 5]`) + op(0, "ok", "write", `5`), "line 3: column 1: :value is 5: line 1 says every client value is a [key value] tuple"},
		{"keys 1 and 2", op(0, "invoke", "write", `[1 5]`) + op(0, "ok", "write", `[1 5]`) + op(1, "invoke", "read", `[2 nil]`) + op(1, "ok", "read", `[2 5]`), ""},
		{"keys 1 and 1N are one", op(0, "invoke", "write", `[1 5]`) + op(0, "ok", "write", `[1 5]`) + op(1, "invoke", "read", `[1N nil]`) + op(1, "ok", "read", `[1N 5]`), ""},
		{"keys 1 and \"1\" (F9)", op(0, "invoke", "write", `[1 5]`) + op(0, "ok", "write", `[1 5]`) + op(1, "invoke", "read", `["1" nil]`) + op(1, "ok", "read", `["1" 5]`),
			`line 3: column 1: key "1" reads as key "1", as key 1 on line 1 does`},
		{"keys :a and \":a\"", op(0, "invoke", "write", `[:a 5]`) + op(0, "ok", "write", `[:a 5]`) + op(1, "invoke", "read", `[":a" nil]`) + op(1, "ok", "read", `[":a" 5]`), `key ":a" reads as key ":a"`},
		{"map keys :a and \"a\" in a value", op(0, "invoke", "write", `{:a 1, "a" 2}`), ""},
		{"map keys a and \"a\" in a value", op(0, "invoke", "write", `{a 1, "a" 2}`), "line 1: column 1: the value {\"a\":1,\"a\":2} has map keys that differ in EDN but are one name in JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := edn.Read(strings.NewReader(tc.in))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var le *history.LineError
			require.True(t, errors.As(err, &le), "%T %v", err, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// faultline's own export writes :node and :final; reading it back keeps
// them, so a history with final reads is still judged by eventual (which
// needs them) after the round trip.
func TestExportKeepsFinalReadsAndNodes(t *testing.T) {
	h := checkertest.New().Write(0, "k", 1).FinalRead(1, "n2", "k", 1).FinalRead(2, "n3", "k", 1)
	events := h.Events()
	ev, err := checkers.New("eventual", checkers.Options{})
	require.NoError(t, err)
	require.Equal(t, checkers.Valid, ev.Check(context.Background(), events).Valid)
	var buf bytes.Buffer
	require.NoError(t, edn.Write(&buf, events))
	rr, err := edn.Read(&buf)
	require.NoError(t, err)
	require.Len(t, rr.Events, len(events))
	for i, e := range rr.Events {
		assert.Equal(t, events[i].Final, e.Final, "event %d", i)
		assert.Equal(t, events[i].Node, e.Node, "event %d", i)
	}
	assert.Equal(t, checkers.Valid, ev.Check(context.Background(), rr.Events).Valid)

	_, err = edn.Read(strings.NewReader("{:process 0, :type :invoke, :f :read, :value nil, :final 1}\n"))
	require.ErrorContains(t, err, ":final is 1: expected true or false")
}
