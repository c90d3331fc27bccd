package checkers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// brute decides a single key's register operations by trying every order
// that respects real time (at equal times, the history's order), each info operation either taking effect at its
// place or never: exponential, obviously right, with no pruning and no
// canonical placement.
func brute(ops []regOp) bool {
	used := make([]bool, len(ops))
	var try func(state string, placed int) bool
	try = func(state string, placed int) bool {
		if placed == len(ops) {
			return true
		}
		for i, o := range ops {
			if used[i] {
				continue
			}
			blocked := false
			for j, p := range ops {
				if !used[j] && j != i && precedes(p, o) {
					blocked = true
					break
				}
			}
			if blocked {
				continue
			}
			next, ok := state, true
			match := state == o.expected && state != "null"
			switch {
			case o.kind == regRead:
				ok = o.value == state
			case o.kind == regWrite:
				next = o.value
			case o.status == statusMismatch:
				ok = !match
			case o.status == statusInfo:
				if match {
					next = o.value
				}
			default:
				ok = match
				next = o.value
			}
			used[i] = true
			if ok && try(next, placed+1) {
				return true
			}
			if o.status == statusInfo && try(state, placed+1) {
				return true
			}
			used[i] = false
		}
		return false
	}
	return try("null", 0)
}

// randomOps is a random single-key history of n operations by up to 4
// processes, with many info writes, info cas and mismatches, and values
// drawn from a small range so that they repeat.
func randomOps(rng *rand.Rand, n int) []regOp {
	var ops []regOp
	t := int64(0)
	val := func() string {
		if rng.IntN(6) == 0 {
			return "null"
		}
		return strconv.Itoa(rng.IntN(4) + 1)
	}
	for i := 0; i < n; i++ {
		t += int64(rng.IntN(3))
		call := t
		ret := call + int64(rng.IntN(8))
		r := regOp{op: history.Op{Process: i, Key: "x", Call: call, Return: ret, InvokeIndex: int64(i)}}
		switch rng.IntN(3) {
		case 0:
			r.kind, r.value = regRead, val()
		case 1:
			r.kind, r.value = regWrite, strconv.Itoa(rng.IntN(4)+1)
			if rng.IntN(2) == 0 {
				r.status = statusInfo
			}
		default:
			r.kind, r.expected, r.value = regCAS, val(), strconv.Itoa(rng.IntN(4)+1)
			switch rng.IntN(3) {
			case 0:
				r.status = statusInfo
			case 1:
				r.status = statusMismatch
			}
		}
		if r.status == statusInfo {
			r.op.Return = history.Never
		}
		ops = append(ops, r)
	}
	return inHistoryOrder(rng, ops)
}

func describeOps(ops []regOp) string {
	var s string
	for _, r := range ops {
		ret := "∞"
		if r.op.Return != history.Never {
			ret = strconv.FormatInt(r.op.Return, 10)
		}
		s += fmt.Sprintf("  [%d,%s] %s\n", r.op.Call, ret, r.describe())
	}
	return s
}

// Pruning never changes the verdict: on random histories full of info
// writes, info cas and mismatches, brute force agrees on the history before
// and after pruning; and the search agrees with brute force on both.
func TestPruneAndSearchAgreeWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 7))
	var valid, invalid, prunedAny int
	for i := range 4000 {
		ops := randomOps(rng, 3+rng.IntN(6))
		want := brute(ops)
		kept, pruned := prune(ops)
		if pruned > 0 {
			prunedAny++
		}
		require.Equal(t, want, brute(kept), "pruning changed the verdict of history %d:\n%s\nkept:\n%s", i, describeOps(ops), describeOps(kept))
		for _, h := range [][]regOp{ops, kept} {
			got := searchKey(context.Background(), h, searchLimits{})
			require.NotEqual(t, searchUnknown, got.verdict)
			require.Equal(t, want, got.verdict == searchOK, "search disagrees on history %d:\n%s", i, describeOps(h))
		}
		if want {
			valid++
		} else {
			invalid++
		}
	}
	t.Logf("%d valid, %d invalid, %d pruned something", valid, invalid, prunedAny)
	require.Greater(t, valid, 400)
	require.Greater(t, invalid, 400)
	require.Greater(t, prunedAny, 400, "the rules must be exercised")
}

// The examples the pruning rules are written around.
func TestPruneRules(t *testing.T) {
	op := func(kind regKind, status regStatus, call, ret int64, exp, val string) regOp {
		if status == statusInfo {
			ret = history.Never
		}
		return regOp{op: history.Op{Key: "x", Call: call, Return: ret}, kind: kind, status: status, expected: exp, value: val}
	}
	w := func(status regStatus, call, ret int64, v string) regOp { return op(regWrite, status, call, ret, "", v) }
	for _, tc := range []struct {
		name   string
		ops    []regOp
		pruned int
		valid  bool
	}{
		{"an unobserved info write goes", []regOp{w(statusOK, 0, 1, "1"), w(statusInfo, 2, 0, "2"), op(regRead, statusOK, 3, 4, "", "1")}, 1, true},
		{"an observed info write stays", []regOp{w(statusOK, 0, 1, "1"), w(statusInfo, 2, 0, "2"), op(regRead, statusOK, 3, 4, "", "2")}, 0, true},
		{"a mismatch may need an unobserved info write", []regOp{
			w(statusOK, 0, 1, "1"), w(statusInfo, 2, 0, "2"), op(regCAS, statusMismatch, 3, 4, "1", "3")}, 0, true},
		{"without it the mismatch is illegal", []regOp{
			w(statusOK, 0, 1, "1"), op(regCAS, statusMismatch, 3, 4, "1", "3")}, 0, false},
		{"a mismatch that returned before the info write cannot need it", []regOp{
			w(statusOK, 0, 1, "1"), op(regCAS, statusMismatch, 2, 3, "5", "3"), w(statusInfo, 4, 0, "2"), w(statusOK, 5, 6, "5")}, 1, true},
		{"a mismatch expecting a value nobody writes goes", []regOp{
			w(statusOK, 0, 1, "1"), op(regCAS, statusMismatch, 2, 3, "9", "3")}, 1, true},
		{"then the info write it blocked goes too", []regOp{
			w(statusOK, 0, 1, "1"), w(statusInfo, 2, 0, "2"), op(regCAS, statusMismatch, 3, 4, "null", "3")}, 2, true},
		{"an info cas expecting an info write's value keeps it", []regOp{
			w(statusInfo, 0, 0, "1"), op(regCAS, statusInfo, 1, 0, "1", "2"), op(regRead, statusOK, 2, 3, "", "2")}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, pruned := prune(tc.ops)
			assert.Equal(t, tc.pruned, pruned, "kept:\n%s", describeOps(kept))
			assert.Equal(t, tc.valid, brute(tc.ops))
			assert.Equal(t, tc.valid, searchKey(context.Background(), kept, searchLimits{}).verdict == searchOK)
		})
	}
}

// adversarial is the checkers issue's history: n processes each write a
// distinct value with unknown outcome; then one process reads n, n-1, ...,
// 1, n — an order no linearization allows, since each write takes effect at
// most once.
func adversarial(n int) []regOp {
	var ops []regOp
	for i := 1; i <= n; i++ {
		ops = append(ops, regOp{op: history.Op{Process: i, Key: "k", Call: int64(i), Return: history.Never},
			kind: regWrite, status: statusInfo, value: strconv.Itoa(i)})
	}
	t := int64(n + 1)
	read := func(v int) {
		ops = append(ops, regOp{op: history.Op{Process: 0, Key: "k", Call: t, Return: t + 1}, kind: regRead, value: strconv.Itoa(v)})
		t += 2
	}
	for v := n; v >= 1; v-- {
		read(v)
	}
	read(n)
	return ops
}

// The adversarial histories are decided, illegal, in a few states per
// operation: only the write each read needs is ever placed before it.
func TestSearchAdversarialInfoWrites(t *testing.T) {
	for _, n := range []int{16, 20, 24, 200} {
		ops := adversarial(n)
		kept, pruned := prune(ops)
		assert.Zero(t, pruned, "every write is read")
		res := searchKey(context.Background(), kept, searchLimits{maxEntries: 1 << 20})
		require.Equal(t, searchIllegal, res.verdict, "n=%d", n)
		assert.Less(t, res.entries, 10*n*n, "n=%d: states", n)
		assert.Len(t, res.longest, 2*n, "n=%d: the n writes and n reads before the last read", n)
		// Without the last read it is linearizable.
		res = searchKey(context.Background(), kept[:len(kept)-1], searchLimits{})
		require.Equal(t, searchOK, res.verdict, "n=%d", n)
	}
}

// A search that would pass its memory share stops as unknown, saying so.
func TestSearchStopsAtItsBounds(t *testing.T) {
	ops := randomHeavy(3)
	res := searchKey(context.Background(), ops, searchLimits{maxEntries: 50})
	require.Equal(t, searchUnknown, res.verdict)
	assert.Equal(t, stopMemory, res.stop)
	assert.LessOrEqual(t, res.entries, 50)

	res = searchKey(context.Background(), ops, searchLimits{deadline: time.Now().Add(-time.Second)})
	assert.Equal(t, searchUnknown, res.verdict)
	assert.Equal(t, stopTime, res.stop)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = searchKey(ctx, ops, searchLimits{})
	assert.Equal(t, stopCancelled, res.stop)

	k := keyCheck{key: "k", ops: ops, search: keySearch{stop: stopMemory, entries: 50, elapsed: 2100 * time.Millisecond}}
	assert.Contains(t, k.why(1<<30), `search exceeded 1 GiB on key "k" after 2.1 s`)
}

// randomHeavy is a long valid single-key history with many concurrent
// operations, for bounds and memory tests.
func randomHeavy(seed uint64) []regOp {
	rng := rand.New(rand.NewPCG(seed, 1))
	var ops []regOp
	state := "null"
	for i := 0; i < 4000; i++ {
		call := int64(i * 10)
		r := regOp{op: history.Op{Process: i % 16, Key: "k", Call: call, Return: call + 150 + int64(rng.IntN(50))}}
		if rng.IntN(2) == 0 {
			state = strconv.Itoa(i + 1)
			r.kind, r.value = regWrite, state
		} else {
			r.kind, r.value = regRead, state
		}
		ops = append(ops, r)
	}
	return ops
}

// memoBytesPerEntry is not below what the memo table costs on the heap.
func TestSearchMemoryEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	var memo = make(map[[2]uint64]struct{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 1 << 20
	seed := uint64(1)
	for range n {
		memo[[2]uint64{splitmix(&seed), splitmix(&seed)}] = struct{}{}
	}
	runtime.ReadMemStats(&after)
	perEntry := float64(after.TotalAlloc-before.TotalAlloc) / n
	t.Logf("memo: %.1f bytes allocated per entry (including the tables left behind while growing)", perEntry)
	assert.LessOrEqual(t, perEntry, float64(memoBytesPerEntry))
	runtime.KeepAlive(memo)
}

// On histories too long for brute force — simulated single-key runs with
// many info writes, info cas and mismatches, half of them with one read
// changed to another written value — the search agrees with Porcupine (the
// same register model, without pruning or canonical placement).
func TestSearchAgreesWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	var valid, invalid int
	for i := range 1500 {
		events := checkertest.Register(checkertest.RegisterConfig{
			Seed: uint64(i), Ops: 20 + rng.IntN(40), Processes: 3 + rng.IntN(5), Keys: 1,
			ReadRate: 0.4, CASRate: 0.4, InfoRate: 0.1, LostRate: 0.02,
		})
		ops, err := registerOps(events)
		require.NoError(t, err)
		if rng.IntN(2) == 0 {
			var reads []int
			for j, r := range ops {
				if r.kind == regRead {
					reads = append(reads, j)
				}
			}
			if len(reads) > 0 {
				j := reads[rng.IntN(len(reads))]
				ops[j].value = strconv.Itoa(rng.IntN(len(ops)))
			}
		}
		want := porcupine.CheckOperations(registerModel("x"), porcupineOps(positional(ops)))
		kept, _ := prune(ops)
		got := searchKey(context.Background(), kept, searchLimits{})
		require.Equal(t, want, got.verdict == searchOK, "history %d:\n%s", i, describeOps(ops))
		if want {
			valid++
		} else {
			invalid++
		}
	}
	t.Logf("%d valid, %d invalid", valid, invalid)
	require.Greater(t, valid, 300)
	require.Greater(t, invalid, 300)
}
