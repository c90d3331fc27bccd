package checkertest_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

func TestBuilder(t *testing.T) {
	b := checkertest.New().Write(0, "x", 1).Invoke(1, "cas", "x", []int{1, 2}).Fail(1, "mismatch").
		FinalRead(2, "n1", "x", 1).Nemesis("start-partition", []string{"n1"})
	rr, err := history.Read(bytes.NewReader(b.JSONL()))
	require.NoError(t, err)
	require.Len(t, rr.Events, 7)
	assert.Equal(t, history.Fail, rr.Events[3].Type)
	assert.Equal(t, "mismatch", rr.Events[3].Error)
	assert.Equal(t, "[1,2]", history.Canonical(rr.Events[3].Value), "a completion carries its invoke's value")
	assert.True(t, rr.Events[4].Final)
	assert.Equal(t, "n1", rr.Events[5].Node)
	assert.True(t, rr.Events[6].IsNemesis())
	assert.Panics(t, func() { checkertest.New().OK(3, nil) }, "completing no invoke is a bug in the test")
}

func TestSimulatorsWriteReadableHistories(t *testing.T) {
	reg := checkertest.Register(checkertest.RegisterConfig{Seed: 9, Ops: 500, Processes: 6, Keys: 3, ReadRate: 0.4, CASRate: 0.3, InfoRate: 0.05, LostRate: 0.05, Nodes: 2})
	rr, err := history.Read(bytes.NewReader(checkertest.JSONL(reg)))
	require.NoError(t, err)
	assert.Equal(t, len(reg), len(rr.Events))
	types := map[history.Type]int{}
	finals := 0
	for _, op := range history.Pair(rr.Events) {
		types[op.Type]++
		if op.Final {
			finals++
		}
	}
	assert.Equal(t, 6, finals, "2 nodes × 3 keys")
	for _, ty := range []history.Type{history.OK, history.Fail, history.Info} {
		assert.Positive(t, types[ty], "the simulation produces %s completions", ty)
	}
	// The same seed gives the same history.
	assert.Equal(t, checkertest.JSONL(reg), checkertest.JSONL(checkertest.Register(checkertest.RegisterConfig{Seed: 9, Ops: 500, Processes: 6, Keys: 3, ReadRate: 0.4, CASRate: 0.3, InfoRate: 0.05, LostRate: 0.05, Nodes: 2})))

	set := checkertest.Set(checkertest.SetConfig{Seed: 2, Ops: 200, Processes: 4, Sets: 2, ReadRate: 0.3, InfoRate: 0.05, Nodes: 2})
	_, err = history.Read(bytes.NewReader(checkertest.JSONL(set)))
	require.NoError(t, err)
}
