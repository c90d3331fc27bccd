package causal

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/store"
)

// BenchmarkWrite measures engine writes (no client HTTP; replication over
// loopback HTTP to the other nodes), 64 concurrent writers spread over
// the nodes.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			ids := []string{"a", "b", "c"}[:n]
			c := newCluster(b, ids, nil)
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				g := next.Add(1)
				e := c.Nodes[ids[int(g)%n]].Eng
				i := 0
				for pb.Next() {
					i++
					if _, err := e.Write(context.Background(), store.WriteRequest{Key: fmt.Sprintf("k%d", i%1000), Value: "v", RequestID: fmt.Sprintf("%d-%d", g, i)}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
			st := c.Nodes["a"].Eng.Stats()
			b.ReportMetric(float64(st.Disk.Commits)/float64(b.N), "a-commits/op")
			b.ReportMetric(float64(st.Disk.CommitTime.Microseconds())/float64(st.Disk.Commits), "a-µs/commit")
		})
	}
}

// cpuTime is the process's user+sys CPU time: on a shared machine
// wall-clock ns/op depends on the neighbours, CPU per op does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
