package history_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

const (
	inv0 = `{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"x","value":1}`
	ok0  = `{"index":1,"time":5,"process":0,"type":"ok","f":"write","key":"x","value":1}`
)

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name, input string
		line        int
		want        string
	}{
		{"not JSON", inv0 + "\nnope\n", 2, "not a JSON object"},
		{"missing field", `{"index":0,"time":0,"process":0,"type":"invoke"}` + "\n", 1, `missing field "f"`},
		{"unknown type", `{"index":0,"time":0,"process":0,"type":"done","f":"read"}` + "\n", 1, `type "done" is not one of invoke, ok, fail, info`},
		{"empty f", `{"index":0,"time":0,"process":0,"type":"invoke","f":""}` + "\n", 1, `field "f" is empty`},
		{"bad process", `{"index":0,"time":0,"process":-2,"type":"invoke","f":"read"}` + "\n", 1, "process -2 is invalid"},
		{"negative time", `{"index":0,"time":-1,"process":0,"type":"invoke","f":"read"}` + "\n", 1, "time -1 is negative"},
		{"wrong field type", `{"index":"a","time":0,"process":0,"type":"invoke","f":"read"}` + "\n", 1, "bad field"},
		{"index goes back", inv0 + "\n" + strings.Replace(ok0, `"index":1`, `"index":0`, 1) + "\n", 2, "index 0 does not follow index 0"},
		{"time goes back", strings.Replace(inv0, `"time":0`, `"time":9`, 1) + "\n" + ok0 + "\n", 2, "time 5 is before the previous event's time 9"},
		{"completion without invoke", ok0 + "\n", 1, "completes no open invoke"},
		{"two invokes open", inv0 + "\n" + strings.Replace(inv0, `"index":0`, `"index":1`, 1) + "\n", 2, "still open"},
		{"f mismatch", inv0 + "\n" + strings.Replace(ok0, `"f":"write"`, `"f":"read"`, 1) + "\n", 2, "f must match"},
		{"negative index", strings.Replace(inv0, `"index":0`, `"index":-1`, 1) + "\n", 1, "index -1 is negative"},
		{"negative index after others", inv0 + "\n" + strings.Replace(ok0, `"index":1`, `"index":-5`, 1) + "\n", 2, "index -5 is negative"},
		{"final on the invoke only", strings.Replace(inv0, `"value":1`, `"value":1,"final":true`, 1) + "\n" + ok0 + "\n", 2, "final must match"},
		{"final on the completion only", inv0 + "\n" + strings.Replace(ok0, `"value":1`, `"value":1,"final":true`, 1) + "\n", 2, "final must match"},
		{"final false on the invoke, true on the info", strings.Replace(inv0, `"value":1`, `"value":1,"final":false`, 1) + "\n" + strings.Replace(ok0, `"type":"ok","f":"write","key":"x","value":1`, `"type":"info","f":"write","key":"x","value":1,"final":true`, 1) + "\n", 2, "final must match"},
		{"byte-order mark", "\ufeff" + inv0 + "\n" + ok0 + "\n", 1, "starts with a UTF-8 byte-order mark: save the file without it"},
		// A one-line file is its own last line: the mark must not pass for a torn write.
		{"byte-order mark, no newline", "\ufeff" + inv0, 1, "starts with a UTF-8 byte-order mark"},
		{"byte-order mark mid-file", inv0 + "\n\ufeff" + ok0 + "\n", 2, "starts with a UTF-8 byte-order mark"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := history.Read(strings.NewReader(tc.input))
			require.Error(t, err)
			var le *history.LineError
			require.True(t, errors.As(err, &le), "%T", err)
			assert.Equal(t, tc.line, le.Line)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestReadTornLastLineAndBlankLines(t *testing.T) {
	input := inv0 + "\n\n   \n" + ok0 + "\n" + `{"index":2,"time":7,"proc`
	res, err := history.Read(strings.NewReader(input))
	require.NoError(t, err)
	require.Len(t, res.Events, 2)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "line 5")
	assert.Contains(t, res.Warnings[0], "torn last line")

	// A complete but wrong last line is an error, not a torn write.
	_, err = history.Read(strings.NewReader(inv0 + "\n" + strings.Replace(ok0, `"ok"`, `"done"`, 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")

	// A complete last line without a newline is kept.
	res, err = history.Read(strings.NewReader(inv0 + "\n" + ok0))
	require.NoError(t, err)
	assert.Len(t, res.Events, 2)
	assert.Empty(t, res.Warnings)
}

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(inv0+"\nbad\n"), 0o644))
	_, err := history.ReadFile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+":2: not a JSON object")

	_, err = history.ReadFile(filepath.Join(t.TempDir(), "missing.jsonl"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestRecorderRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r, err := history.NewRecorder(path)
	require.NoError(t, err)
	in := []history.Event{
		{Process: 0, Type: history.Invoke, F: "write", Key: "x", Value: history.IntValue(1)},
		{Process: history.NemesisProcess, Type: history.Info, F: "start-partition", Value: history.MustValue([]string{"n1"})},
		{Process: 0, Type: history.OK, F: "write", Key: "x", Value: history.IntValue(1)},
		{Process: 1, Type: history.Invoke, F: "read", Key: "x", Final: true},
		{Process: 1, Type: history.Info, F: "read", Key: "x", Error: "timeout", Final: true},
	}
	for _, e := range in {
		_, err := r.Record(e)
		require.NoError(t, err)
	}
	require.NoError(t, r.Close())
	_, err = r.Record(in[0])
	require.ErrorIs(t, err, history.ErrRecorderClosed)

	res, err := history.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, res.Events, len(in))
	for i, e := range res.Events {
		assert.Equal(t, int64(i), e.Index)
		assert.Equal(t, in[i].F, e.F)
		assert.Equal(t, in[i].Final, e.Final)
		assert.Equal(t, history.Canonical(in[i].Value), history.Canonical(e.Value))
	}
	ops := history.Pair(res.Events)
	require.Len(t, ops, 2)
	assert.Equal(t, history.OK, ops[0].Type)
	assert.Equal(t, history.Info, ops[1].Type)
	assert.Equal(t, history.Never, ops[1].Return)
	faults := history.Faults(res.Events)
	require.Len(t, faults, 1)
	assert.Equal(t, "partition", faults[0].Name)
	assert.Equal(t, res.Events[len(res.Events)-1].Time, faults[0].Stop, "a fault never stopped lasts to the end")
}

// A nemesis event of type fail changed nothing: a failed start opens no
// interval, a failed stop closes none.
func TestFaultsSkipFailedNemesisEvents(t *testing.T) {
	nem := func(at int64, typ history.Type, f string) history.Event {
		return history.Event{Time: at, Process: history.NemesisProcess, Type: typ, F: f, Value: history.MustValue(map[string]any{})}
	}
	faults := history.Faults([]history.Event{
		nem(1, history.Fail, "start-pause"),
		nem(2, history.Info, "start-kill"),
		nem(3, history.Fail, "stop-kill"),
		nem(4, history.Info, "stop-kill"),
		nem(5, history.Info, "start-pause"),
		nem(6, history.Info, "stop-pause"),
	})
	require.Len(t, faults, 2)
	assert.Equal(t, history.Fault{Name: "kill", Start: 2, Stop: 4, StartValue: faults[0].StartValue, StopValue: faults[0].StopValue}, faults[0])
	assert.Equal(t, "pause", faults[1].Name)
	assert.Equal(t, int64(5), faults[1].Start)
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(inv0 + "\n" + ok0 + "\n"))
	f.Add([]byte(inv0 + "\n" + `{"index":1,"time":1,"process":-1,"type":"info","f":"start-kill","value":["n1"]}` + "\n" + ok0))
	f.Add([]byte(`{"index":0,"time":0,"process":0,"type":"invoke","f":"cas","key":"x","value":[1,2]}` + "\n" + `{"index":1,"time":1,"process":0,"type":"fail","f":"cas","key":"x","value":[1,2],"error":"mismatch"}`))
	f.Add([]byte("\n\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := history.Read(bytes.NewReader(data))
		if err != nil {
			var le *history.LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		open := map[int]bool{}
		for i, e := range res.Events {
			if i > 0 && (e.Index <= res.Events[i-1].Index || e.Time < res.Events[i-1].Time) {
				t.Fatalf("event %d out of order", i)
			}
			if !e.Type.Valid() || e.F == "" || e.Process < history.NemesisProcess {
				t.Fatalf("invalid event accepted: %+v", e)
			}
			if e.IsNemesis() {
				continue
			}
			if e.Type == history.Invoke {
				if open[e.Process] {
					t.Fatalf("two open invokes accepted")
				}
				open[e.Process] = true
			} else {
				if !open[e.Process] {
					t.Fatalf("completion without invoke accepted")
				}
				delete(open, e.Process)
			}
		}
		// What Read accepts, written back out, reads back the same.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, e := range res.Events {
			if err := enc.Encode(e); err != nil {
				t.Fatalf("encode: %v", err)
			}
		}
		again, err := history.Read(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(again.Events) != len(res.Events) {
			t.Fatalf("re-read %d events, want %d", len(again.Events), len(res.Events))
		}
		for i := range again.Events {
			if history.Canonical(again.Events[i].Value) != history.Canonical(res.Events[i].Value) {
				t.Fatalf("value %d changed", i)
			}
		}
		history.Pair(res.Events)
		history.Faults(res.Events)
	})
}

// Lines longer than the reader's buffer (a nemesis value, a set read)
// read whole, on either path of the line parser.
func TestReadLongLines(t *testing.T) {
	big := strings.Repeat("x", 300_000)
	for _, value := range []string{`"` + big + `"`, `"` + big + `\u0026"`} {
		input := inv0 + "\n" + `{"index":1,"time":1,"process":-1,"type":"info","f":"start-kill","value":` + value + "}\n" + strings.Replace(ok0, `"index":1`, `"index":2`, 1)
		res, err := history.Read(strings.NewReader(input))
		require.NoError(t, err)
		require.Len(t, res.Events, 3)
		assert.Len(t, res.Events[1].Value, len(value))
		assert.Equal(t, int64(2), res.Events[2].Index)
	}
}

// A line must mean one thing to every reader: a name given twice, a name
// that is a field's only without regard to case, invalid UTF-8 and lone
// surrogate escapes are errors naming the line, in the line's fields and
// inside its value alike (encoding/json alone keeps the last duplicate,
// folds case and turns both kinds of bad string into U+FFFD, so that
// different keys and values read as one). Each invalid line has a valid
// counterpart that differs only in what is wrong.
func TestReadRejectsAmbiguousJSON(t *testing.T) {
	// line is the ok of a read of key "k" (or key, as JSON), completing
	// the invoke on the first line, with the given fields after index,
	// time and process.
	line := func(rest string) string { return `{"index":1,"time":1,"process":0,` + rest + "}" }
	cases := []struct {
		name, key, second string
		want              string // "" = valid
	}{
		{"plain", "", line(`"type":"ok","f":"read","key":"k","value":1`), ""},
		{"duplicate value", "", line(`"type":"ok","f":"read","key":"k","value":1,"value":2`), `duplicate object member name "value"`},
		{"duplicate type", "", line(`"type":"ok","f":"read","key":"k","value":1,"type":"fail"`), `duplicate object member name "type"`},
		{"duplicate spelled with an escape", "", line(`"type":"ok","f":"read","key":"k","value":1,"\u0076alue":2`), `duplicate object member name "value"`},
		{"name in another case", "", line(`"type":"ok","f":"read","key":"k","value":1,"Value":2`), `field "Value" is not "value"`},
		{"only the other case", "", line(`"TYPE":"ok","type":"ok","f":"read","key":"k","value":1`), `field "TYPE" is not "type"`},
		{"unknown field kept ignored", "", line(`"type":"ok","f":"read","key":"k","value":1,"values":2`), ""},
		{"value object with distinct names", "", line(`"type":"ok","f":"read","key":"k","value":{"a":1,"A":2}`), ""},
		{"value object with a duplicate name", "", line(`"type":"ok","f":"read","key":"k","value":{"a":1,"a":2}`), `duplicate object member name "a"`},
		{"surrogate pair", `"k\ud83d\ude00"`, line(`"type":"ok","f":"read","key":"k\ud83d\ude00","value":1`), ""},
		{"lone surrogate in key", `"k\ud83d\ude00"`, line(`"type":"ok","f":"read","key":"k\ud800","value":1`), "invalid surrogate pair"},
		{"lone surrogate in value", "", line(`"type":"ok","f":"read","key":"k","value":"\udc00"`), "invalid surrogate pair"},
		{"UTF-8 in value", "", line(`"type":"ok","f":"read","key":"k","value":"aé"`), ""},
		{"invalid UTF-8 in value", "", line("\"type\":\"ok\",\"f\":\"read\",\"key\":\"k\",\"value\":\"a\xff\""), "invalid UTF-8"},
		{"invalid UTF-8 in error", "", line("\"type\":\"fail\",\"f\":\"read\",\"key\":\"k\",\"error\":\"a\xff\""), "invalid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == "" {
				key = `"k"`
			}
			first := `{"index":0,"time":0,"process":0,"type":"invoke","f":"read","key":` + key + `,"value":null}`
			for _, newline := range []string{"\n", ""} { // torn-line rules do not excuse it
				res, err := history.Read(strings.NewReader(first + "\n" + tc.second + newline))
				if tc.want == "" {
					require.NoError(t, err)
					require.Len(t, res.Events, 2)
					continue
				}
				require.Error(t, err)
				var le *history.LineError
				require.True(t, errors.As(err, &le), "%T", err)
				assert.Equal(t, 2, le.Line)
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}

// A completion acts on its invoke's key, and an ok write or cas did what
// its invoke says: a completion that says otherwise is an error naming
// its line, as one of another f is (else the op would be checked on one
// key while acting on another, or the completion's value silently
// ignored where Knossos would take it).
func TestReadCompletionMustMatchInvoke(t *testing.T) {
	ev := func(index int, typ, f, key, value string) string {
		return `{"index":` + strconv.Itoa(index) + `,"time":` + strconv.Itoa(index) + `,"process":0,"type":"` + typ + `","f":"` + f + `","key":"` + key + `","value":` + value + "}\n"
	}
	cases := []struct {
		name, in string
		want     string // "" = valid
	}{
		{"read on its key", ev(0, "invoke", "read", "x", "null") + ev(1, "ok", "read", "x", "1"), ""},
		{"read completed on another key", ev(0, "invoke", "read", "y", "null") + ev(1, "ok", "read", "x", "1"), `ok of read by process 0 is on key "x", its invoke (index 0) on key "y": key must match`},
		{"info on another key", ev(0, "invoke", "write", "y", "1") + ev(1, "info", "write", "x", "1"), `key must match`},
		{"write ok repeating its value", ev(0, "invoke", "write", "x", "1") + ev(1, "ok", "write", "x", "1"), ""},
		{"write ok with the value spelled otherwise", ev(0, "invoke", "write", "x", `"\u0026"`) + ev(1, "ok", "write", "x", ` "&"`), ""},
		{"write ok with another value", ev(0, "invoke", "write", "x", "1") + ev(1, "ok", "write", "x", "2"), "ok of write by process 0 has value 2, its invoke (index 0) 1"},
		{"write ok with null", ev(0, "invoke", "write", "x", "1") + ev(1, "ok", "write", "x", "null"), "has value null"},
		{"cas ok with another value", ev(0, "invoke", "cas", "x", "[1,2]") + ev(1, "ok", "cas", "x", "[1,3]"), "ok of cas by process 0 has value [1,3]"},
		{"cas ok repeating its value", ev(0, "invoke", "cas", "x", "[1,2]") + ev(1, "ok", "cas", "x", "[1, 2]"), ""},
		// A failed or unknown write did nothing that its value could
		// tell, and Knossos takes only an ok's value.
		{"write info with another value", ev(0, "invoke", "write", "x", "1") + ev(1, "info", "write", "x", "null"), ""},
		{"write fail with another value", ev(0, "invoke", "write", "x", "1") + ev(1, "fail", "write", "x", "2"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := history.Read(strings.NewReader(tc.in))
			if tc.want == "" {
				require.NoError(t, err)
				require.Len(t, res.Events, 2)
				return
			}
			require.Error(t, err)
			var le *history.LineError
			require.True(t, errors.As(err, &le), "%T", err)
			assert.Equal(t, 2, le.Line)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
