package results

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

func TestSamplePoints(t *testing.T) {
	mk := func(n, bad int) []latPoint {
		pts := make([]latPoint, n)
		for i := range pts {
			pts[i] = latPoint{T: float64(i), Lat: float64(i%97) + 1, Typ: history.OK}
			if i%(n/max(bad, 1)+1) == 0 && bad > 0 {
				pts[i].Typ = history.Fail
			}
		}
		pts[n/2].Lat = 1e6 // one outlier that must survive sampling
		pts[n/2].Typ = history.OK
		return pts
	}
	cases := []struct {
		name     string
		n, bad   int
		limit    int
		wantAll  bool // every point kept
		keepsBad bool // every non-ok kept
	}{
		{"under the limit", 500, 10, 1000, true, true},
		{"at the limit", 1000, 10, 1000, true, true},
		{"over, few failures", 50000, 300, 2000, false, true},
		{"over, failures exceed half", 50000, 20000, 2000, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pts := mk(tc.n, tc.bad)
			got := samplePoints(pts, tc.limit)
			require.LessOrEqual(t, len(got), tc.limit)
			if tc.wantAll {
				require.Len(t, got, len(pts))
				return
			}
			for i := 1; i < len(got); i++ {
				require.Less(t, got[i-1].T, got[i].T, "time order, no duplicates")
			}
			var bad, wantBad int
			for _, p := range pts {
				if p.Typ != history.OK {
					wantBad++
				}
			}
			outlier := false
			for _, p := range got {
				if p.Typ != history.OK {
					bad++
				}
				outlier = outlier || p.Lat == 1e6
			}
			assert.True(t, outlier, "the slowest op is always drawn")
			if tc.keepsBad {
				assert.Equal(t, wantBad, bad, "every fail and info is drawn")
			} else {
				assert.Equal(t, tc.limit/2, bad, "failures take at most half the budget")
			}
			assert.Greater(t, len(got), tc.limit*9/10, "the budget is used")
			assert.Equal(t, got, samplePoints(pts, tc.limit), "deterministic")
		})
	}
}

func TestBucketWidth(t *testing.T) {
	for _, tc := range []struct {
		end, want float64
	}{{0.1, 0.001}, {10, 0.1}, {60, 0.5}, {300, 2}, {3600, 30}, {1e6, 7200}} {
		assert.Equal(t, tc.want, bucketWidth(tc.end), "run of %gs", tc.end)
	}
}

func TestThroughput(t *testing.T) {
	pts := []donePoint{
		{T: 0.1, F: "read", Outcome: outOK}, {T: 0.2, F: "write", Outcome: outOK},
		{T: 0.6, F: "cas", Outcome: outMismatch}, {T: 0.7, F: "cas", Outcome: outError},
		{T: 1.5, F: "read", Outcome: outInfo}, {T: 1.7, F: "read", Outcome: outOK}, {T: 9.9, F: "read", Outcome: outOK},
	}
	s := throughput(pts, 2, 0.5)
	var names []string
	for _, r := range s {
		names = append(names, r.F+"/"+r.Outcome)
	}
	assert.Equal(t, []string{"read/ok", "write/ok", "/mismatch", "/error", "/info"}, names, "oks by op type, then the other outcomes of all ops")
	assert.Equal(t, []float64{2, 0, 0, 2, 0}, s[0].Rates, "read oks per second; 9.9 is past the end")
	assert.Equal(t, []float64{2, 0, 0, 0, 0}, s[1].Rates)
	assert.Equal(t, []float64{0, 2, 0, 0, 0}, s[2].Rates, "a mismatch is not an error")
	assert.Equal(t, []float64{0, 2, 0, 0, 0}, s[3].Rates)
	assert.Equal(t, []float64{0, 0, 0, 2, 0}, s[4].Rates)
}

func TestSelectLinKeys(t *testing.T) {
	var ops []history.Op
	add := func(key, f string, n int) {
		for i := 0; i < n; i++ {
			ops = append(ops, history.Op{Key: key, F: f})
		}
	}
	add("a", history.FRead, 30)
	add("b", history.FWrite, 50)
	add("c", history.FCAS, 20)
	add("d", history.FRead, 500)
	add("s", history.FAdd, 1000) // not a register op
	cases := []struct {
		name      string
		failed    []string
		anomalyAt map[string]int64
		budget    int
		maxFailed int
		wantKeys  []string
		wantOps   int
		// wantFailed of wantFailedTotal failed keys are drawn.
		wantFailed, wantFailedTotal int
	}{
		{"all fit", nil, nil, 1000, 20, []string{"a", "b", "c", "d"}, 600, 0, 0},
		{"budget skips a big key, keeps smaller later ones", nil, nil, 100, 20, []string{"a", "b", "c"}, 100, 0, 0},
		{"failed key first even over budget", []string{"d"}, nil, 100, 20, []string{"d"}, 500, 1, 1},
		{"failed then others that fit", []string{"c"}, nil, 60, 20, []string{"c", "a"}, 50, 1, 1},
		{"unknown failed key ignored", []string{"zz"}, nil, 40, 20, []string{"a"}, 30, 0, 0},
		{"within the cap the failed keys keep their order", []string{"d", "c", "c"}, map[string]int64{"c": 1}, 520, 2, []string{"d", "c"}, 520, 2, 2},
		{"over the cap: anomalies first, earliest first", []string{"a", "b", "c", "d"}, map[string]int64{"d": 7, "c": 3}, 600, 2, []string{"c", "d"}, 520, 2, 4},
		{"over the cap: then by first operation", []string{"d", "b", "a"}, map[string]int64{"d": 7}, 600, 2, []string{"d", "a", "c"}, 550, 2, 3},
		{"undrawn failed keys are not drawn as others", []string{"b", "a", "c"}, nil, 1000, 1, []string{"a", "d"}, 530, 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sel := selectLinKeys(ops, tc.failed, tc.anomalyAt, tc.budget, tc.maxFailed)
			assert.Equal(t, tc.wantKeys, sel.Keys)
			assert.Equal(t, tc.wantOps, sel.Ops)
			assert.Equal(t, tc.wantFailed, sel.Failed)
			assert.Equal(t, tc.wantFailedTotal, sel.FailedTotal)
			assert.Equal(t, 600, sel.TotalOps)
			assert.Equal(t, 4, sel.TotalKeys)
		})
	}
}

func TestAnomalyAt(t *testing.T) {
	s := &checkers.Summary{Results: []checkers.Result{
		{Checker: "set", Anomalies: []checkers.Anomaly{{Keys: []string{"a"}, Ops: []int64{1}}}},
		{Checker: "linearizable", Anomalies: []checkers.Anomaly{
			{Keys: []string{"a"}, Ops: []int64{40, 9}},
			{Keys: []string{"a", "b"}, Ops: []int64{12}},
			{Keys: []string{"c"}}, // no ops: no time
		}},
	}}
	assert.Equal(t, map[string]int64{"a": 9, "b": 12}, anomalyAt(s))
	assert.Empty(t, anomalyAt(nil))
}

func TestKeepKeys(t *testing.T) {
	ev := func(p int, typ history.Type, f, key string) history.Event {
		return history.Event{Process: p, Type: typ, F: f, Key: key}
	}
	events := []history.Event{
		ev(0, history.Invoke, "read", "a"),
		ev(1, history.Invoke, "write", "b"),
		ev(-1, history.Info, "start-partition", ""),
		ev(0, history.OK, "read", ""), // a completion without its key stays with its invoke
		ev(1, history.OK, "write", "b"),
		ev(1, history.Invoke, "read", "a"),
		ev(1, history.Info, "read", "a"),
		ev(-1, history.Info, "stop-partition", ""),
	}
	got := keepKeys(events, []string{"a"})
	var fs []string
	for _, e := range got {
		fs = append(fs, fmt.Sprintf("%d:%s:%s", e.Process, e.Type, e.F))
	}
	assert.Equal(t, []string{"0:invoke:read", "-1:info:start-partition", "0:ok:read", "1:invoke:read", "1:info:read", "-1:info:stop-partition"}, fs)
}

// The index gathers for any keys exactly what a pass over the whole
// history does, so views cut from it are the same views.
func TestOpIndexKeepsWhatKeepKeysKeeps(t *testing.T) {
	ev := func(p int, typ history.Type, f, key string) history.Event {
		return history.Event{Process: p, Type: typ, F: f, Key: key}
	}
	edge := []history.Event{
		ev(0, history.OK, "read", "a"), // a completion with no invoke
		ev(0, history.Invoke, "read", "a"),
		ev(1, history.Invoke, "write", "b"),
		ev(-1, history.Info, "start-partition", ""),
		ev(0, history.OK, "read", ""),      // its key is its invoke's
		ev(1, history.Invoke, "read", "a"), // p1's write never completed
		ev(1, history.Info, "read", "b"),
		ev(2, history.Invoke, "cas", "c"), // never completes
		ev(-1, history.Info, "stop-partition", ""),
	}
	for i := range edge {
		edge[i].Index = int64(i)
	}
	gen := genHistory(genOpts{Seed: 5, Procs: 7, Keys: []string{"a", "b", "c", "d", "e"}, Duration: 3 * time.Second,
		Faults: []genFault{{Name: "partition", Start: time.Second, Stop: 2 * time.Second}}})
	cases := []struct {
		name   string
		events []history.Event
		keys   [][]string
	}{
		{"edge cases", edge, [][]string{{"a"}, {"b"}, {"c"}, {"a", "b"}, {"a", "a"}, {"zz"}, nil}},
		{"generated", gen, [][]string{{"a"}, {"e"}, {"b", "d"}, {"a", "b", "c", "d", "e"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newOpIndex(tc.events)
			for _, keys := range tc.keys {
				assert.Equal(t, keepKeys(tc.events, keys), x.keep(keys...), "keys %v", keys)
				want, limits := map[string]bool{}, map[string]int64{}
				for _, k := range keys {
					want[k] = true
					limits[k] = int64(len(tc.events) / 2)
				}
				assert.Equal(t, cutView(tc.events, want, limits), cutView(x.keep(keys...), want, limits), "cut keys %v", keys)
			}
		})
	}
}

func TestTimelineIsBounded(t *testing.T) {
	events := genHistory(genOpts{Seed: 2, Procs: 6, Keys: []string{"a", "b"}, Duration: 4 * time.Second,
		Faults: []genFault{{Name: "pause", Start: 2 * time.Second, Stop: 3 * time.Second}}})
	tab := newOpTable(events)
	faults := history.Faults(events)
	require.Greater(t, len(tab.ops), 2000)

	t.Run("around the first fault", func(t *testing.T) {
		v := buildTimeline(tab, faults, map[int64]bool{}, 300)
		require.Len(t, v.Ops, 300)
		assert.Contains(t, v.Note, "around the first fault")
		assert.Len(t, v.Columns, 6)
		require.NotEmpty(t, v.Bands, "the fault is shaded")
		assert.LessOrEqual(t, v.Height, tlMaxHeight+4)
		for _, o := range v.Ops {
			assert.GreaterOrEqual(t, o.Height, tlMinBox)
			assert.LessOrEqual(t, o.Top+o.Height, v.Height+tlMinBox)
		}
	})
	t.Run("around the first witness", func(t *testing.T) {
		w := tab.ops[len(tab.ops)-10].InvokeIndex
		v := buildTimeline(tab, faults, map[int64]bool{w: true}, 300)
		require.Len(t, v.Ops, 300)
		assert.Contains(t, v.Note, "anomaly")
		n := 0
		for _, o := range v.Ops {
			if o.Witness {
				n++
			}
		}
		assert.Equal(t, 1, n, "the witness is in the window and outlined")
	})
	t.Run("short history whole", func(t *testing.T) {
		v := buildTimeline(tab, faults, nil, len(tab.ops))
		assert.Len(t, v.Ops, len(tab.ops))
		assert.Empty(t, v.Note)
	})
	t.Run("empty", func(t *testing.T) {
		v := buildTimeline(newOpTable(nil), nil, nil, 10)
		assert.Empty(t, v.Ops)
		assert.Contains(t, v.Note, "no client operations")
	})
}

func TestValueText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`null`, `null`},
		{` 12 `, `12`},
		{`[1, 2]`, `[1,2]`},
		{`"\u003cscript\u003e"`, `"<script>"`},
		{`{"b":"\u0026","a":12345678901234567890}`, `{"b":"&","a":12345678901234567890}`},
		{`"\u0022\n\u0001"`, `"\"\n\u0001"`},
	} {
		assert.Equal(t, tc.want, valueText([]byte(tc.in)), "value %s", tc.in)
	}
}

func TestCutView(t *testing.T) {
	ev := func(i int64, p int, typ history.Type, f, key string) history.Event {
		return history.Event{Index: i, Process: p, Type: typ, F: f, Key: key}
	}
	events := []history.Event{
		ev(0, 0, history.Invoke, "write", "a"),
		ev(1, 1, history.Invoke, "read", "a"),
		ev(2, 2, history.Invoke, "write", "b"),
		ev(3, 0, history.OK, "write", "a"),   // done before the cut
		ev(4, 3, history.Invoke, "cas", "a"), // in flight at the cut, ends ok: made info
		ev(5, 0, history.Invoke, "write", "a"),
		ev(6, 4, history.Invoke, "write", "a"), // the cut: invoked at index 6 and after are left out
		ev(7, 1, history.OK, "read", "a"),      // in flight read: left out
		ev(8, 3, history.OK, "cas", "a"),
		ev(9, 0, history.Fail, "write", "a"), // in flight, failed: left out
		ev(10, 2, history.OK, "write", "b"),
		ev(11, -1, history.Info, "start-kill", ""),
		ev(12, 4, history.OK, "write", "a"),
	}
	got := cutView(events, map[string]bool{"a": true}, map[string]int64{"a": 6})
	var s []string
	for _, e := range got {
		s = append(s, fmt.Sprintf("%d:%s", e.Index, e.Type))
	}
	assert.Equal(t, []string{"0:invoke", "3:ok", "4:invoke", "8:info", "11:info"}, s)
	assert.Equal(t, "still running where the view was cut", got[3].Error)
	whole := cutView(events, map[string]bool{"a": true, "b": true}, nil)
	assert.Len(t, whole, len(events), "no limit: every op of the wanted keys")
}
