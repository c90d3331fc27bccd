package history_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// benchHistory writes a kv history of about the size of a 60 s run (20
// processes, 136 keys, ~75,000 events) and returns its path.
func benchHistory(b *testing.B) string {
	b.Helper()
	events := checkertest.Register(checkertest.RegisterConfig{
		Seed: 11, Ops: 37_000, Processes: 20, Keys: 136,
		ReadRate: 0.5, CASRate: 0.1, InfoRate: 0.005, Nodes: 3,
	})
	for i := range events {
		// Times of a 60 s run in nanoseconds, as the recorder writes them.
		events[i].Time = 1_000_000_000 + int64(i)*800_000
	}
	path := filepath.Join(b.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, checkertest.JSONL(events), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkRead compares ReadFile with its own encoding/json path (every
// line decoded by encoding/json, as lines the fast path cannot take are)
// and with the plain encoding/json loop a minimal checker would write (a
// line scanner and json.Unmarshal into Event, no validation) on the same
// file.
func BenchmarkRead(b *testing.B) {
	path := benchHistory(b)
	st, _ := os.Stat(path)
	readFile := func(fast bool) func(b *testing.B) {
		return func(b *testing.B) {
			history.SetFastPath(fast)
			defer history.SetFastPath(true)
			b.SetBytes(st.Size())
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				rr, err := history.ReadFile(path)
				if err != nil || len(rr.Events) == 0 {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("ReadFile-encoding-json", readFile(false))
	b.Run("ReadFile", readFile(true))
	b.Run("encoding-json-loop", func(b *testing.B) {
		b.SetBytes(st.Size())
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			var events []history.Event
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<16), 1<<26)
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				var e history.Event
				if err := json.Unmarshal(line, &e); err != nil {
					b.Fatal(err)
				}
				events = append(events, e)
			}
			f.Close()
			if sc.Err() != nil || len(events) == 0 {
				b.Fatal(sc.Err())
			}
		}
	})
}

// reportCPU reports the CPU time (user and system, all threads) per op
// when the returned func runs: on a shared machine wall time is inflated
// by others' load, CPU time much less.
func reportCPU(b *testing.B) func() {
	cpu0 := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e9, "cpu-s/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
