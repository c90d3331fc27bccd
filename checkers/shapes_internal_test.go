package checkers

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/history"
)

// Differential tests of the search and the pruning rules on shapes the
// random histories of search_internal_test.go seldom make: chains of info
// cas, repeated values and null writes, ties and zero-length intervals,
// histories of info operations but one, mismatches expecting values only
// info operations write; long simulated runs; concurrent info chains.

type shape int

const (
	shChains       shape = iota // info cas chains
	shRepeat                    // repeated values, null writes
	shTies                      // identical times, zero-length intervals
	shAllInfo                   // every op info except one
	shMismatchInfo              // mismatches expecting values only info ops write
	nShapes
)

func mk(kind regKind, st regStatus, call, ret int64, exp, val string, i int) regOp {
	r := regOp{op: history.Op{Process: i, Key: "x", Call: call, Return: ret, InvokeIndex: int64(i)}, kind: kind, status: st, expected: exp, value: val}
	if st == statusInfo {
		r.op.Return = history.Never
	}
	if kind != regCAS {
		r.expected = ""
	}
	return r
}

// genShape makes a small history of n ops of the given shape.
func genShape(rng *rand.Rand, sh shape, n int) []regOp {
	var ops []regOp
	nvals := 3
	if sh == shRepeat {
		nvals = 2
	}
	val := func(nullp int) string {
		if nullp > 0 && rng.IntN(nullp) == 0 {
			return "null"
		}
		return strconv.Itoa(rng.IntN(nvals) + 1)
	}
	var infoVals []string // values written by info ops so far
	t := int64(0)
	for i := 0; i < n; i++ {
		var call, ret int64
		switch sh {
		case shTies:
			call = int64(rng.IntN(4))
			ret = call + int64(rng.IntN(3)) // often zero-length
		default:
			t += int64(rng.IntN(3))
			call = t
			ret = call + int64(rng.IntN(6))
		}
		var r regOp
		infoP := 3
		switch sh {
		case shChains:
			infoP = 2
		case shAllInfo:
			infoP = 0
		}
		isInfo := infoP == 0 || rng.IntN(infoP) == 0
		st := statusOK
		if isInfo {
			st = statusInfo
		}
		switch k := rng.IntN(3); {
		case k == 0:
			if isInfo && sh != shAllInfo {
				st = statusOK
			}
			v := val(4)
			if sh == shChains && len(infoVals) > 0 && rng.IntN(2) == 0 {
				v = infoVals[rng.IntN(len(infoVals))]
			}
			r = mk(regRead, st, call, ret, "", v, i)
			if sh == shAllInfo {
				r = mk(regWrite, statusInfo, call, ret, "", val(5), i)
			}
		case k == 1:
			nullp := 0
			if sh == shRepeat || sh == shTies {
				nullp = 5
			}
			r = mk(regWrite, st, call, ret, "", val(nullp), i)
		default:
			exp := val(6)
			if (sh == shChains || sh == shMismatchInfo) && len(infoVals) > 0 && rng.IntN(3) > 0 {
				exp = infoVals[rng.IntN(len(infoVals))]
			}
			nv := val(0)
			if sh == shChains || sh == shMismatchInfo {
				nv = strconv.Itoa(rng.IntN(nvals+3) + 1) // more fresh values
			}
			if sh == shRepeat && rng.IntN(6) == 0 {
				nv = "null"
			}
			if !isInfo && rng.IntN(2) == 0 {
				st = statusMismatch
			}
			if sh == shMismatchInfo && !isInfo {
				st = statusMismatch
			}
			r = mk(regCAS, st, call, ret, exp, nv, i)
		}
		if r.status == statusInfo && r.kind != regRead {
			infoVals = append(infoVals, r.value)
		}
		ops = append(ops, r)
	}
	if sh == shAllInfo {
		// exactly one decided op
		j := rng.IntN(len(ops))
		c := ops[j].op.Call
		switch rng.IntN(3) {
		case 0:
			ops[j] = mk(regRead, statusOK, c, c+int64(rng.IntN(4)), "", val(4), j)
		case 1:
			ops[j] = mk(regCAS, statusMismatch, c, c+int64(rng.IntN(4)), val(4), val(0), j)
		default:
			ops[j] = mk(regCAS, statusOK, c, c+int64(rng.IntN(4)), val(4), val(0), j)
		}
		for i := range ops {
			if i != j && rng.IntN(2) == 0 {
				ops[i] = mk(regCAS, statusInfo, ops[i].op.Call, 0, val(5), val(0), i)
			}
		}
	}
	if sh == shTies {
		// keep invoke order
		for i := 1; i < len(ops); i++ {
			for j := i; j > 0 && ops[j].op.Call < ops[j-1].op.Call; j-- {
				ops[j], ops[j-1] = ops[j-1], ops[j]
			}
		}
	}
	return inHistoryOrder(rng, ops)
}

// rvOK is the search's verdict, which must be decided on these sizes.
func rvOK(h []regOp) bool {
	got := searchKey(context.Background(), h, searchLimits{})
	if got.verdict == searchUnknown {
		panic("unknown")
	}
	return got.verdict == searchOK
}

// Brute force, Porcupine and the search (before and after pruning) agree.
func TestShapesAgreeWithBruteForce(t *testing.T) {
	for sh := shape(0); sh < nShapes; sh++ {
		rng := rand.New(rand.NewPCG(uint64(sh)+100, 42))
		var valid, invalid, pr int
		for i := range scaled(1500) {
			ops := genShape(rng, sh, 3+rng.IntN(7))
			want := brute(ops)
			kept, pruned := prune(ops)
			if pruned > 0 {
				pr++
			}
			por := porcupine.CheckOperations(registerModel("x"), porcupineOps(positional(ops)))
			require.Equal(t, want, por, "porcupine vs brute shape %d #%d:\n%s", sh, i, describeOps(ops))
			require.Equal(t, want, brute(kept), "prune shape %d #%d:\n%s\nkept:\n%s", sh, i, describeOps(ops), describeOps(kept))
			require.Equal(t, want, rvOK(ops), "search shape %d #%d:\n%s", sh, i, describeOps(ops))
			require.Equal(t, want, rvOK(kept), "search pruned shape %d #%d:\n%s", sh, i, describeOps(kept))
			if want {
				valid++
			} else {
				invalid++
			}
		}
		t.Logf("shape %d: %d valid %d invalid %d pruned", sh, valid, invalid, pr)
	}
}

// long: simulate a register with few processes, info ops, then perturb.
func genLong(rng *rand.Rand, n, procs int) []regOp {
	type pst struct{ busyUntil int64 }
	ps := make([]int64, procs)
	state := "null"
	var ops []regOp
	t := int64(0)
	nv := 0
	var written []string
	for i := 0; i < n; i++ {
		p := rng.IntN(procs)
		t += int64(rng.IntN(3))
		if ps[p] > t {
			t = ps[p]
		}
		call := t
		dur := int64(rng.IntN(12))
		ret := call + dur
		// linearization point somewhere: apply immediately (simplification; concurrency gives slack)
		var r regOp
		info := rng.IntN(6) == 0
		switch k := rng.IntN(10); {
		case k < 4:
			r = mk(regRead, statusOK, call, ret, "", state, i)
		case k < 6:
			var v string
			if len(written) > 0 && rng.IntN(3) == 0 {
				v = written[rng.IntN(len(written))]
			} else {
				nv++
				v = strconv.Itoa(nv)
			}
			st := statusOK
			if info {
				st = statusInfo
			}
			r = mk(regWrite, st, call, ret, "", v, i)
			if !info || rng.IntN(2) == 0 {
				state = v
			}
			written = append(written, v)
		default:
			exp := state
			if rng.IntN(3) == 0 && len(written) > 0 {
				exp = written[rng.IntN(len(written))]
			}
			var v string
			if len(written) > 0 && rng.IntN(3) == 0 {
				v = written[rng.IntN(len(written))]
			} else {
				nv++
				v = strconv.Itoa(nv)
			}
			matches := exp == state && state != "null"
			st := statusOK
			if info {
				st = statusInfo
				if matches && rng.IntN(2) == 0 {
					state = v
				}
			} else if !matches {
				st = statusMismatch
			} else {
				state = v
			}
			r = mk(regCAS, st, call, ret, exp, v, i)
			written = append(written, v)
		}
		if r.status == statusInfo {
			ps[p] = 1 << 60 // process retired
			// replace with fresh process: reuse slot later
			ps[p] = call + 1
		} else {
			ps[p] = ret + 1
		}
		ops = append(ops, r)
	}
	// perturb
	switch rng.IntN(3) {
	case 0:
		j := rng.IntN(len(ops))
		if ops[j].kind == regRead && len(written) > 0 {
			ops[j].value = written[rng.IntN(len(written))]
		}
	case 1:
		j := rng.IntN(len(ops))
		if ops[j].status == statusMismatch {
			ops[j].status = statusOK
		} else if ops[j].kind == regCAS && ops[j].status == statusOK {
			ops[j].status = statusMismatch
		}
	}
	return inHistoryOrder(rng, ops)
}

// On long simulated runs, perturbed, the search agrees with Porcupine.
func TestLongRunsAgreeWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 3))
	var valid, invalid int
	for i := range 150 {
		ops := genLong(rng, 50+rng.IntN(150), 2+rng.IntN(3))
		want := porcupine.CheckOperations(registerModel("x"), porcupineOps(positional(ops)))
		kept, _ := prune(ops)
		require.Equal(t, want, rvOK(ops), "search #%d:\n%s", i, describeOps(ops))
		require.Equal(t, want, rvOK(kept), "search pruned #%d:\n%s", i, describeOps(ops))
		if want {
			valid++
		} else {
			invalid++
		}
	}
	t.Logf("%d valid %d invalid", valid, invalid)
}

// concurrent info chains followed by sequential observers, vs porcupine.
func genChain(rng *rand.Rand) []regOp { return genChainK(rng, 9, 10) }

func genChainK(rng *rand.Rand, K, M int) []regOp {
	var ops []regOp
	k := 3 + rng.IntN(K)
	nv := 2 + rng.IntN(k)
	v := func() string { return strconv.Itoa(rng.IntN(nv) + 1) }
	var w []string
	for i := 0; i < k; i++ {
		call := int64(rng.IntN(4))
		var r regOp
		if i == 0 || rng.IntN(4) == 0 {
			r = mk(regWrite, statusInfo, call, 0, "", v(), i)
		} else {
			r = mk(regCAS, statusInfo, call, 0, w[rng.IntN(len(w))], v(), i)
		}
		w = append(w, r.value)
		ops = append(ops, r)
	}
	// a few ok ops concurrent with the chain
	t := int64(rng.IntN(3))
	m := 2 + rng.IntN(M)
	for j := 0; j < m; j++ {
		i := k + j
		call := t
		ret := t + int64(rng.IntN(3))
		t = ret + int64(rng.IntN(2)) // ties possible
		pick := func() string {
			if rng.IntN(6) == 0 {
				return "null"
			}
			return w[rng.IntN(len(w))]
		}
		var r regOp
		switch rng.IntN(5) {
		case 0, 1:
			r = mk(regRead, statusOK, call, ret, "", pick(), i)
		case 2:
			r = mk(regCAS, statusMismatch, call, ret, pick(), v(), i)
		case 3:
			r = mk(regCAS, statusOK, call, ret, pick(), v(), i)
		default:
			r = mk(regWrite, statusOK, call, ret, "", v(), i)
		}
		ops = append(ops, r)
	}
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].op.Call < ops[j-1].op.Call; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
	return inHistoryOrder(rng, ops)
}

// Concurrent info chains followed by observers: the search agrees with
// Porcupine.
func TestInfoChainsAgreeWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(992, 6))
	var valid, invalid, pr int
	for i := range scaled(4000) {
		ops := genChain(rng)
		want := porcupine.CheckOperations(registerModel("x"), porcupineOps(positional(ops)))
		kept, p := prune(ops)
		if p > 0 {
			pr++
		}
		require.Equal(t, want, rvOK(ops), "search #%d:\n%s", i, describeOps(ops))
		require.Equal(t, want, rvOK(kept), "search pruned #%d:\n%s\nkept\n%s", i, describeOps(ops), describeOps(kept))
		if want {
			valid++
		} else {
			invalid++
		}
	}
	t.Logf("%d valid %d invalid %d pruned", valid, invalid, pr)
}

// scaled is n, or a fifth of it under -short (make test), where these
// exponential references would cost most of a minute.
func scaled(n int) int {
	if testing.Short() {
		return n / 5
	}
	return n
}
