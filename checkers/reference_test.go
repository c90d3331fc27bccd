package checkers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
)

// refOp is one read or write of a small random history for the reference
// checker. Value 0 is null (absent).
type refOp struct {
	sess  int
	write bool
	key   int
	val   int
	// cas marks the read half of a cas: the write half follows it.
	cas bool
}

// refPatterns decides the bad patterns by their definitions, with causal
// order computed by a cubic transitive closure: slow, obviously right, for
// small histories.
func refPatterns(ops []refOp) map[string]bool {
	n := len(ops)
	co := make([][]bool, n)
	for i := range co {
		co[i] = make([]bool, n)
	}
	writer := map[[2]int]int{}
	for i, o := range ops {
		if o.write {
			writer[[2]int{o.key, o.val}] = i
		}
	}
	from := make([]int, n) // -1 init, -2 nowhere
	found := map[string]bool{}
	for i, o := range ops {
		for j := i + 1; j < n; j++ {
			if ops[j].sess == o.sess {
				co[i][j] = true
			}
		}
		if o.write {
			continue
		}
		switch w, ok := writer[[2]int{o.key, o.val}]; {
		case o.val == 0:
			from[i] = -1
		case ok:
			from[i] = w
			co[w][i] = true
		default:
			from[i] = -2
			found["ThinAirRead"] = true
		}
	}
	closure := func(m [][]bool) {
		for k := range n {
			for i := range n {
				if !m[i][k] {
					continue
				}
				for j := range n {
					if m[k][j] {
						m[i][j] = true
					}
				}
			}
		}
	}
	closure(co)
	for i := range n {
		if co[i][i] {
			found["CyclicCO"] = true
			return found
		}
	}
	cf := make([][]bool, n)
	for i := range cf {
		cf[i] = slices.Clone(co[i])
	}
	for r, o := range ops {
		if o.write || from[r] == -2 {
			continue
		}
		for w2, p := range ops {
			if !p.write || p.key != o.key || w2 == from[r] || !co[w2][r] {
				continue
			}
			if from[r] == -1 {
				found["WriteCOInitRead"] = true
				continue
			}
			if co[from[r]][w2] {
				found["WriteCORead"] = true
			}
			cf[w2][from[r]] = true
		}
	}
	closure(cf)
	for i := range n {
		if cf[i][i] {
			found["CyclicCF"] = true
		}
	}
	return found
}

// randomHistory is a small history of sessions doing sequential reads and
// writes; reads return a random value of their key (or null), so many are
// anomalous.
func randomHistory(rng *rand.Rand) ([]refOp, *checkertest.Builder) {
	sessions, keys := 2+rng.IntN(3), 1+rng.IntN(2)
	next := map[int]int{}
	var ops []refOp
	per := make([]int, sessions)
	for range 4 + rng.IntN(10) {
		s := rng.IntN(sessions)
		per[s]++
		k := rng.IntN(keys)
		switch x := rng.IntN(8); {
		case x < 3:
			next[k]++
			ops = append(ops, refOp{sess: s, write: true, key: k, val: next[k]})
		case x < 4: // a cas that succeeded: a read of expected, then a write
			ops = append(ops, refOp{sess: s, key: k, val: rng.IntN(next[k] + 1), cas: true})
			next[k]++
			ops = append(ops, refOp{sess: s, write: true, key: k, val: next[k]})
		default:
			ops = append(ops, refOp{sess: s, key: k, val: -1}) // value chosen below
		}
	}
	for i := range ops {
		if ops[i].val == -1 {
			ops[i].val = rng.IntN(next[ops[i].key] + 1) // 0 (null) .. any written value
		}
	}
	b := checkertest.New()
	val := func(v int) any {
		if v == 0 {
			return nil
		}
		return v
	}
	for i := 0; i < len(ops); i++ {
		o := ops[i]
		key := fmt.Sprintf("k%d", o.key)
		switch {
		case o.cas:
			b.CAS(o.sess, key, val(o.val), val(ops[i+1].val))
			i++
		case o.write:
			b.Write(o.sess, key, val(o.val))
		default:
			b.Read(o.sess, key, val(o.val))
		}
	}
	return ops, b
}

// The vector-clock checkers agree with the definitions on thousands of
// small random histories.
func TestCausalAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	causal, _ := checkers.New("causal", checkers.Options{})
	causalPlus, _ := checkers.New("causal+", checkers.Options{})
	for i := range 3000 {
		ops, b := randomHistory(rng)
		want := refPatterns(ops)
		events := b.Events()
		got := map[string]bool{}
		cres := causal.Check(context.Background(), events)
		for _, a := range cres.Anomalies {
			got[a.Name] = true
		}
		pres := causalPlus.Check(context.Background(), events)
		ccWant := want["ThinAirRead"] || want["CyclicCO"] || want["WriteCOInitRead"] || want["WriteCORead"]
		msg := fmt.Sprintf("history %d: %s\nreference %v, causal %v %+v", i, checkertest.JSONL(events), want, got, cres.Anomalies)
		require.Equal(t, ccWant, cres.Valid == checkers.Invalid, msg)
		require.Equal(t, ccWant || want["CyclicCF"], pres.Valid == checkers.Invalid, msg+fmt.Sprintf("\ncausal+ %+v", pres.Anomalies))
		if want["CyclicCO"] {
			require.True(t, got["CyclicCO"], msg)
			continue // after a cycle, the checker cuts edges: other patterns may differ
		}
		for _, name := range []string{"ThinAirRead", "WriteCOInitRead", "WriteCORead"} {
			require.Equal(t, want[name], got[name], "%s\n%s", name, msg)
		}
		if want["CyclicCF"] && !want["WriteCORead"] {
			require.Contains(t, names(pres.Anomalies), "CyclicCF", msg)
		}
	}
}
