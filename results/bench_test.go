package results

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// longRun writes a 60-second run like a busy test leaves: 10 processes,
// about 120,000 operations, a partition, a kill and a pause, a stale read
// and a results.json naming it.
func longRun(tb testing.TB, dir string) int {
	tb.Helper()
	events, stale := genHistoryStale(genOpts{Seed: 60, Procs: 10, Keys: []string{"a", "b", "c", "d", "e", "f", "g", "h"},
		Duration: 60 * time.Second, MeanLatency: 4 * time.Millisecond, StaleRead: true,
		Faults: []genFault{
			{Name: "partition", Start: 10 * time.Second, Stop: 20 * time.Second},
			{Name: "kill", Start: 30 * time.Second, Stop: 35 * time.Second},
			{Name: "pause", Start: 45 * time.Second, Stop: 50 * time.Second},
		}})
	require.GreaterOrEqual(tb, stale, int64(0))
	op, _ := findOp(events, func(op history.Op) bool { return op.InvokeIndex == stale })
	sum := &checkers.Summary{Valid: checkers.Invalid, Results: []checkers.Result{{Checker: "linearizable", Valid: checkers.Invalid,
		Anomalies: []checkers.Anomaly{{Name: "nonlinearizable", Keys: []string{op.Key}, Ops: []int64{stale}, Explanation: "stale read"}}}}}
	writeRun(tb, dir, events, testOptions("long", 60), sum)
	return len(history.Pair(events))
}

// BenchmarkWriteReports60s measures WriteReports on a 60-second history of
// about 120,000 operations, and reports the size of the pages.
func BenchmarkWriteReports60s(b *testing.B) {
	dir := b.TempDir()
	ops := longRun(b, dir)
	benchWriteReports(b, dir, map[string]float64{"ops/history": float64(ops)})
}

// benchWriteReports runs WriteReports on dir b.N times and reports its CPU
// time per op, the metrics given and the size of the pages.
func benchWriteReports(b *testing.B, dir string, metrics map[string]float64) {
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if err := WriteReports(ctx, dir); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time, not only wall time: on a shared machine the wall time
	// says more about the neighbours than about WriteReports.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	for unit, v := range metrics {
		b.ReportMetric(v, unit)
	}
	for name, unit := range map[string]string{ReportFile: "report-bytes", LinearizationFile: "linearizability-bytes"} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(b, err)
		b.ReportMetric(float64(st.Size()), unit)
	}
}

// manyFailedRun writes a run in which failed of keys registers fail the
// linearizable check, as a store serving stale local reads leaves them:
// from the middle of the run on, each failed key has a read returning a
// value no one wrote. results.json names them as the checker does: an
// anomaly for the first few, every one in its failed-keys. It returns the
// failed keys in the checker's (sorted) order and the number of ops.
func manyFailedRun(tb testing.TB, dir string, keys, failed int, d time.Duration) ([]string, int) {
	tb.Helper()
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("r-%03d", i)
	}
	events := genHistory(genOpts{Seed: 77, Procs: 10, Keys: names, Duration: d, MeanLatency: 4 * time.Millisecond,
		Faults: []genFault{{Name: "partition", Start: d / 4, Stop: d / 2}}})
	ops := history.Pair(events)
	bad := map[string]history.Op{}
	for _, op := range ops {
		_, done := bad[op.Key]
		if !done && op.Key < names[failed] && op.F == history.FRead && op.Type == history.OK && op.Call > int64(d/2) {
			bad[op.Key] = op
			// A value outside the writes' counter: never written.
			events[op.CompleteIndex].Value = history.IntValue(int64(1e9 + len(bad)))
		}
	}
	var fk []string
	for _, k := range names[:failed] {
		if _, ok := bad[k]; ok {
			fk = append(fk, k)
		}
	}
	require.Greater(tb, len(fk), failed*9/10, "most keys to fail have a read after the middle")
	res := checkers.Result{Checker: "linearizable", Valid: checkers.Invalid,
		Counts: map[string]int{"keys": keys, "keys-nonlinearizable": len(fk), "keys-unknown": 0}}
	for _, k := range fk[:10] {
		res.Anomalies = append(res.Anomalies, checkers.Anomaly{Name: "nonlinearizable", Keys: []string{k},
			Ops: []int64{bad[k].InvokeIndex}, Explanation: "Key " + k + ": a read returned a value never written."})
	}
	res.Extra = history.MustValue(map[string]any{"failed-keys": fk})
	writeRun(tb, dir, events, testOptions("many-failed", 77), &checkers.Summary{Valid: checkers.Invalid, Results: []checkers.Result{res}})
	return fk, len(ops)
}

// BenchmarkWriteReportsManyFailedKeys measures WriteReports on a history
// of about 50,000 operations on 800 keys, 700 of which fail the check
// (the shape of a store serving stale reads from every replica): the
// pages must cost about what the history's size does, not its size times
// its failed keys.
func BenchmarkWriteReportsManyFailedKeys(b *testing.B) {
	dir := b.TempDir()
	fk, ops := manyFailedRun(b, dir, 800, 700, 30*time.Second)
	benchWriteReports(b, dir, map[string]float64{"ops/history": float64(ops), "failed-keys": float64(len(fk))})
}

var loadMS = regexp.MustCompile(`LOADMS ([0-9.]+)`)

// BenchmarkChromiumLoadReport60s measures how long headless Chromium takes
// to load the report of a 60-second run (from navigation start to the
// load event of report.html, in a frame of a timing page), in ms/load.
func BenchmarkChromiumLoadReport60s(b *testing.B) {
	chromiumPath(b)
	dir := b.TempDir()
	longRun(b, dir)
	require.NoError(b, WriteReports(context.Background(), dir))
	timing := filepath.Join(dir, "timing.html")
	require.NoError(b, os.WriteFile(timing, []byte(`<!DOCTYPE html><html><body>
<script>const t0 = performance.now();</script>
<iframe src="report.html" width="1400" height="900" onload="console.log('LOADMS ' + (performance.now() - t0))"></iframe>
</body></html>`), 0o644))
	var total float64
	b.ResetTimer()
	for b.Loop() {
		res := runChromium(b, fileURL(timing), "--dump-dom", "--window-size=1400,900")
		var ms float64
		for _, c := range res.Console {
			if m := loadMS.FindStringSubmatch(c); m != nil {
				ms, _ = strconv.ParseFloat(m[1], 64)
			}
		}
		require.Positive(b, ms, "the timing page logged the load time: %v", res.Console)
		total += ms
	}
	b.ReportMetric(total/float64(b.N), "ms/load")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
