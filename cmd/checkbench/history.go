package main

import (
	"math/rand/v2"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// History is the bench's history for seed: a kv run's shape (see the
// package doc), valid under linearizability by construction (checkertest
// simulates a single-copy store). Times are nanoseconds over about 60 s,
// spaced irregularly; a partition starts every 6 s and heals 3 s later.
func History(seed uint64) []history.Event {
	ops := checkertest.Register(checkertest.RegisterConfig{
		Seed: seed, Ops: 37_000, Processes: 20, Keys: 136,
		ReadRate: 0.5, CASRate: 0.1, InfoRate: 0.005, LostRate: 0.0005, Nodes: 3,
	})
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]history.Event, 0, len(ops)+32)
	var t, nextFault int64
	faultOn := false
	grudge := map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
	for _, e := range ops {
		t += 1 + rng.Int64N(1_600_000) // 0.8 ms apart on average: 60 s in all
		if t >= nextFault {
			f, v := "start-partition", history.MustValue(map[string]any{"mode": "one", "grudge": grudge})
			if faultOn {
				f, v = "stop-partition", history.MustValue(map[string]any{"healed": []string{"n1", "n2", "n3"}})
			}
			out = append(out, history.Event{Process: history.NemesisProcess, Type: history.Info, F: f, Value: v, Time: t})
			faultOn = !faultOn
			nextFault = t + 3_000_000_000
			t++
		}
		e.Time = t
		out = append(out, e)
	}
	for i := range out {
		out[i].Index = int64(i)
	}
	return out
}
