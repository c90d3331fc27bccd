package results

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

func TestFaultWords(t *testing.T) {
	all := []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		name, fault string
		value       any
		nodes       []string
		words       string
		short       string
	}{
		{"isolate one", "partition", map[string]any{"topology": "one", "grudge": map[string][]string{"n3": {"n1", "n2"}, "n1": {"n3"}, "n2": {"n3"}}}, all,
			"n3 cut off from n1 and n2 (one)", "n3 cut off"},
		{"halves of five", "partition", map[string]any{"grudge": map[string][]string{"n1": {"n3", "n4", "n5"}, "n2": {"n3", "n4", "n5"}, "n3": {"n1", "n2"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"}}}, nil,
			"n1 and n2 cut off from n3, n4 and n5", "n1 and n2 cut off"},
		{"bridge: the bridge node is in no grudge", "partition", map[string]any{"topology": "bridge", "grudge": map[string][]string{"n1": {"n2"}, "n2": {"n1"}}}, all,
			"links cut both ways: n1–n2; n3 still reaches every node (bridge)", "cut n1–n2"},
		{"one-way", "partition", map[string]any{"grudge": map[string][]string{"n2": {"n1", "n3"}}}, all,
			"n2 drops packets from n1 and n3 (one-way)", "n2 deaf to n1,n3"},
		{"kill", "kill", map[string]any{"nodes": []string{"n2"}}, nil, "n2 killed", "n2"},
		{"pause two", "pause", map[string]any{"nodes": []string{"n1", "n3"}}, nil, "n1 and n3 paused", "n1 and n3"},
		{"clock", "clock", map[string]any{"nodes": []string{"n1"}, "offset_ms": -250}, nil, "n1's clock set -250 ms off", "n1 -250 ms"},
		{"unknown fault: its JSON", "flood", map[string]any{"x": 1}, nil, `{"x":1}`, ""},
		{"hostile node names stay text for the page to escape", "kill", map[string]any{"nodes": []string{"<b>n1</b>"}}, nil, "<b>n1</b> killed", "<b>n1</b>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.value)
			require.NoError(t, err)
			words, short := faultWords(history.Fault{Name: tc.fault, StartValue: raw}, tc.nodes)
			assert.Equal(t, tc.words, words)
			assert.Equal(t, tc.short, short)
		})
	}
}

func TestRelateToFaults(t *testing.T) {
	s := int64(time.Second)
	faults := describeFaults([]history.Fault{
		{Name: "partition", Start: 10 * s, Stop: 20 * s, StartValue: json.RawMessage(`{"grudge":{"n3":["n1","n2"],"n1":["n3"],"n2":["n3"]}}`)},
		{Name: "kill", Start: 30 * s, Stop: 35 * s, StartValue: json.RawMessage(`{"nodes":["n2"]}`)},
		{Name: "partition", Start: 40 * s, Stop: 45 * s},
	})
	assert.Equal(t, "partition #2", faults[2].Label())
	for _, tc := range []struct {
		name     string
		from, to int64
		want     string
	}{
		{"during", 11300 * int64(time.Millisecond), 12 * s, "X during partition #1, 1.3 s after it started: n3 cut off from n1 and n2."},
		{"between", 29500 * int64(time.Millisecond), 29500 * int64(time.Millisecond), "X while no fault was active: 500 ms before kill #1 started — n2 killed; and 9.5 s after partition #1 ended — n3 cut off from n1 and n2."},
		{"across a start", 39 * s, 41 * s, "X across the start of partition #2 (1.0 s before it)."},
		{"before all", 1 * s, 2 * s, "X while no fault was active: 8.0 s before partition #1 started — n3 cut off from n1 and n2."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, relateToFaults("X", tc.from, tc.to, faults))
		})
	}
	assert.Equal(t, "X; the run injected no fault.", relateToFaults("X", 0, 1, nil))
}

func TestAroundAMissingElement(t *testing.T) {
	out := json.RawMessage(`[9,1,2,3,4,5,7,8,10,11,12]`)
	assert.Equal(t, "… (2 before) 3, 4, 5, [6 missing], 7, 8, 9 … (3 after) — 11 elements", neighbourhood(out, "6"))
	assert.Equal(t, "[0 missing], 1, 2, 3 … (8 after) — 11 elements", neighbourhood(out, "0"))
	assert.Equal(t, "… (8 before) 10, 11, 12, [13 missing] — 11 elements", neighbourhood(out, "13"))
	assert.Equal(t, "contains 5 (11 elements)", neighbourhood(out, "5"))
	assert.Equal(t, `"x"`, neighbourhood(json.RawMessage(`"x"`), "5"), "not a set: shown as it is")
}

func TestCountedTotal(t *testing.T) {
	list := []checkers.Anomaly{{Name: "lost"}, {Name: "lost"}, {Name: "unexpected"}}
	assert.Equal(t, 47, checkers.Result{Anomalies: list, Counts: map[string]int{"lost": 44, "unexpected": 3, "acknowledged": 900}}.Total())
	assert.Equal(t, 3, checkers.Result{Anomalies: list}.Total(), "never fewer than listed")
	assert.Equal(t, 24, checkers.Result{Anomalies: []checkers.Anomaly{{Name: "nonlinearizable"}}, Counts: map[string]int{"keys-nonlinearizable": 24}}.Total())
}

func TestReadableNS(t *testing.T) {
	assert.Equal(t, "known present at 9.181s, but the read begun at 10.000s", readableNS("known present at 10181000000 ns, but the read begun at 11000000000 ns", 1e9))
	assert.Equal(t, "took 2.50ms", readableNS("took 2500000 ns", 1e9))
}

// staleKey is a register history with a stale read amid other ops: p9
// writes 40 after p4's 30 is acknowledged; p2 reads 30 after 40 is.
func staleKey() *checkertest.Builder {
	b := checkertest.New()
	for i := 0; i < 30; i++ { // noise before: reads of what was just written
		b.Write(i%3, "x", 1000+i).Read(3+i%3, "x", 1000+i)
	}
	b.Write(4, "x", 30).Write(9, "x", 40)
	for i := 0; i < 10; i++ {
		b.Read(5, "x", 40)
	}
	b.Read(2, "x", 30)
	for i := 0; i < 20; i++ {
		b.Write(6, "x", 2000+i).Read(7, "x", 2000+i)
	}
	return b
}

func TestMinimalWitness(t *testing.T) {
	events := staleKey().Events()
	lin, err := checkers.New("linearizable", checkers.Options{})
	require.NoError(t, err)
	res := lin.Check(context.Background(), events)
	require.Equal(t, checkers.Invalid, res.Valid)
	require.NotEmpty(t, res.Anomalies)

	ops, why := minimalWitness(context.Background(), events, "x", res.Anomalies[0].Ops, 10*time.Second)
	require.NotNil(t, ops, why)
	assert.LessOrEqual(t, len(ops), 4, "shrunk to a handful of ops: %v", ops)
	var sub []history.Event
	byIndex := map[int64]history.Event{}
	for _, e := range events {
		byIndex[e.Index] = e
	}
	var fs []string
	for _, o := range ops {
		sub = append(sub, byIndex[o.InvokeIndex], byIndex[o.CompleteIndex])
		fs = append(fs, o.F+" "+history.Canonical(o.Input)+" "+history.Canonical(o.Output))
	}
	assert.Equal(t, checkers.Invalid, lin.Check(context.Background(), sub).Valid, "the witness fails on its own")
	assert.Contains(t, fs, "write 40 40", "the conflicting write is in the witness: %v", fs)
	assert.Contains(t, fs, "read null 30")

	done := func(o history.Op) int64 { return o.Return }
	lines, reasons := witnessStory(ops, done, fmtTime)
	joined := ""
	for _, l := range append(lines, reasons...) {
		joined += l + "\n"
	}
	assert.Len(t, lines, len(ops), "one sentence per op")
	require.NotEmpty(t, reasons, "and why no order fits")
	assert.Contains(t, joined, "p9 wrote 40")
	assert.Contains(t, joined, "a value overwritten by 40 before it began", joined)
}

func TestMinimalWitnessIsSound(t *testing.T) {
	// A valid key where leaving out a far-away write would make a read
	// of its value look like a read of thin air: the closure keeps it,
	// so no sub-history fails.
	b := checkertest.New().Write(0, "x", 7)
	for i := 0; i < 40; i++ {
		b.Read(1+i%4, "x", 7)
	}
	b.CAS(0, "x", 7, 8).Read(2, "x", 8)
	b.Invoke(3, "cas", "x", []int{7, 9}).Fail(3, history.ErrorMismatch)
	ops, why := minimalWitness(context.Background(), b.Events(), "x", nil, 5*time.Second)
	assert.Nil(t, ops, "a linearizable key has no witness")
	assert.Contains(t, why, "no closed part")
}

func TestClusterMarks(t *testing.T) {
	marks := []timeMark{{At: 100, Label: "A1"}, {At: 105, Label: "A2"}, {At: 300, Label: "A3"}, {At: 102, Label: "A4"}, {At: 900, Label: "A5"}}
	got := clusterMarks(marks, 10)
	require.Len(t, got, 3)
	assert.Equal(t, int64(100), got[0].At)
	assert.Equal(t, "A1–A4", got[0].Label, "a burst is one mark, labelled by its lowest and highest number")
	assert.Equal(t, "A3", got[1].Label)
	assert.Equal(t, "A5", got[2].Label)
}
