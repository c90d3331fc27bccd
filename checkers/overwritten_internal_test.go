package checkers

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// Whatever findOverwrite proves illegal, brute force finds illegal too:
// on random single-key histories with info writes, info cas, mismatches,
// repeated values, null and equal times.
func TestOverwriteAgreesWithBruteForce(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 1500
	}
	rng := rand.New(rand.NewPCG(11, 12))
	fired := 0
	for i := 0; i < n; i++ {
		ops := randomOps(rng, 2+rng.IntN(7))
		w, ok := findOverwrite(ops)
		if !ok {
			continue
		}
		fired++
		require.False(t, brute(ops), "findOverwrite says illegal (%s then %s), brute force finds an order:\n%s",
			w.a.describe(), w.b.describe(), describeOps(ops))
	}
	assert.Greater(t, fired, n/50, "the rule must be exercised")
}

func TestOverwrite(t *testing.T) {
	b := func() *checkertest.Builder { return checkertest.New() }
	tests := []struct {
		name  string
		h     *checkertest.Builder
		fires bool
		says  string
	}{
		{"stale read after a write",
			b().Write(0, "x", 1).Write(0, "x", 2).Read(1, "x", 1), true, "p0 write x=2 (ok, event 2) completed, leaving x = 2"},
		{"a read sees the later write, then an earlier value",
			b().Write(0, "x", 1).Write(1, "x", 2).Read(2, "x", 2).Read(2, "x", 1), true, "each completed before the first began"},
		{"back to absent",
			b().Write(0, "x", 1).Read(1, "x", nil), true, "nothing sets x back to null"},
		{"a cas found what no one could have left",
			b().Write(0, "x", 1).Write(0, "x", 2).CAS(1, "x", 1, 3), true, "found x = 1"},
		{"a cas leaves its new value",
			b().Write(0, "x", 1).CAS(0, "x", 1, 2).Read(1, "x", 1), true, "leaving x = 2"},
		{"sequential, legal",
			b().Write(0, "x", 1).Read(1, "x", 1).Write(0, "x", 2).Read(1, "x", 2), false, ""},
		{"the setter is concurrent with the stale read",
			b().Write(0, "x", 2).Invoke(1, "write", "x", 1).Read(2, "x", 1).OK(1, 1), false, ""},
		{"an info write of the value may land later",
			b().Write(0, "x", 1).Invoke(1, "write", "x", 1).Info(1).Write(0, "x", 2).Read(2, "x", 1), false, ""},
		{"a failed write sets nothing",
			b().Write(0, "x", 2).Invoke(1, "write", "x", 1).Fail(1, "refused").Read(2, "x", 1), true, "nothing sets x = 1"},
		{"a mismatch is not an observation of a value",
			b().Write(0, "x", 2).Invoke(1, "cas", "x", []any{1, 3}).Fail(1, history.ErrorMismatch).Read(2, "x", 2), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, probs := registerHistory(tc.h.Events())
			require.False(t, probs.any())
			w, ok := findOverwrite(ops)
			require.Equal(t, tc.fires, ok)
			require.Equal(t, !tc.fires, brute(ops), "brute force agrees")
			if ok {
				assert.Contains(t, w.explain("x", len(ops)).Explanation, tc.says)
			}
		})
	}
}

// Many concurrent writes and reads, then reads in an order no
// linearization allows: the search alone meets its memory bound (a user's
// report: unknown after 9.5 s at 512 MiB); the overwrite rule decides it
// at once, and names the reads.
func TestOverwriteDecidesWhatTheSearchCannot(t *testing.T) {
	h := checkertest.New()
	const n = 22
	for p := 0; p < n; p++ {
		h.Invoke(p, "write", "x", p+1)
	}
	for p := 0; p < n; p++ {
		h.Invoke(n+p, "read", "x", nil)
	}
	for p := 0; p < n; p++ {
		h.OK(p, p+1)
	}
	for p := 0; p < n; p++ {
		h.OK(n+p, (p*7)%n+1)
	}
	h.Read(100, "x", 3).Read(100, "x", 4).Read(100, "x", 3)
	ops, _ := registerHistory(h.Events())
	kept, _ := pruneInPlace(ops)
	s := searchKey(context.Background(), kept, searchLimits{maxEntries: (64 << 20) / memoBytesPerEntry, deadline: time.Now().Add(20 * time.Second)})
	require.Equal(t, searchUnknown, s.verdict, "the search alone does not decide it in 64 MiB")
	c, err := New("linearizable", Options{SearchMemory: 64 << 20})
	require.NoError(t, err)
	start := time.Now()
	res := c.Check(context.Background(), h.Events())
	require.Equal(t, Invalid, res.Valid, res.Reason)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NotEmpty(t, res.Anomalies)
	e := res.Anomalies[0].Explanation
	assert.Contains(t, e, "p100 read x=4")
	assert.Contains(t, e, "p100 read x=3")
	t.Log(e)
}
