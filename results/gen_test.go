package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// genOpts describes a synthetic run: client processes doing reads, writes
// and cas on a few registers, with latencies that grow during faults, some
// fail and info outcomes, nemesis start/stop events and final reads.
type genOpts struct {
	Seed     uint64
	Procs    int
	Keys     []string
	Duration time.Duration
	// MeanLatency is the mean latency outside faults.
	MeanLatency time.Duration
	// Faults are the nemesis's faults: name, start, stop.
	Faults []genFault
	// StaleRead makes one read, after the first fault, return the value
	// its key held before the latest write: a linearizability violation.
	StaleRead bool
	// Value, when set, is written instead of integers (a string value).
	Value string
}

type genFault struct {
	Name        string
	Start, Stop time.Duration
	Value       json.RawMessage
}

type genOp struct {
	proc      int
	f, key    string
	input     json.RawMessage
	output    json.RawMessage
	typ       history.Type
	err       string
	call, ret int64 // ret: completion time
	lin       int64 // when it takes effect
	applies   bool  // info ops that take effect
	final     bool
	node      string
}

// genHistory builds a valid history; see genHistoryStale.
func genHistory(o genOpts) []history.Event {
	events, _ := genHistoryStale(o)
	return events
}

// genHistoryStale builds a valid history (as history.Read would accept). Unless
// StaleRead is set it is linearizable: every op takes effect at one instant
// between its call and return, in a register per key.
// It also returns the invoke index of the stale read (-1 if none).
func genHistoryStale(o genOpts) ([]history.Event, int64) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if o.MeanLatency == 0 {
		o.MeanLatency = 4 * time.Millisecond
	}
	inFault := func(t int64) bool {
		for _, f := range o.Faults {
			if t >= int64(f.Start) && t < int64(f.Stop) {
				return true
			}
		}
		return false
	}
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	var ops []*genOp
	next := 0 // value counter for writes
	for p := 0; p < o.Procs; p++ {
		t := int64(rng.IntN(int(time.Millisecond)))
		for t < int64(o.Duration) {
			op := &genOp{proc: p, key: o.Keys[rng.IntN(len(o.Keys))], call: t, node: nodes[p%len(nodes)], applies: true}
			lat := int64(rng.ExpFloat64()*float64(o.MeanLatency)) + int64(200*time.Microsecond)
			op.typ = history.OK
			if inFault(t) {
				lat *= 8
				switch r := rng.Float64(); {
				case r < 0.15:
					op.typ, op.err, op.applies = history.Fail, "unavailable: no leader", false
				case r < 0.25:
					op.typ, op.err, op.applies = history.Info, "timeout", rng.IntN(2) == 0
					lat = int64(500 * time.Millisecond)
				}
			} else if rng.Float64() < 0.002 {
				op.typ, op.err, op.applies = history.Info, "connection reset", rng.IntN(2) == 0
			}
			switch r := rng.Float64(); {
			case r < 0.5:
				op.f, op.input = history.FRead, history.Null
				if op.typ == history.Info {
					op.applies = false
				}
			case r < 0.85:
				next++
				op.f, op.input = history.FWrite, genValue(o, next)
			default:
				next++
				op.f = history.FCAS
				op.input = json.RawMessage(fmt.Sprintf("[%s,%s]", genValue(o, rng.IntN(next+1)), genValue(o, next)))
			}
			op.ret = t + lat
			op.lin = t + int64(rng.Float64()*float64(lat))
			ops = append(ops, op)
			t = op.ret + int64(rng.IntN(int(time.Millisecond)))
		}
	}
	// Final reads: every key from every node after the run, sequentially.
	end := int64(o.Duration) + int64(time.Second)
	for i, k := range o.Keys {
		p := i % o.Procs
		op := &genOp{proc: p, f: history.FRead, key: k, input: history.Null, typ: history.OK, final: true,
			call: end + int64(i)*int64(10*time.Millisecond), node: nodes[i%len(nodes)], applies: true}
		op.ret = op.call + int64(time.Millisecond)
		op.lin = op.call + int64(500*time.Microsecond)
		ops = append(ops, op)
	}
	// Apply in linearization order. Each key remembers the op that set
	// its value and the one before, to inject a read that is certainly
	// stale: both writes ok, the older one complete before the newer
	// began, the newer complete before the read began.
	order := append([]*genOp(nil), ops...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].lin < order[j].lin })
	type reg struct {
		val, prevVal       json.RawMessage
		setter, prevSetter *genOp
	}
	regs := map[string]*reg{}
	var stale *genOp
	for _, op := range order {
		r := regs[op.key]
		if r == nil {
			r = &reg{val: history.Null}
			regs[op.key] = r
		}
		set := func(v json.RawMessage) {
			r.prevVal, r.prevSetter = r.val, r.setter
			r.val, r.setter = v, op
		}
		switch op.f {
		case history.FRead:
			if op.typ == history.OK {
				op.output = r.val
				if o.StaleRead && stale == nil && !op.final && len(o.Faults) > 0 && op.call > int64(o.Faults[0].Start) &&
					r.setter != nil && r.prevSetter != nil && r.setter.typ == history.OK && r.prevSetter.typ == history.OK &&
					r.prevSetter.ret < r.setter.call && r.setter.ret < op.call {
					op.output = r.prevVal
					stale = op
				}
			}
		case history.FWrite:
			if op.applies {
				set(op.input)
			}
		case history.FCAS:
			exp, nw, _ := history.SplitCAS(op.input)
			matches := history.Canonical(exp) == history.Canonical(r.val)
			if op.typ == history.OK && !matches {
				op.typ, op.err = history.Fail, history.ErrorMismatch
			} else if op.applies && matches {
				set(nw)
			}
		}
	}
	// Events.
	var events []history.Event
	for _, op := range ops {
		events = append(events, history.Event{Time: op.call, Process: op.proc, Type: history.Invoke, F: op.f, Key: op.key, Value: op.input, Node: op.node, Final: op.final})
		v := op.output
		if op.f != history.FRead || op.typ != history.OK {
			v = op.input
			if op.f == history.FRead {
				v = history.Null
			}
		}
		events = append(events, history.Event{Time: op.ret, Process: op.proc, Type: op.typ, F: op.f, Key: op.key, Value: v, Node: op.node, Error: op.err, Final: op.final})
	}
	for _, f := range o.Faults {
		v := f.Value
		if v == nil {
			v = history.MustValue(map[string]any{"nodes": []string{"n1", "n2"}})
		}
		events = append(events,
			history.Event{Time: int64(f.Start), Process: history.NemesisProcess, Type: history.Info, F: "start-" + f.Name, Value: v},
			history.Event{Time: int64(f.Stop), Process: history.NemesisProcess, Type: history.Info, F: "stop-" + f.Name, Value: history.Null})
	}
	// Invokes before completions at equal times keep processes sequential.
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].Time != events[j].Time {
			return events[i].Time < events[j].Time
		}
		return events[i].Type == history.Invoke && events[j].Type != history.Invoke
	})
	staleIndex := int64(-1)
	for i := range events {
		events[i].Index = int64(i)
		e := events[i]
		if stale != nil && e.Type == history.Invoke && e.Process == stale.proc && e.Time == stale.call {
			staleIndex = e.Index
		}
	}
	return events, staleIndex
}

func genValue(o genOpts, n int) json.RawMessage {
	if o.Value != "" {
		return history.MustValue(fmt.Sprintf("%s%d", o.Value, n))
	}
	return history.IntValue(int64(n))
}

// writeHistory writes events as history.jsonl.
func writeHistory(tb testing.TB, path string, events []history.Event) {
	tb.Helper()
	f, err := os.Create(path)
	require.NoError(tb, err)
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		require.NoError(tb, enc.Encode(e))
	}
	require.NoError(tb, w.Flush())
	require.NoError(tb, f.Close())
}

// genRun writes a run directory like the harness leaves: history.jsonl,
// test.json, results.json (when summary is not nil) and node logs.
func genRun(tb testing.TB, dir string, o genOpts, test map[string]any, summary *checkers.Summary) []history.Event {
	tb.Helper()
	require.NoError(tb, os.MkdirAll(filepath.Join(dir, NodesDir), 0o755))
	events := genHistory(o)
	writeRun(tb, dir, events, test, summary)
	return events
}

// writeRun writes a run directory holding events.
func writeRun(tb testing.TB, dir string, events []history.Event, test map[string]any, summary *checkers.Summary) {
	tb.Helper()
	require.NoError(tb, os.MkdirAll(filepath.Join(dir, NodesDir), 0o755))
	writeHistory(tb, filepath.Join(dir, HistoryFile), events)
	if test != nil {
		b, err := json.MarshalIndent(test, "", "  ")
		require.NoError(tb, err)
		require.NoError(tb, os.WriteFile(filepath.Join(dir, TestFile), b, 0o644))
	}
	if summary != nil {
		b, err := json.MarshalIndent(summary, "", "  ")
		require.NoError(tb, err)
		require.NoError(tb, os.WriteFile(filepath.Join(dir, ResultsFile), b, 0o644))
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		require.NoError(tb, os.WriteFile(filepath.Join(dir, NodesDir, n+".log"), []byte("time=... level=INFO msg=started node="+n+"\n"), 0o644))
	}
}

// testOptions is a test.json like the harness writes.
func testOptions(name string, seed int64) map[string]any {
	return map[string]any{
		"name": name, "mode": "strong", "model": "linearizable", "promised": "linearizable", "workload": "kv", "nemesis": []string{"partition", "kill"},
		"nodes": 5, "concurrency": 10, "rate": 0, "time_limit": "10s", "seed": seed,
		"backend": "local", "checkers": []string{"linearizable"},
		"start_time":        time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC).Format(time.RFC3339),
		"some_future_field": map[string]any{"x": 1},
	}
}

// findOp returns the first op of events that pred accepts.
func findOp(events []history.Event, pred func(history.Op) bool) (history.Op, bool) {
	for _, op := range history.Pair(events) {
		if pred(op) {
			return op, true
		}
	}
	return history.Op{}, false
}

func TestGenHistoryIsValidHistory(t *testing.T) {
	events := genHistory(genOpts{Seed: 1, Procs: 5, Keys: []string{"a", "b"}, Duration: 2 * time.Second,
		Faults: []genFault{{Name: "partition", Start: 500 * time.Millisecond, Stop: time.Second}}})
	path := filepath.Join(t.TempDir(), HistoryFile)
	writeHistory(t, path, events)
	res, err := history.ReadFile(path)
	require.NoError(t, err, "the generator must write histories the contract accepts")
	require.Len(t, res.Events, len(events))
	require.Empty(t, res.Warnings)
	ops := history.Pair(res.Events)
	var fails, infos, finals int
	for _, op := range ops {
		switch op.Type {
		case history.Fail:
			fails++
		case history.Info:
			infos++
		}
		if op.Final {
			finals++
		}
	}
	require.Positive(t, fails)
	require.Positive(t, infos)
	require.Equal(t, 2, finals)
	require.Len(t, history.Faults(res.Events), 1)
	require.Greater(t, len(ops), 1000)
}
