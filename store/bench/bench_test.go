// Package bench measures the reference store: write and read throughput
// and latency per mode, against a 3-node cluster of real storenode
// processes on loopback (data in a temp dir), through the Go client over
// HTTP from this process.
//
//	go test -run '^$' -bench . -benchtime 2s ./store/bench
//
// Clients are spread round-robin over the three nodes, as the harness
// spreads its processes (in strong mode followers forward to the leader).
package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
)

const keys = 1000

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

func BenchmarkStore(b *testing.B) {
	for _, mode := range store.Modes {
		b.Run(string(mode), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := startProcs(b, mode, 3, b.TempDir())
			addrs := c.addrs
			// Populate every key, so reads find values.
			cl, err := client.New(client.Config{Endpoints: addrs, Timeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < keys; i++ {
				if err := retry(ctx, func() error { return cl.Write(ctx, key(i), "init") }); err != nil {
					b.Fatalf("populate: %v", err)
				}
			}
			for _, op := range []string{"write", "read"} {
				for _, clients := range []int{1, 64} {
					b.Run(fmt.Sprintf("%s/clients=%d", op, clients), func(b *testing.B) {
						run(b, c, op, clients)
					})
				}
			}
		})
	}
}

func key(i int) string { return fmt.Sprintf("key-%d", i%keys) }

func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run performs b.N operations with the given number of concurrent
// clients and reports ops/s, p50 and p99 latency and the error count.
func run(b *testing.B, c *procCluster, op string, clients int) {
	addrs := c.addrs
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, clients)
	cls := make([]*client.Client, clients)
	for i := range cls {
		cl, err := client.New(client.Config{Endpoints: addrs, ID: fmt.Sprintf("bench%d", i), Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		cl.Use(i % len(addrs))
		cls[i] = cl
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	b.ResetTimer()
	commits0 := c.commits()
	clientCPU0, nodeCPU0 := cpuTime(), c.cpuTime()
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl := cls[i]
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				t0 := time.Now()
				var err error
				if op == "write" {
					err = cl.Write(ctx, key(int(n)), fmt.Sprintf("v%d", n))
				} else {
					_, _, err = cl.Read(ctx, key(int(n)))
				}
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	clientCPU, nodeCPU := cpuTime()-clientCPU0, c.cpuTime()-nodeCPU0
	b.StopTimer()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(errs.Load()), "errors")
	// CPU time of the three node processes and of the clients (this
	// process) per operation: less sensitive than ops/s to other load on
	// the machine.
	b.ReportMetric(float64((clientCPU+nodeCPU).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(nodeCPU.Microseconds())/float64(b.N), "node-cpu-µs/op")
	if op == "write" && c.mode != store.Strong {
		// Group commits of all three nodes per write: each write is
		// stored on three nodes, so 3 would be one fsync per copy.
		b.ReportMetric(float64(c.commits()-commits0)/float64(b.N), "fsyncs/op")
	}
	if e := errs.Load(); e > int64(b.N)/100 {
		b.Errorf("%d of %d operations failed; the first: %v", e, b.N, firstErr.Load())
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
