package checkers

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"

	"github.com/faultline/faultline/history"
)

// groupByKey reorders in place: keys sorted, each key's operations in
// their original order, none lost or repeated.
func TestGroupByKeyInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for range 200 {
		n := rng.IntN(60)
		ops := make([]regOp, n)
		want := map[string][]int64{}
		for i := range ops {
			k := "k" + strconv.Itoa(rng.IntN(7))
			ops[i] = regOp{op: history.Op{Key: k, InvokeIndex: int64(i)}}
			want[k] = append(want[k], int64(i))
		}
		keys := groupByKey(ops)
		if !sort.SliceIsSorted(keys, func(i, j int) bool { return keys[i].key < keys[j].key }) || len(keys) != len(want) {
			t.Fatalf("keys %v", keys)
		}
		for _, k := range keys {
			var got []int64
			for _, op := range k.ops {
				if op.op.Key != k.key {
					t.Fatalf("key %s holds an op of %s", k.key, op.op.Key)
				}
				got = append(got, op.op.InvokeIndex)
			}
			if len(got) != len(want[k.key]) {
				t.Fatalf("key %s: %v, want %v", k.key, got, want[k.key])
			}
			for i := range got {
				if got[i] != want[k.key][i] {
					t.Fatalf("key %s: %v, want %v", k.key, got, want[k.key])
				}
			}
		}
	}
}
