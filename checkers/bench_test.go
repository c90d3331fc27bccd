package checkers_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// kvHistory is a benchmark history: ops operations of a kv workload by
// processes concurrent clients over keys keys, ending with final reads on
// three nodes.
func kvHistory(ops, processes, keys int, info float64) []history.Event {
	return checkertest.Register(checkertest.RegisterConfig{
		Seed: 42, Ops: ops, Processes: processes, Keys: keys,
		ReadRate: 0.5, CASRate: 0.1, InfoRate: info, Nodes: 3,
	})
}

func benchChecker(b *testing.B, name string, events []history.Event) {
	c, err := checkers.New(name, checkers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if r := c.Check(context.Background(), events); r.Valid != checkers.Valid {
			b.Fatalf("%s: %v %s %+v", name, r.Valid, r.Reason, r.Anomalies)
		}
	}
	// The machine may be shared: CPU time (user+system, all threads,
	// garbage collector included) says what the check cost when wall time
	// is inflated by other load.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e9, "cpu-s/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The target: linearizable on a 100,000-op kv history (100 keys,
// 10 processes) in under 5 s.
func BenchmarkLinearizable100k(b *testing.B) {
	benchChecker(b, "linearizable", kvHistory(100_000, 10, 100, 0))
}

// causal+, causal and eventual at two sizes, 20 sessions, to show the
// growth with history length (targets: causal+ 100k < 2 s, 1M < 30 s and
// < 2 GB).
func BenchmarkCausal(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		events := kvHistory(n, 20, 100, 0)
		for _, model := range []string{"causal+", "causal", "eventual"} {
			b.Run(fmt.Sprintf("%s/ops=%d", model, n), func(b *testing.B) { benchChecker(b, model, events) })
		}
	}
}

// With info completions each retired process is a new session: 1% info on
// 100k ops gives about a thousand sessions.
func BenchmarkCausalManySessions(b *testing.B) {
	benchChecker(b, "causal+", kvHistory(100_000, 20, 100, 0.01))
}

func BenchmarkSet100k(b *testing.B) {
	benchChecker(b, "set", checkertest.Set(checkertest.SetConfig{Seed: 1, Ops: 100_000, Processes: 10, Sets: 10, ReadRate: 0.01, Nodes: 3}))
}

// One key for a whole run, as the register workload used to keep it, with
// a few dozen operations of unknown outcome among tens of thousands: the
// shape that took Porcupine past 10 GB.
func BenchmarkLinearizableOneKeyInfo(b *testing.B) {
	events := checkertest.Register(checkertest.RegisterConfig{
		Seed: 7, Ops: 15_000, Processes: 10, Keys: 1,
		ReadRate: 0.4, CASRate: 0.4, InfoRate: 0.0025, Nodes: 3,
	})
	benchChecker(b, "linearizable", events)
}
