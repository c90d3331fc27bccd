package checkers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

const (
	V = checkers.Valid
	I = checkers.Invalid
	U = checkers.Unknown
)

// want is what one checker must say of a history.
type want struct {
	valid checkers.Validity
	// anomalies must each be among the result's anomaly names.
	anomalies []string
	// guarantee, if set, must be the guarantee of the first anomaly (or,
	// for eventual, of the first Info).
	guarantee string
	// info must each be among the result's info names.
	info []string
	// reason must be in the reason of an unknown verdict.
	reason string
}

type registerCase struct {
	name string
	h    *checkertest.Builder
	want map[string]want // checker name -> expectation
}

func b() *checkertest.Builder { return checkertest.New() }

// finals adds a final read of key on two nodes.
func finals(h *checkertest.Builder, key string, v any) *checkertest.Builder {
	return h.FinalRead(100, "n1", key, v).FinalRead(101, "n2", key, v)
}

func registerCases() []registerCase {
	return []registerCase{
		{
			name: "empty history",
			h:    b(),
			want: all(want{valid: U, reason: "nothing to check"}),
		},
		{
			name: "sequential write then read, converged",
			h:    finals(b().Write(0, "x", 1).Read(0, "x", 1).Read(1, "x", 1), "x", 1),
			want: all(want{valid: V}),
		},
		{
			name: "stale read by another session: causal, not linearizable",
			h:    finals(b().Write(0, "x", 1).Read(1, "x", nil), "x", 1),
			want: map[string]want{"linearizable": {valid: I, anomalies: []string{"nonlinearizable"}},
				"causal": {valid: V}, "causal+": {valid: V}, "eventual": {valid: V}},
		},
		{
			name: "read-your-writes broken (WriteCOInitRead)",
			h:    finals(b().Write(0, "x", 1).Read(0, "x", nil), "x", 1),
			want: map[string]want{"linearizable": {valid: I},
				"causal":   {valid: I, anomalies: []string{"WriteCOInitRead"}, guarantee: "read-your-writes"},
				"causal+":  {valid: I, anomalies: []string{"WriteCOInitRead"}, guarantee: "read-your-writes"},
				"eventual": {valid: V, info: []string{"WriteCOInitRead"}, guarantee: "read-your-writes"}},
		},
		{
			name: "read-your-writes broken with an older own value (WriteCORead)",
			h:    finals(b().Write(1, "x", 1).Read(0, "x", 1).Write(0, "x", 2).Read(0, "x", 1), "x", 2),
			want: map[string]want{"linearizable": {valid: I},
				"causal":   {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "read-your-writes"},
				"causal+":  {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "read-your-writes"},
				"eventual": {valid: V, info: []string{"WriteCORead"}}},
		},
		{
			name: "monotonic reads broken",
			h:    finals(b().Write(0, "x", 1).Write(0, "x", 2).Read(1, "x", 2).Read(1, "x", 1), "x", 2),
			want: map[string]want{"linearizable": {valid: I},
				"causal":   {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "monotonic-reads"},
				"causal+":  {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "monotonic-reads"},
				"eventual": {valid: V, info: []string{"WriteCORead"}, guarantee: "monotonic-reads"}},
		},
		{
			name: "monotonic reads broken back to the initial state",
			h:    finals(b().Write(0, "x", 1).Read(1, "x", 1).Read(1, "x", nil), "x", 1),
			want: map[string]want{"linearizable": {valid: I},
				"causal":  {valid: I, anomalies: []string{"WriteCOInitRead"}, guarantee: "monotonic-reads"},
				"causal+": {valid: I, anomalies: []string{"WriteCOInitRead"}, guarantee: "monotonic-reads"}},
		},
		{
			name: "monotonic writes broken",
			h: finals(finals(b().Write(0, "x", 1).Write(0, "x", 2).Write(0, "y", 5).
				Read(1, "y", 5).Read(1, "x", 1), "x", 2), "y", 5),
			want: map[string]want{"linearizable": {valid: I},
				"causal":   {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "monotonic-writes"},
				"eventual": {valid: V, info: []string{"WriteCORead"}, guarantee: "monotonic-writes"}},
		},
		{
			name: "writes follow reads broken",
			h: finals(finals(b().Write(0, "x", 1).Write(0, "x", 2).Read(1, "x", 2).Write(1, "y", 7).
				Read(2, "y", 7).Read(2, "x", 1), "x", 2), "y", 7),
			want: map[string]want{"linearizable": {valid: I},
				"causal":  {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "writes-follow-reads"},
				"causal+": {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "writes-follow-reads"}},
		},
		{
			name: "causal cycle across two sessions (CyclicCO)",
			h:    finals(finals(b().Invoke(0, "read", "x", nil).Invoke(1, "read", "y", nil).OK(0, 1).OK(1, 1).Write(0, "y", 1).Write(1, "x", 1), "x", 1), "y", 1),
			want: map[string]want{"linearizable": {valid: I},
				"causal": {valid: I, anomalies: []string{"CyclicCO"}}, "causal+": {valid: I, anomalies: []string{"CyclicCO"}},
				"eventual": {valid: I, anomalies: []string{"CyclicCO"}}},
		},
		{
			name: "a session reads its own future write (CyclicCO)",
			h:    finals(b().Read(0, "x", 1).Write(0, "x", 1), "x", 1),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: I, anomalies: []string{"CyclicCO"}},
				"eventual": {valid: I, anomalies: []string{"CyclicCO"}}},
		},
		{
			name: "read of a value never written (ThinAirRead)",
			h:    finals(b().Read(0, "x", 5), "x", nil),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: I, anomalies: []string{"ThinAirRead"}},
				"causal+": {valid: I, anomalies: []string{"ThinAirRead"}}, "eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		{
			name: "read of a failed write (ThinAirRead)",
			h:    finals(b().Invoke(0, "write", "x", 5).Fail(0, "refused").Read(1, "x", 5), "x", nil),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: I, anomalies: []string{"ThinAirRead"}},
				"eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		{
			name: "causal but not convergent (CyclicCF)",
			h: finals(b().Invoke(0, "write", "x", 1).Invoke(1, "write", "x", 2).OK(0, nil).OK(1, nil).
				Read(2, "x", 1).Read(2, "x", 2).Read(3, "x", 2).Read(3, "x", 1), "x", 2),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: V},
				"causal+": {valid: I, anomalies: []string{"CyclicCF"}}, "eventual": {valid: V}},
		},
		{
			name: "concurrent writes, sessions see different ones once: causal+ and convergent",
			h: finals(b().Invoke(0, "write", "x", 1).Invoke(1, "write", "x", 2).OK(0, nil).OK(1, nil).
				Read(2, "x", 1).Read(3, "x", 2).Read(3, "x", 2), "x", 2),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: V}, "causal+": {valid: V}, "eventual": {valid: V}},
		},
		{
			name: "info write read later: it happened",
			h:    finals(b().Invoke(0, "write", "x", 1).Info(0).Read(1, "x", 1), "x", 1),
			want: all(want{valid: V}),
		},
		{
			name: "process goes on after an info write it never sees: not read-your-writes",
			h:    finals(b().Invoke(0, "write", "x", 1).Info(0).Read(0, "x", nil), "x", nil),
			want: all(want{valid: V}),
		},
		{
			name: "process goes on after an info write that others saw",
			h:    finals(b().Invoke(0, "write", "x", 1).Info(0).Read(1, "x", 1).Read(0, "x", nil), "x", 1),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: V}, "causal+": {valid: V}, "eventual": {valid: V}},
		},
		{
			name: "info write, read, then overwritten in the reader's session: still causal order",
			h:    finals(b().Invoke(0, "write", "x", 1).Info(0).Read(1, "x", 1).Write(1, "x", 2).Read(1, "x", 1), "x", 2),
			want: map[string]want{"linearizable": {valid: I},
				"causal": {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "read-your-writes"}},
		},
		{
			name: "info write never seen: it may never have happened",
			h:    finals(b().Invoke(0, "write", "x", 1).Info(0).Read(1, "x", nil), "x", nil),
			want: all(want{valid: V}),
		},
		{
			name: "invoke never completed, seen later",
			h:    finals(b().Invoke(0, "write", "x", 1).Read(1, "x", nil).Read(1, "x", 1), "x", 1),
			want: all(want{valid: V}),
		},
		{
			name: "failed write did not happen",
			h:    finals(b().Invoke(0, "write", "x", 1).Fail(0, "unavailable").Read(1, "x", nil), "x", nil),
			want: all(want{valid: V}),
		},
		{
			name: "info read tells nothing",
			h:    b().Invoke(0, "read", "x", nil).Info(0),
			want: all(want{valid: U, reason: "nothing to check"}),
		},
		// Nothing to check (the same rule for every register model): no
		// read, write or cas completed ok and no cas failed as a mismatch.
		{
			name: "only a failed read: nothing to check",
			h:    b().Invoke(0, "read", "x", nil).Fail(0, "refused"),
			want: all(want{valid: U, reason: "nothing to check: no read, write or cas completed ok"}),
		},
		{
			name: "only failed writes and info ops: nothing to check",
			h: b().Invoke(0, "write", "x", 1).Fail(0, "refused").Invoke(1, "write", "x", 2).Info(1).
				Invoke(2, "cas", "x", []int{1, 2}).Fail(2, "unavailable").Invoke(3, "read", "x", nil).Info(3),
			want: all(want{valid: U, reason: "nothing to check"}),
		},
		{
			name: "a failed read beside one ok read of absent: checked",
			h:    finals(b().Invoke(0, "read", "x", nil).Fail(0, "refused").Read(1, "x", nil), "x", nil),
			want: all(want{valid: V}),
		},
		{
			name: "a cas mismatch alone is something to check",
			h:    b().Invoke(0, "write", "x", 2).Info(0).Invoke(1, "cas", "x", []int{1, 3}).Fail(1, "mismatch"),
			want: map[string]want{"linearizable": {valid: V}},
		},
		{
			name: "a failed write and a failed read, then a read of the failed write: invalid",
			h:    b().Invoke(0, "write", "x", 1).Fail(0, "refused").Invoke(1, "read", "x", nil).Fail(1, "refused").Read(2, "x", 1),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: I, anomalies: []string{"ThinAirRead"}},
				"causal+": {valid: I, anomalies: []string{"ThinAirRead"}}, "eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		// Functions the register models do not know: an op with one that
		// may have taken effect (ok, info, never completed) makes its key
		// unknown; a failed one did nothing; nemesis events are not ops.
		{
			name: "ops with functions the model does not know make their key unknown",
			h: finals(b().Write(0, "x", 1).Invoke(1, "get", "x", nil).OK(1, 999).Invoke(1, "get", "x", nil).OK(1, 999).
				Invoke(2, "Read", "x", nil).OK(2, 999), "x", 1),
			want: all(want{valid: U, reason: `2 ops with f "get" that the register model does not know: read, write, cas (on key "x")`}),
		},
		{
			name: "an info op of an unknown function may have written what is read: unknown, not invalid",
			h:    finals(b().Write(0, "x", 1).Invoke(1, "put", "x", 2).Info(1).Read(2, "x", 2), "x", 2),
			want: all(want{valid: U, reason: `1 op with f "put" that the register model does not know`}),
		},
		{
			name: "an unknown function never completed: unknown",
			h:    finals(b().Write(0, "x", 1).Invoke(1, "put", "x", 2).Read(2, "x", 2), "x", 2),
			want: all(want{valid: U, reason: `1 op with f "put"`}),
		},
		{
			name: "a failed op of an unknown function did nothing",
			h:    finals(b().Write(0, "x", 1).Invoke(1, "get", "x", nil).Fail(1, "refused").Read(1, "x", 1), "x", 1),
			want: all(want{valid: V}),
		},
		{
			name: "nemesis events are not client ops",
			h: finals(b().Nemesis("start-partition", []string{"n1"}).Write(0, "x", 1).Nemesis("stop-partition", nil).
				Read(1, "x", 1), "x", 1),
			want: all(want{valid: V}),
		},
		{
			name: "only unknown functions: nothing to check, and why",
			h:    b().Invoke(0, "put", "k", 1).OK(0, 1).Invoke(1, "get", "k", nil).OK(1, 999),
			want: all(want{valid: U, reason: `nothing to check: no read, write or cas completed ok, and no cas failed as a mismatch; 1 op with f "put"`}),
		},
		{
			name: "an anomaly on another key outranks an unknown function",
			h:    finals(finals(b().Invoke(1, "get", "y", nil).OK(1, 5).Write(0, "y", 1).Read(0, "x", 7), "x", nil), "y", 1),
			want: map[string]want{"linearizable": {valid: I, anomalies: []string{"nonlinearizable"}},
				"causal": {valid: I, anomalies: []string{"ThinAirRead"}}, "causal+": {valid: I, anomalies: []string{"ThinAirRead"}},
				"eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		{
			name: "an unknown function on one key, the other keys valid: unknown, the others named as checked",
			h:    finals(finals(b().Invoke(1, "get", "y", nil).OK(1, 5).Write(0, "x", 1).Read(1, "x", 1), "x", 1), "y", nil),
			want: map[string]want{"linearizable": {valid: U, reason: "1 of 2 keys undecided"}, "causal": {valid: U, reason: "1 of 2 keys undecided"},
				"causal+": {valid: U, reason: "no anomaly among the operations on the other keys"}, "eventual": {valid: U, reason: `on key "y"`}},
		},
		// One key that cannot be decided (a malformed cas; for the causal
		// models, a value written twice) makes only that key unknown: a
		// definite anomaly on another key still makes the verdict invalid.
		{
			name: "a malformed cas on b does not hide a thin-air read on a",
			h: b().Write(0, "a", 1).Read(1, "a", 7).Invoke(2, "cas", "b", []int{1}).OK(2, []int{1}).
				FinalRead(3, "n1", "a", 7),
			want: map[string]want{"linearizable": {valid: I, anomalies: []string{"nonlinearizable"}},
				"causal": {valid: I, anomalies: []string{"ThinAirRead"}}, "causal+": {valid: I, anomalies: []string{"ThinAirRead"}},
				"eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		{
			name: "a malformed cas on b, a valid: b alone is unknown",
			h:    finals(b().Write(0, "a", 1).Read(1, "a", 1).Invoke(2, "cas", "b", []int{1}).OK(2, []int{1}), "a", 1),
			want: map[string]want{"linearizable": {valid: U, reason: `1 of 2 keys undecided: event 4 (process 2, key "b"): cas value [1] is not a pair [expected, new]; the other keys are linearizable`},
				"causal":   {valid: U, reason: `event 4 (process 2, key "b"): cas value [1] is not a pair`},
				"causal+":  {valid: U, reason: `no anomaly among the operations on the other keys`},
				"eventual": {valid: U, reason: `key "b"): cas value [1] is not a pair`}},
		},
		{
			name: "a malformed cas of unknown outcome: unknown",
			h:    finals(b().Write(0, "a", 1).Invoke(2, "cas", "b", 5).Info(2), "a", 1),
			want: all(want{valid: U, reason: "cas value 5 is not a pair"}),
		},
		{
			name: "a malformed cas that failed did nothing",
			h:    finals(b().Write(0, "a", 1).Invoke(2, "cas", "b", 5).Fail(2, "unavailable"), "a", 1),
			want: all(want{valid: V}),
		},
		{
			name: "a value written twice on b does not hide a thin-air read on a",
			h:    b().Write(0, "a", 1).Read(1, "a", 7).Write(2, "b", 1).Write(2, "b", 1),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: I, anomalies: []string{"ThinAirRead"}},
				"causal+": {valid: I, anomalies: []string{"ThinAirRead"}}, "eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		{
			name: "a value written twice (once info) on b does not hide a stale read on x",
			h: finals(finals(b().Write(0, "x", 1).Write(0, "x", 2).Read(1, "x", 2).Read(1, "x", 1).
				Write(2, "b", 1).Invoke(3, "write", "b", 1).Info(3), "x", 2), "b", 1),
			want: map[string]want{"causal": {valid: I, anomalies: []string{"WriteCORead"}, guarantee: "monotonic-reads"},
				"causal+": {valid: I, anomalies: []string{"WriteCORead"}}},
		},
		{
			name: "a value written twice on b, a valid: b alone is unknown, its convergence still judged",
			h:    finals(finals(b().Write(0, "a", 1).Read(1, "a", 1).Write(2, "b", 1).Write(2, "b", 1), "a", 1), "b", 1),
			want: map[string]want{"linearizable": {valid: V},
				"causal":   {valid: U, reason: `1 of 2 keys undecided: key "b": value 1 is written twice (events 4 and 6)`},
				"causal+":  {valid: U, reason: `key "b": value 1 is written twice`},
				"eventual": {valid: U, reason: `thin-air reads and causal cycles were not checked on key "b": key "b": value 1 is written twice`}},
		},
		{
			name: "a value written twice on b that did not converge: eventual still invalid",
			h: b().Write(0, "a", 1).Read(1, "a", 1).Write(2, "b", 1).Write(2, "b", 1).Write(2, "b", 2).
				FinalRead(100, "n1", "a", 1).FinalRead(101, "n1", "b", 1).FinalRead(102, "n2", "b", 2),
			want: map[string]want{"eventual": {valid: I, anomalies: []string{"divergence"}}},
		},
		{
			name: "cas ok reads expected and writes new",
			h:    finals(b().Write(0, "x", 1).CAS(1, "x", 1, 2).Read(0, "x", 2), "x", 2),
			want: all(want{valid: V}),
		},
		{
			name: "cas mismatch although the key held expected",
			h:    finals(b().Write(0, "x", 1).Invoke(1, "cas", "x", []int{1, 2}).Fail(1, "mismatch"), "x", 1),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: V}, "eventual": {valid: V}},
		},
		{
			name: "cas mismatch on an absent key",
			h:    b().Invoke(1, "cas", "x", []int{1, 2}).Fail(1, "mismatch").Read(0, "x", nil),
			want: map[string]want{"linearizable": {valid: V}, "causal": {valid: V}},
		},
		{
			name: "cas ok on an absent key is impossible",
			h:    b().CAS(1, "x", nil, 2).Read(0, "x", 2),
			want: map[string]want{"linearizable": {valid: I}},
		},
		{
			name: "cas that failed otherwise did nothing",
			h:    b().Write(0, "x", 1).Invoke(1, "cas", "x", []int{1, 2}).Fail(1, "unavailable").Read(0, "x", 1),
			want: map[string]want{"linearizable": {valid: V}, "causal": {valid: V}},
		},
		{
			name: "info cas took effect",
			h:    finals(b().Write(0, "x", 1).Invoke(1, "cas", "x", []int{1, 2}).Info(1).Read(0, "x", 1).Read(0, "x", 2), "x", 2),
			want: all(want{valid: V}),
		},
		{
			name: "linearizable: read concurrent with a write sees the new value",
			h:    finals(b().Invoke(0, "write", "x", 1).Invoke(1, "read", "x", nil).OK(1, 1).OK(0, nil).Read(1, "x", 1), "x", 1),
			want: all(want{valid: V}),
		},
		{
			name: "linearizable: a read after the new value was seen returns the old one",
			h:    finals(b().Write(0, "x", 1).Invoke(0, "write", "x", 2).Read(1, "x", 2).Read(2, "x", 1).OK(0, nil), "x", 2),
			want: map[string]want{"linearizable": {valid: I}, "causal": {valid: V}, "eventual": {valid: V}},
		},
		{
			name: "eventual: final reads disagree",
			h:    b().Write(0, "x", 1).Write(1, "x", 2).FinalRead(100, "n1", "x", 1).FinalRead(101, "n2", "x", 2),
			want: map[string]want{"eventual": {valid: I, anomalies: []string{"divergence"}}, "causal": {valid: V}},
		},
		{
			name: "eventual: converged to absent after an acknowledged write",
			h:    finals(b().Write(0, "x", 1), "x", nil),
			want: map[string]want{"eventual": {valid: I, anomalies: []string{"lost"}}},
		},
		{
			name: "eventual: a written key has no final read",
			h:    finals(b().Write(0, "x", 1).Write(0, "y", 1), "x", 1),
			want: map[string]want{"eventual": {valid: U, reason: `"y"`}, "causal": {valid: V}},
		},
		{
			name: "eventual: a node's final read did not answer",
			h:    b().Write(0, "x", 1).FinalRead(100, "n1", "x", 1).FinalInvoke(101, "n2", "x").Info(101),
			want: map[string]want{"eventual": {valid: U, reason: `key "x" on node n2 (info: timeout)`}},
		},
		{
			name: "eventual: invalid outranks unknown",
			h:    b().Read(0, "x", 9),
			want: map[string]want{"eventual": {valid: I, anomalies: []string{"ThinAirRead"}}},
		},
		{
			name: "not differentiated: a value written twice",
			h:    finals(b().Write(0, "x", 1).Write(1, "x", 1), "x", 1),
			want: map[string]want{"linearizable": {valid: V},
				"causal":   {valid: U, reason: `key "x": value 1 is written twice`},
				"causal+":  {valid: U, reason: `key "x": value 1 is written twice`},
				"eventual": {valid: U, reason: "value 1 is written twice"}},
		},
	}
}

// A set workload's history checked with a register model: its adds are a
// function the register model does not know, so every key is unknown, with
// that reason (linearizable used to call it invalid: a read of [1 2] no
// write wrote).
func TestRegisterModelsOnASetHistory(t *testing.T) {
	events := checkertest.Set(checkertest.SetConfig{Seed: 3, Ops: 200, Processes: 4, Sets: 2, ReadRate: 0.3, InfoRate: 0.05, Nodes: 2})
	for _, model := range []string{"linearizable", "causal", "causal+", "eventual"} {
		c, err := checkers.New(model, checkers.Options{})
		require.NoError(t, err)
		res := c.Check(context.Background(), events)
		require.Equal(t, U, res.Valid, "%s: %s %+v", model, res.Reason, res.Anomalies)
		consistent(t, res)
		assert.Contains(t, res.Reason, `ops with f "add" that the register model does not know: read, write, cas (on keys "s0", "s1")`, model)
	}
}

func all(w want) map[string]want {
	return map[string]want{"linearizable": w, "causal": w, "causal+": w, "eventual": w}
}

func names(as []checkers.Anomaly) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func TestRegisterModels(t *testing.T) {
	for _, tc := range registerCases() {
		events := tc.h.Events()
		// The hand-made history must be one Read accepts.
		rr, err := history.Read(strings.NewReader(string(tc.h.JSONL())))
		require.NoError(t, err, tc.name)
		require.Len(t, rr.Events, len(events))
		for model, w := range tc.want {
			t.Run(tc.name+"/"+model, func(t *testing.T) {
				c, err := checkers.New(model, checkers.Options{})
				require.NoError(t, err)
				res := c.Check(context.Background(), events)
				assert.Equal(t, model, res.Checker)
				require.Equal(t, w.valid, res.Valid, "verdict; reason %q anomalies %+v", res.Reason, res.Anomalies)
				consistent(t, res)
				for _, n := range w.anomalies {
					assert.Contains(t, names(res.Anomalies), n)
				}
				for _, n := range w.info {
					assert.Contains(t, names(res.Info), n)
				}
				if w.guarantee != "" {
					list := res.Anomalies
					if model == "eventual" {
						list = res.Info
					}
					require.NotEmpty(t, list)
					assert.Equal(t, w.guarantee, list[0].Guarantee, list[0].Explanation)
				}
				if w.reason != "" {
					assert.Contains(t, res.Reason, w.reason)
				}
			})
		}
	}
}

// consistent asserts the invariants every result keeps.
func consistent(t *testing.T, res checkers.Result) {
	t.Helper()
	switch res.Valid {
	case checkers.Valid:
		assert.Empty(t, res.Anomalies, "a valid result lists no anomaly")
		assert.Empty(t, res.Reason)
	case checkers.Invalid:
		require.NotEmpty(t, res.Anomalies, "an invalid result names its anomalies")
	case checkers.Unknown:
		assert.Empty(t, res.Anomalies, "an unknown result has no anomaly (invalid outranks unknown)")
		assert.NotEmpty(t, res.Reason, "an unknown result says why")
	}
	for _, a := range res.Anomalies {
		assert.NotEmpty(t, a.Name)
		assert.NotEmpty(t, a.Explanation)
	}
}

func TestWitnesses(t *testing.T) {
	t.Run("writes-follow-reads witness is edge by edge", func(t *testing.T) {
		h := b().Write(0, "x", 1).Write(0, "x", 2).Read(1, "x", 2).Write(1, "y", 7).Read(2, "y", 7).Read(2, "x", 1)
		c, _ := checkers.New("causal", checkers.Options{})
		res := c.Check(context.Background(), h.Events())
		require.Equal(t, I, res.Valid)
		a := res.Anomalies[0]
		// w1 (x=1, event 0), w2 (x=2, 2), p1 read x=2 (4), p1 write y=7 (6), p2 read y=7 (8), p2 read x=1 (10)
		assert.Equal(t, []int64{0, 2, 4, 6, 8, 10}, a.Ops)
		assert.Equal(t, []string{"x"}, a.Keys)
		assert.Contains(t, a.Explanation, "p1 read x=2 (ok, event 4) read the x=2 that p0 wrote")
		assert.Contains(t, a.Explanation, "p2 read y=7 (ok, event 8) read the y=7 that p1 wrote")
		assert.Contains(t, a.Explanation, "writes-follow-reads")
	})
	t.Run("the overwriting write is always in the witness", func(t *testing.T) {
		h := b().Write(0, "x", 1).Write(0, "x", 2).Read(0, "x", 1)
		c, _ := checkers.New("causal", checkers.Options{})
		res := c.Check(context.Background(), h.Events())
		require.Equal(t, I, res.Valid)
		assert.Equal(t, []int64{0, 2, 4}, res.Anomalies[0].Ops)
		assert.Contains(t, res.Anomalies[0].Explanation, "then p0 write x=2 (ok, event 2)")
		assert.Equal(t, "read-your-writes", res.Anomalies[0].Guarantee)
	})
	t.Run("cyclic causal order shows the cycle", func(t *testing.T) {
		h := b().Invoke(0, "read", "x", nil).Invoke(1, "read", "y", nil).OK(0, 1).OK(1, 1).Write(0, "y", 1).Write(1, "x", 1)
		c, _ := checkers.New("causal", checkers.Options{})
		res := c.Check(context.Background(), h.Events())
		require.Equal(t, I, res.Valid)
		a := res.Anomalies[0]
		assert.Equal(t, "CyclicCO", a.Name)
		assert.ElementsMatch(t, []int64{0, 1, 4, 6}, a.Ops)
		assert.Equal(t, 1, res.Counts["CyclicCO"])
	})
	t.Run("nonlinearizable names the key and the stuck ops", func(t *testing.T) {
		h := b().Write(0, "a", 1).Read(1, "a", 1).Write(0, "x", 1).Read(1, "x", nil)
		c, _ := checkers.New("linearizable", checkers.Options{})
		res := c.Check(context.Background(), h.Events())
		require.Equal(t, I, res.Valid)
		require.Len(t, res.Anomalies, 1)
		a := res.Anomalies[0]
		assert.Equal(t, []string{"x"}, a.Keys)
		// The write that left x = 1 and the read that found it absent.
		assert.Equal(t, []int64{4, 6}, a.Ops, a.Explanation)
		assert.Contains(t, a.Explanation, "p1 read x=null")
		assert.Contains(t, a.Explanation, "nothing sets x back to null")
		assert.Equal(t, 1, res.Counts["keys-nonlinearizable"])
		assert.JSONEq(t, `{"failed-keys":["x"]}`, string(res.Extra))
	})
}

func TestLinearizableTimeoutIsUnknown(t *testing.T) {
	events := checkertest.Register(checkertest.RegisterConfig{Seed: 1, Ops: 2000, Processes: 8, Keys: 4, ReadRate: 0.5, CASRate: 0.2})
	c, err := checkers.New("linearizable", checkers.Options{Timeout: time.Nanosecond})
	require.NoError(t, err)
	res := c.Check(context.Background(), events)
	require.Equal(t, U, res.Valid, "a timeout is never valid")
	assert.Contains(t, res.Reason, "timed out")
	consistent(t, res)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = c.Check(ctx, events)
	assert.Equal(t, U, res.Valid, "a cancelled check is never valid")
}

// A reason that counts every key undecided says nothing of "the other
// keys": there are none, and a user would look for them.
func TestUndecidedReasonWithoutOtherKeys(t *testing.T) {
	malformed := finals(b().Write(0, "x", 1).Invoke(1, "cas", "x", 5).OK(1, nil), "x", 1)
	for _, tc := range []struct {
		name, model string
		opts        checkers.Options
		h           *checkertest.Builder
		want        string
	}{
		{"linearizable, over the memory bound", "linearizable", checkers.Options{SearchMemory: 1 << 10}, checkertest.HardRegister(12), "1 of 1 keys undecided: search exceeded 1024 bytes"},
		{"linearizable, past the timeout", "linearizable", checkers.Options{Timeout: time.Nanosecond}, checkertest.HardRegister(12), "1 of 1 keys undecided: search timed out"},
		{"linearizable, malformed cas", "linearizable", checkers.Options{}, malformed, "1 of 1 keys undecided: event 2"},
		{"causal, malformed cas", "causal", checkers.Options{}, malformed, "1 of 1 keys undecided: event 2"},
		{"causal+, malformed cas", "causal+", checkers.Options{}, malformed, "1 of 1 keys undecided: event 2"},
		{"eventual, malformed cas", "eventual", checkers.Options{}, malformed, "1 of 1 keys undecided: event 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := checkers.New(tc.model, tc.opts)
			require.NoError(t, err)
			res := c.Check(context.Background(), tc.h.Events())
			require.Equal(t, U, res.Valid, res.Reason)
			assert.Contains(t, res.Reason, tc.want)
			assert.NotContains(t, res.Reason, "other keys")
		})
	}
}

func TestMalformedCAS(t *testing.T) {
	h := b().Invoke(0, "cas", "x", 5).OK(0, nil)
	for _, model := range []string{"linearizable", "causal", "causal+", "eventual"} {
		c, _ := checkers.New(model, checkers.Options{})
		res := c.Check(context.Background(), h.Events())
		assert.Equal(t, U, res.Valid, model)
		assert.Contains(t, res.Reason, "not a pair [expected, new]", model)
		assert.Contains(t, res.Reason, "event 0", model)
	}
}

func TestSet(t *testing.T) {
	cases := []struct {
		name      string
		h         *checkertest.Builder
		valid     checkers.Validity
		anomalies []string
		info      []string
		counts    map[string]int
		reason    string
		// explanation must be in the first anomaly's explanation.
		explanation string
	}{
		{name: "all acknowledged adds read", h: b().Add(0, "s", 1).Add(1, "s", 2).SetRead(2, "s", false, 1).SetRead(3, "s", true, 1, 2),
			valid: V, counts: map[string]int{"acknowledged": 2}},
		{name: "acknowledged add missing from the final read", h: b().Add(0, "s", 1).Add(1, "s", 2).SetRead(3, "s", true, 2),
			valid: I, anomalies: []string{"lost"}, counts: map[string]int{"lost": 1}},
		{name: "element seen then gone", h: b().Invoke(0, "add", "s", 1).Info(0).SetRead(2, "s", false, 1).SetRead(3, "s", true),
			valid: I, anomalies: []string{"lost"}},
		{name: "element never added", h: b().Add(0, "s", 1).SetRead(3, "s", true, 1, 7),
			valid: I, anomalies: []string{"unexpected"}, counts: map[string]int{"unexpected": 1}},
		{name: "failed add read", h: b().Invoke(0, "add", "s", 1).Fail(0, "unavailable").SetRead(3, "s", true, 1),
			valid: I, anomalies: []string{"unexpected"}},
		{name: "stale read is information", h: b().Add(0, "s", 1).SetRead(1, "s", false).SetRead(3, "s", true, 1),
			valid: V, info: []string{"stale"}, counts: map[string]int{"stale": 1}},
		{name: "info add absent is fine", h: b().Add(1, "s", 2).Invoke(0, "add", "s", 1).Info(0).SetRead(3, "s", true, 2),
			valid: V},
		{name: "info add present is recovered", h: b().Add(1, "s", 2).Invoke(0, "add", "s", 1).Info(0).SetRead(3, "s", true, 1, 2),
			valid: V, counts: map[string]int{"recovered": 1}},
		// No acknowledged add: nothing can be lost, nothing to check,
		// unless a read shows an element never attempted.
		{name: "only info adds, read back: nothing to check", h: b().Invoke(0, "add", "s", 1).Info(0).SetRead(3, "s", true, 1),
			valid: U, reason: "nothing to check: no add was acknowledged (1 attempted: each failed or has an unknown outcome)"},
		{name: "only failed and info adds, empty reads: nothing to check", h: b().Invoke(0, "add", "s", 1).Info(0).Invoke(1, "add", "s", 2).Fail(1, "refused").
			SetRead(2, "s", false).SetRead(3, "s", true),
			valid: U, reason: "nothing to check: no add was acknowledged (2 attempted"},
		{name: "only reads: nothing to check", h: b().SetRead(3, "s", true), valid: U, reason: "nothing to check: no add was acknowledged"},
		{name: "no add acknowledged, an element never attempted read: invalid", h: b().Invoke(0, "add", "s", 1).Info(0).SetRead(3, "s", true, 1, 5),
			valid: I, anomalies: []string{"unexpected"}},
		{name: "no add acknowledged, an element seen then gone: invalid", h: b().Invoke(0, "add", "s", 1).Info(0).SetRead(2, "s", false, 1).SetRead(3, "s", true),
			valid: I, anomalies: []string{"lost"}},
		{name: "no final read", h: b().Add(0, "s", 1).SetRead(1, "s", false, 1), valid: U},
		{name: "a node's final read did not answer", h: b().Add(0, "s", 1).SetRead(3, "s", true, 1).FinalInvoke(4, "n2", "s").Fail(4, "unavailable"), valid: U},
		{name: "no set operations", h: b(), valid: U, reason: "nothing to check: no add was acknowledged: the history has no set operation"},
		// A definite anomaly is invalid whatever else is undecided.
		{name: "unexpected in a non-final read, no final read: invalid", h: b().Add(0, "s", 1).SetRead(1, "s", false, 1, 99),
			valid: I, anomalies: []string{"unexpected"}, counts: map[string]int{"unexpected": 1}},
		{name: "read of a failed add, no final read: invalid", h: b().Add(0, "s", 1).Invoke(2, "add", "s", 2).Fail(2, "refused").SetRead(1, "s", false, 1, 2),
			valid: I, anomalies: []string{"unexpected"}},
		{name: "read of an info add, no final read: unknown", h: b().Add(0, "s", 1).Invoke(2, "add", "s", 2).Info(2).SetRead(1, "s", false, 1, 2),
			valid: U},
		{name: "unexpected in a set with no final read, another set fine", h: b().Add(0, "s", 1).Add(0, "t", 1).SetRead(1, "s", false, 7).SetRead(3, "t", true, 1),
			valid: I, anomalies: []string{"unexpected"}},
		// null is not an element: decoded as an integer it would be 0.
		{name: "null in a final read is not 0", h: b().Add(0, "s", 0).FinalInvoke(1, "n1", "s").OK(1, []any{nil}),
			valid: U, reason: `set "s" cannot be judged: the read at event 2 (process 1) returned [null], with null, which is not an element`},
		{name: "null in a non-final read is not 0", h: b().Add(0, "s", 0).Invoke(2, "read", "s", nil).OK(2, []any{0, nil}).SetRead(1, "s", true, 0),
			valid: U, reason: "with null, which is not an element"},
		{name: "an add of null", h: b().Invoke(0, "add", "s", nil).OK(0, nil).FinalInvoke(1, "n1", "s").OK(1, []any{nil}),
			valid: U, reason: "the add at event 0 (process 0) adds null, which is not an element"},
		{name: "an info add of null", h: b().Add(1, "s", 1).Invoke(0, "add", "s", nil).Info(0).SetRead(2, "s", true, 1),
			valid: U, reason: "adds null"},
		{name: "a failed add of null did nothing", h: b().Invoke(0, "add", "s", nil).Fail(0, "refused").Add(1, "s", 1).SetRead(2, "s", true, 1),
			valid: V},
		{name: "null in one set does not hide a lost element in another", h: b().Add(0, "t", 1).SetRead(3, "t", true).Add(0, "s", 0).FinalInvoke(1, "n1", "s").OK(1, []any{nil}),
			valid: I, anomalies: []string{"lost"}},
		{name: "null beside an element never added: unexpected", h: b().Add(0, "s", 1).FinalInvoke(1, "n1", "s").OK(1, []any{1, nil, 99}),
			valid: I, anomalies: []string{"unexpected"}},
		{name: "elements that are not integers are themselves, never 0", h: b().Invoke(0, "add", "s", "a").OK(0, nil).Add(1, "s", 0).FinalInvoke(2, "n1", "s").OK(2, []any{"a", 0}),
			valid: V},
		{name: "a string element does not stand for 0", h: b().Invoke(0, "add", "s", "a").OK(0, nil).Add(1, "s", 0).FinalInvoke(2, "n1", "s").OK(2, []any{"a"}),
			valid: I, anomalies: []string{"lost"}},
		// Functions the set model does not know, and reads that are not
		// arrays, make only their set unknown.
		{name: "a function the set model does not know makes its set unknown", h: b().Add(0, "s", 1).Invoke(1, "add-all", "s", []int{2, 3}).OK(1, nil).SetRead(3, "s", true, 1, 2, 3),
			valid: U, reason: `1 op with f "add-all" that the set model does not know: add, read (on key "s")`},
		{name: "an info op of an unknown function: unknown", h: b().Add(0, "s", 1).Invoke(1, "add-all", "s", []int{2, 3}).Info(1).SetRead(3, "s", true, 1, 2),
			valid: U, reason: `f "add-all"`},
		{name: "a failed op of an unknown function did nothing", h: b().Add(0, "s", 1).Invoke(1, "add-all", "s", []int{2, 3}).Fail(1, "refused").SetRead(3, "s", true, 1),
			valid: V},
		{name: "an unknown function on one set does not hide a lost element in another", h: b().Add(0, "t", 1).SetRead(3, "t", true).Invoke(1, "add-all", "s", []int{2}).OK(1, nil),
			valid: I, anomalies: []string{"lost"}},
		{name: "a register history under the set model", h: b().Write(0, "x", 1).Read(1, "x", 1),
			valid: U, reason: `1 op with f "write" that the set model does not know: add, read (on key "x")`},
		{name: "a read that is not an array does not hide a lost element in another set", h: b().Add(0, "t", 1).SetRead(3, "t", true).Add(0, "s", 1).Invoke(1, "read", "s", nil).OK(1, "oops"),
			valid: I, anomalies: []string{"lost"}},
		// A read is of a set: an element in it twice is an anomaly of its
		// own, in any read (Jepsen's set-full: duplicated), counted once
		// per element whatever its multiplicity.
		{name: "an element twice in a final read", h: b().Add(0, "s", 1).SetRead(3, "s", true, 1, 1),
			valid: I, anomalies: []string{"duplicated"}, counts: map[string]int{"duplicated": 1},
			explanation: `Set "s": element 1 appears 2 times in the read at event 2 (process 3), which returns a set: each element at most once.`},
		{name: "an element twice in a non-final read, the final read fine", h: b().Add(0, "s", 1).Add(0, "s", 2).SetRead(1, "s", false, 2, 1, 2).SetRead(3, "s", true, 1, 2),
			valid: I, anomalies: []string{"duplicated"}, counts: map[string]int{"duplicated": 1, "lost": 0}},
		{name: "the largest multiplicity is named, the element counted once", h: b().Add(0, "s", 1).SetRead(1, "s", false, 1, 1).SetRead(2, "s", false, 1, 1, 1).SetRead(3, "s", true, 1),
			valid: I, counts: map[string]int{"duplicated": 1}, explanation: `element 1 appears 3 times in the read at event 4 (process 2)`},
		{name: "two elements twice", h: b().Add(0, "s", 1).Add(0, "s", 2).SetRead(3, "s", true, 1, 2, 2, 1),
			valid: I, counts: map[string]int{"duplicated": 2}},
		{name: "an element that is not an integer, twice", h: b().Invoke(0, "add", "s", "a").OK(0, nil).FinalInvoke(2, "n1", "s").OK(2, []any{"a", "a"}),
			valid: I, anomalies: []string{"duplicated"}, counts: map[string]int{"duplicated": 1}, explanation: `element "a" appears 2 times`},
		{name: "duplicated in a set with no final read: invalid", h: b().Add(0, "s", 1).SetRead(1, "s", false, 1, 1),
			valid: I, anomalies: []string{"duplicated"}},
		{name: "an element in two reads is no duplicate", h: b().Add(0, "s", 1).SetRead(1, "s", false, 1).SetRead(3, "s", true, 1),
			valid: V, counts: map[string]int{"duplicated": 0}},
		{name: "lost outranks no final read of another set", h: b().Add(0, "s", 1).Add(0, "t", 1).SetRead(3, "s", true),
			valid: I, anomalies: []string{"lost"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := checkers.New("set", checkers.Options{})
			require.NoError(t, err)
			res := c.Check(context.Background(), tc.h.Events())
			require.Equal(t, tc.valid, res.Valid, "%+v", res)
			consistent(t, res)
			for _, n := range tc.anomalies {
				assert.Contains(t, names(res.Anomalies), n)
			}
			for _, n := range tc.info {
				assert.Contains(t, names(res.Info), n)
			}
			for k, v := range tc.counts {
				assert.Equal(t, v, res.Counts[k], k)
			}
			if tc.reason != "" {
				assert.Contains(t, res.Reason, tc.reason)
			}
			if tc.explanation != "" {
				require.NotEmpty(t, res.Anomalies)
				assert.Contains(t, res.Anomalies[0].Explanation, tc.explanation)
			}
		})
	}
	t.Run("every lost element is listed in extra, beyond the anomalies", func(t *testing.T) {
		h := b()
		var all []int
		for i := 1; i <= 15; i++ {
			h.Add(0, "s", i)
			all = append(all, i)
		}
		h.SetRead(3, "s", true, all[:2]...)
		c, _ := checkers.New("set", checkers.Options{})
		res := c.Check(context.Background(), h.Events())
		require.Equal(t, I, res.Valid)
		assert.Equal(t, 13, res.Counts["lost"])
		assert.Less(t, len(res.Anomalies), 13, "the anomalies are cut")
		var extra struct {
			Lost []struct {
				Key     string          `json:"key"`
				Element json.RawMessage `json:"element"`
				Add     int64           `json:"add"`
			} `json:"lost"`
		}
		require.NoError(t, json.Unmarshal(res.Extra, &extra))
		require.Len(t, extra.Lost, 13)
		assert.Equal(t, "s", extra.Lost[0].Key)
		assert.Equal(t, "3", string(extra.Lost[0].Element))
		assert.GreaterOrEqual(t, extra.Lost[0].Add, int64(0), "the add's invoke is named")
	})
	t.Run("set read that is not an array", func(t *testing.T) {
		c, _ := checkers.New("set", checkers.Options{})
		res := c.Check(context.Background(), b().Invoke(0, "read", "s", nil).OK(0, "oops").Events())
		assert.Equal(t, U, res.Valid)
		assert.Contains(t, res.Reason, "not a JSON array")
	})
}

func TestNewAndCheckAll(t *testing.T) {
	_, err := checkers.New("serializable", checkers.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"serializable"`)
	assert.Contains(t, err.Error(), "linearizable, causal, causal+, eventual, set")

	_, err = checkers.CheckAll(context.Background(), nil, nil, checkers.Options{})
	require.Error(t, err)

	h := finals(b().Write(0, "x", 1).Read(1, "x", nil), "x", 1)
	sum, err := checkers.CheckAll(context.Background(), h.Events(), []string{"causal", "linearizable", "causal"}, checkers.Options{})
	require.NoError(t, err)
	require.Len(t, sum.Results, 2)
	assert.Equal(t, V, sum.Results[0].Valid)
	assert.Equal(t, I, sum.Results[1].Valid)
	assert.Equal(t, I, sum.Valid, "invalid outranks valid")

	sum, err = checkers.CheckAll(context.Background(), b().Write(0, "x", 1).Events(), []string{"causal", "eventual"}, checkers.Options{})
	require.NoError(t, err)
	assert.Equal(t, U, sum.Valid, "unknown outranks valid")
}

// A verdict fails closed: the zero Validity is not valid, and a summary
// without an explicit "valid" does not decode.
func TestValidityFailsClosed(t *testing.T) {
	var zero checkers.Validity
	assert.NotEqual(t, checkers.Valid, zero)
	assert.Equal(t, 2, zero.ExitCode())
	assert.Equal(t, checkers.Invalid, checkers.Valid.Merge(checkers.Unknown).Merge(checkers.Invalid))
	assert.Equal(t, checkers.Unknown, checkers.Valid.Merge(checkers.Unknown))
	assert.Equal(t, checkers.Valid, checkers.Valid.Merge(checkers.Valid))

	for _, tc := range []struct{ name, in, err string }{
		{"no verdict", `{"results": []}`, `no "valid" field`},
		{"a result without a verdict", `{"valid": true, "results": [{"checker": "set"}]}`, `result 0 ("set") has no "valid" field`},
		{"not a verdict", `{"valid": "yes", "results": []}`, `valid must be`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s checkers.Summary
			err := json.Unmarshal([]byte(tc.in), &s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	var s checkers.Summary
	require.NoError(t, json.Unmarshal([]byte(`{"valid": "unknown", "results": [{"checker": "linearizable", "valid": false, "reason": "r"}]}`), &s))
	assert.Equal(t, checkers.Unknown, s.Valid)
	assert.Equal(t, checkers.Invalid, s.Results[0].Valid)
	assert.Equal(t, "r", s.Results[0].Reason)
}
