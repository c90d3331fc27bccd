package docker

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
)

// BenchmarkStart5 measures how long a 5-node cluster of testnode takes to
// be healthy (every node ready) once the image is cached, and how long it
// takes to remove. Run it with: go test -run '^$' -bench Start5
// -benchtime 3x ./harness/docker/
func BenchmarkStart5(b *testing.B) {
	requireDocker(b)
	be := newBackend(b)
	sys := newTestSystem(b)
	if _, _, err := be.ensureImage(context.Background(), sys.Binary()); err != nil {
		b.Fatal(err)
	}
	var closeTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runID := fmt.Sprintf("bench-%d-%d", os.Getpid(), i)
		c, err := be.StartCluster(context.Background(), sys, harness.ClusterSpec{RunID: runID, Nodes: 5})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t0 := time.Now()
		if err := c.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		closeTotal += time.Since(t0)
		if n := leftovers(b, runID); n != 0 {
			b.Fatalf("%d objects of run %s left", n, runID)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(closeTotal.Milliseconds())/float64(b.N), "close-ms/op")
}
