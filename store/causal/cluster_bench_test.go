//go:build clusterbench

// Run with: go test -tags clusterbench -run XXX -bench ClusterWrite ./store/causal/
// (behind a tag so that this package's tests do not depend on store/node
// and the strong mode building).

package causal_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/causal"
	"github.com/faultline/faultline/store/client"
	"github.com/faultline/faultline/store/durable"
	"github.com/faultline/faultline/store/eventual"
	"github.com/faultline/faultline/store/node"
)

// BenchmarkClusterWrite is the whole path: a 3-node in-process cluster
// (store/node) over loopback HTTP, 64 clients of store/client spread over
// the nodes, every write fsynced and replicated. The harness-level
// benchmark lives in store/bench; this one is for tuning the engines.
func BenchmarkClusterWrite(b *testing.B) {
	for _, mode := range []store.Mode{store.Causal, store.Eventual, "baseline"} {
		b.Run(string(mode), func(b *testing.B) {
			cfg := node.ClusterConfig{
				Nodes: 3, Mode: mode, Dir: b.TempDir(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			if mode == "baseline" {
				// Not a store: an engine that does nothing, to measure
				// what the HTTP path alone costs.
				cfg.Mode = store.Eventual
				cfg.NewEngine = func(store.Env) (store.Engine, error) { return nopEngine{}, nil }
			}
			c, err := node.StartCluster(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			addrs := c.ClientAddrs()
			var next atomic.Int64
			b.SetParallelism(32) // 64 clients on 2 cores
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				g := int(next.Add(1))
				cl, err := client.New(client.Config{Endpoints: addrs})
				if err != nil {
					b.Error(err)
					return
				}
				cl.Use(g % len(addrs))
				for i := 0; pb.Next(); i++ {
					if err := cl.Write(context.Background(), fmt.Sprintf("k%d", (g*7919+i)%1000), "v"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			// CPU per write (user+sys of the whole process: clients, three
			// nodes, replication, bbolt): on a shared machine wall-clock
			// ns/op depends on the neighbours, this does not.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
			var disk durable.Stats
			switch e := c.Node("n1").Engine().(type) {
			case *causal.Engine:
				disk = e.Stats().Disk
			case *eventual.Engine:
				disk = e.Stats().Disk
			}
			if disk.Commits > 0 {
				b.ReportMetric(float64(disk.Commits)/float64(b.N), "n1-commits/op")
				b.ReportMetric(float64(disk.CommitTime.Microseconds())/float64(disk.Commits), "n1-µs/commit")
				b.ReportMetric(float64(disk.WriteTime.Microseconds())/float64(disk.Commits), "n1-write-µs/commit")
				b.ReportMetric(float64(disk.PagesWritten)/float64(disk.Commits), "n1-pages/commit")
				b.ReportMetric(float64(disk.Ops)/float64(disk.Commits), "n1-ops/commit")
			}
		})
	}
}

type nopEngine struct{}

func (nopEngine) Read(context.Context, store.ReadRequest) (store.ReadResponse, error) {
	return store.ReadResponse{}, nil
}
func (nopEngine) Write(context.Context, store.WriteRequest) (store.WriteResponse, error) {
	return store.WriteResponse{}, nil
}
func (nopEngine) CAS(context.Context, store.CASRequest) (store.WriteResponse, error) {
	return store.WriteResponse{}, nil
}
func (nopEngine) Status() store.EngineStatus { return store.EngineStatus{} }
func (nopEngine) PeerHandler() http.Handler  { return nil }
func (nopEngine) Close() error               { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
