package suites

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// lostUpdate is an acknowledged write that the final state lost to an
// earlier one: the final reads of Key agree on Final, written by a write
// acknowledged before Lost (also acknowledged) was invoked. In any order
// that respects real time Lost comes after Final's write, so a store that
// ends on Final dropped Lost. No checker of the consistency models flags
// it on its own — causal+ allows it (the two writes are concurrent), and
// linearizability is broken by eventual mode's stale reads anyway — so the
// LWW suite counts it here, with a control run that must have none.
type lostUpdate struct {
	Key         string
	Final, Lost string
	FinalWrite  history.Op
	LostWrite   history.Op
}

func (l lostUpdate) String() string {
	return fmt.Sprintf("%s: final value %s (write acked at %dns) but write of %s (invoked at %dns, ok) came later and was lost",
		l.Key, l.Final, l.FinalWrite.Return, l.Lost, l.LostWrite.Call)
}

// lostUpdates finds the lost updates of a register history whose written
// values are unique per key. Keys whose final reads disagree, or read a
// value no ok write wrote, are skipped (the eventual checker judges them).
func lostUpdates(events []history.Event) []lostUpdate {
	ops := history.Pair(events)
	finals := map[string]map[string]bool{}
	writes := map[string][]history.Op{}
	for _, op := range ops {
		switch {
		case op.F == history.FRead && op.Final && op.Type == history.OK:
			if finals[op.Key] == nil {
				finals[op.Key] = map[string]bool{}
			}
			finals[op.Key][history.Canonical(op.Output)] = true
		case op.F == history.FWrite && op.Type == history.OK:
			writes[op.Key] = append(writes[op.Key], op)
		}
	}
	var out []lostUpdate
	for key, vals := range finals {
		if len(vals) != 1 {
			continue
		}
		var final string
		for v := range vals {
			final = v
		}
		var fw *history.Op
		for i, w := range writes[key] {
			if history.Canonical(w.Input) == final {
				fw = &writes[key][i]
			}
		}
		if fw == nil {
			continue
		}
		for _, w := range writes[key] {
			if w.Call > fw.Return {
				out = append(out, lostUpdate{Key: key, Final: final, Lost: history.Canonical(w.Input), FinalWrite: *fw, LostWrite: w})
			}
		}
	}
	return out
}

func lostUpdatesIn(t *testing.T, dir string) []lostUpdate {
	t.Helper()
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	require.NoError(t, err)
	return lostUpdates(h.Events)
}

func TestLostUpdates(t *testing.T) {
	ev := func(i int64, p int, typ history.Type, f, key string, v any, final bool) history.Event {
		b, _ := json.Marshal(v)
		return history.Event{Index: i, Time: i * 10, Process: p, Type: typ, F: f, Key: key, Value: b, Final: final}
	}
	tests := []struct {
		name   string
		events []history.Event
		lost   []string
	}{
		{"last write wins", []history.Event{
			ev(0, 0, history.Invoke, "write", "x", 1, false), ev(1, 0, history.OK, "write", "x", 1, false),
			ev(2, 1, history.Invoke, "write", "x", 2, false), ev(3, 1, history.OK, "write", "x", 2, false),
			ev(4, 0, history.Invoke, "read", "x", nil, true), ev(5, 0, history.OK, "read", "x", 2, true),
		}, nil},
		{"later write lost", []history.Event{
			ev(0, 0, history.Invoke, "write", "x", 1, false), ev(1, 0, history.OK, "write", "x", 1, false),
			ev(2, 1, history.Invoke, "write", "x", 2, false), ev(3, 1, history.OK, "write", "x", 2, false),
			ev(4, 0, history.Invoke, "read", "x", nil, true), ev(5, 0, history.OK, "read", "x", 1, true),
		}, []string{"2"}},
		{"concurrent writes: either may win", []history.Event{
			ev(0, 0, history.Invoke, "write", "x", 1, false), ev(1, 1, history.Invoke, "write", "x", 2, false),
			ev(2, 1, history.OK, "write", "x", 2, false), ev(3, 0, history.OK, "write", "x", 1, false),
			ev(4, 0, history.Invoke, "read", "x", nil, true), ev(5, 0, history.OK, "read", "x", 1, true),
		}, nil},
		{"failed later write is not lost", []history.Event{
			ev(0, 0, history.Invoke, "write", "x", 1, false), ev(1, 0, history.OK, "write", "x", 1, false),
			ev(2, 1, history.Invoke, "write", "x", 2, false), ev(3, 1, history.Fail, "write", "x", 2, false),
			ev(4, 0, history.Invoke, "read", "x", nil, true), ev(5, 0, history.OK, "read", "x", 1, true),
		}, nil},
		{"finals disagree: skipped", []history.Event{
			ev(0, 0, history.Invoke, "write", "x", 1, false), ev(1, 0, history.OK, "write", "x", 1, false),
			ev(2, 1, history.Invoke, "write", "x", 2, false), ev(3, 1, history.OK, "write", "x", 2, false),
			ev(4, 0, history.Invoke, "read", "x", nil, true), ev(5, 0, history.OK, "read", "x", 1, true),
			ev(6, 0, history.Invoke, "read", "x", nil, true), ev(7, 0, history.OK, "read", "x", 2, true),
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lost []string
			for _, l := range lostUpdates(tc.events) {
				lost = append(lost, l.Lost)
			}
			assert.Equal(t, tc.lost, lost)
		})
	}
}
