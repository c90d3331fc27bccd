package workloads

import (
	"encoding/json"
	"sort"
	"strconv"
	"sync"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
)

// registerGen emits reads, writes and (with cas) compare-and-sets on the
// key keyOf chooses, in equal shares. Written values are unique across the
// whole run: a worker's k-th write (or cas) writes k*Workers + worker + 1,
// so causal checkers can tell every write apart. A cas expects the last
// value the worker saw on that key (read, written or cas'd), so it has a
// fair chance to succeed.
func registerGen(keyOf func(generator.Context) string, cas bool) generator.Generator {
	return &register{keyOf: keyOf, cas: cas, seq: map[int]int64{}, last: map[int]map[string]int64{}}
}

type register struct {
	keyOf func(generator.Context) string
	cas   bool
	mu    sync.Mutex
	seq   map[int]int64            // worker -> values drawn
	last  map[int]map[string]int64 // worker -> key -> last value seen
}

func (r *register) fresh(ctx generator.Context) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq[ctx.Worker]++
	return r.seq[ctx.Worker]*int64(ctx.Workers) + int64(ctx.Worker) + 1 - int64(ctx.Workers)
}

func (r *register) Next(ctx generator.Context) generator.Step {
	key := r.keyOf(ctx)
	n := 2
	if r.cas {
		n = 3
	}
	switch ctx.Rand.IntN(n) {
	case 0:
		return generator.Emitting(generator.Op{F: history.FRead, Key: key, Value: history.Null, Node: -1})
	case 1:
		return generator.Emitting(generator.Op{F: history.FWrite, Key: key, Value: history.IntValue(r.fresh(ctx)), Node: -1})
	default:
		r.mu.Lock()
		exp, ok := r.last[ctx.Worker][key]
		r.mu.Unlock()
		if !ok {
			// Nothing seen on this key yet: expect a value that was
			// never written, which fails with a mismatch (still an
			// observation for the checker).
			exp = 0
		}
		return generator.Emitting(generator.Op{F: history.FCAS, Key: key, Value: history.CASValue(exp, r.fresh(ctx)), Node: -1})
	}
}

func (r *register) Update(ctx generator.Context, op generator.Op, c generator.Completion) {
	if c.Type != history.OK {
		return
	}
	var v json.RawMessage
	switch op.F {
	case history.FRead:
		v = c.Value
	case history.FWrite:
		v = op.Value
	case history.FCAS:
		_, nv, err := history.SplitCAS(op.Value)
		if err != nil {
			return
		}
		v = nv
	default:
		return
	}
	n, err := strconv.ParseInt(history.Canonical(v), 10, 64)
	if err != nil {
		return // null or not ours
	}
	r.mu.Lock()
	m := r.last[ctx.Worker]
	if m == nil {
		m = map[string]int64{}
		r.last[ctx.Worker] = m
	}
	m[op.Key] = n
	r.mu.Unlock()
}

func sortStrings(s []string) { sort.Strings(s) }
