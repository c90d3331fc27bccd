package workloads

import (
	"sync"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
)

// SetKey is the key of the set workload's one set.
const SetKey = "set"

// setGen emits adds of unique integer elements (a worker's k-th add adds
// k*Workers + worker + 1) and, one op in ten, a read of the whole set,
// whose ok value is the JSON array of the elements present. How the set
// is stored is up to the system's client adapter.
func setGen() generator.Generator { return &set{seq: map[int]int64{}} }

type set struct {
	mu  sync.Mutex
	seq map[int]int64
}

func (s *set) Next(ctx generator.Context) generator.Step {
	if ctx.Rand.IntN(10) == 0 {
		return generator.Emitting(generator.Op{F: history.FRead, Key: SetKey, Value: history.Null, Node: -1})
	}
	s.mu.Lock()
	s.seq[ctx.Worker]++
	e := (s.seq[ctx.Worker]-1)*int64(ctx.Workers) + int64(ctx.Worker) + 1
	s.mu.Unlock()
	return generator.Emitting(generator.Op{F: history.FAdd, Key: SetKey, Value: history.IntValue(e), Node: -1})
}
