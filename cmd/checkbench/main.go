// Command checkbench measures `faultline check --model linearizable`
// against a minimal raw-Porcupine program (porcupinecheck) on the same
// history, in one run: wall time, CPU time and peak memory (the maximum
// resident set size of each process, from rusage), and asserts that both
// give the same verdict.
//
// The history is built from a seed, deterministically, in the shape of a
// 60 s kv run of `faultline run --mode strong --workload kv --concurrency
// 20`: 20 client threads, about 37,000 register operations over 136 keys,
// about 75,000 events with some info completions, partitions started and
// stopped by the nemesis, and final reads on three nodes.
//
//	make bench-check
//	bin/checkbench [-faultline bin/faultline] [-porcupine bin/porcupinecheck] [-runs 5] [-seed 1] [-keep DIR]
//
// Each program runs -runs times, alternately, so that load on a shared
// machine falls on both alike; the table gives the median of each figure.
// Exit 1 when the verdicts differ or a program fails.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

func main() {
	var (
		faultline = flag.String("faultline", "bin/faultline", "the faultline binary")
		peer      = flag.String("porcupine", "bin/porcupinecheck", "the raw-Porcupine program (cmd/checkbench/porcupinecheck)")
		runs      = flag.Int("runs", 5, "runs of each program")
		seed      = flag.Uint64("seed", 1, "seed of the history")
		keep      = flag.String("keep", "", "write the history into this directory and keep it (default: a temporary directory, removed)")
		gen       = flag.String("gen", "", "only write the history for -seed to this file and describe it (used by checkbench itself)")
	)
	flag.Parse()
	if *gen != "" {
		if err := generate(*gen, *seed); err != nil {
			fmt.Fprintln(os.Stderr, "checkbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*faultline, *peer, *runs, *seed, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "checkbench:", err)
		os.Exit(1)
	}
}

func run(faultline, peer string, runs int, seed uint64, keep string) error {
	if runs < 1 {
		return fmt.Errorf("-runs %d: give at least 1", runs)
	}
	for _, bin := range []string{faultline, peer} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%w (build it first: make bench-check builds both)", err)
		}
	}
	dir := keep
	if dir == "" {
		d, err := os.MkdirTemp("", "checkbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The history is built by a process of its own: a child's peak RSS
	// starts at its parent's (Linux carries the memory high-water mark of
	// the address space an exec replaces, and Go forks with the parent's
	// address space), so checkbench must stay small itself.
	path := filepath.Join(dir, "history.jsonl")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	desc, err := exec.Command(self, "-gen", path, "-seed", fmt.Sprint(seed)).Output()
	if err != nil {
		return fmt.Errorf("build the history: %w", err)
	}
	fmt.Printf("history: %s (seed %d): %s\n", path, seed, strings.TrimSpace(string(desc)))
	if s, err := measure([]string{self, "-help"}); err == nil {
		fmt.Printf("checkbench's own peak RSS, the floor of its children's: %.1f MiB\n", mib(s.maxRSS))
	}
	fmt.Println()

	progs := []struct {
		name string
		argv []string
	}{
		{"faultline check", []string{faultline, "check", "--model", "linearizable", path}},
		{"raw porcupine", []string{peer, path}},
	}
	samples := make([][]sample, len(progs))
	for r := 0; r < runs; r++ {
		for i, p := range progs {
			s, err := measure(p.argv)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	med := make([]sample, len(progs))
	fmt.Printf("%-16s %10s %10s %12s   (median of %d runs; verdict)\n", "", "wall", "cpu", "peak RSS", runs)
	for i, p := range progs {
		med[i] = median(samples[i])
		fmt.Printf("%-16s %9.3fs %9.3fs %9.1f MiB   %s\n", p.name, med[i].wall.Seconds(), med[i].cpu.Seconds(), mib(med[i].maxRSS), verdict(samples[i][0].exit))
	}
	fmt.Printf("%-16s %9.2f× %9.2f× %11.2f×   (aim: wall ≤ 1.0×, peak RSS ≤ 1.5×)\n", "ratio",
		med[0].wall.Seconds()/med[1].wall.Seconds(), med[0].cpu.Seconds()/med[1].cpu.Seconds(), float64(med[0].maxRSS)/float64(med[1].maxRSS))
	for i := range progs {
		for _, s := range samples[i] {
			if s.exit != samples[0][0].exit {
				return fmt.Errorf("verdicts differ: %s exit %d, %s exit %d", progs[0].name, samples[0][0].exit, progs[i].name, s.exit)
			}
		}
	}
	if samples[0][0].exit != 0 {
		return fmt.Errorf("the history is valid by construction, but both say %s", verdict(samples[0][0].exit))
	}
	return nil
}

type sample struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
	exit      int
}

// measure runs argv as a process of its own and reads its rusage. Exit
// codes 0 (valid), 1 (invalid) and 2 (unknown) are verdicts; anything
// else, or a signal, is a failure.
func measure(argv []string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return sample{}, err
	}
	code := cmd.ProcessState.ExitCode()
	if code < 0 || code > 2 {
		return sample{}, fmt.Errorf("%s: %s (%s)", strings.Join(argv, " "), cmd.ProcessState, strings.TrimSpace(stderr.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage on this platform")
	}
	return sample{
		wall:   wall,
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: ru.Maxrss * 1024, // KiB on Linux
		exit:   code,
	}, nil
}

// median takes the median of each figure on its own.
func median(ss []sample) sample {
	pick := func(f func(sample) int64) int64 {
		xs := make([]int64, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
		return xs[len(xs)/2]
	}
	return sample{
		wall:   time.Duration(pick(func(s sample) int64 { return int64(s.wall) })),
		cpu:    time.Duration(pick(func(s sample) int64 { return int64(s.cpu) })),
		maxRSS: pick(func(s sample) int64 { return s.maxRSS }),
		exit:   ss[0].exit,
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func verdict(code int) string {
	return [...]string{"valid", "invalid", "unknown"}[code]
}

func generate(path string, seed uint64) error {
	events := History(seed)
	if err := os.WriteFile(path, checkertest.JSONL(events), 0o644); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Println(describe(events, st.Size()))
	return nil
}

func describe(events []history.Event, size int64) string {
	procs, keys := map[int]bool{}, map[string]bool{}
	var ops, info, nemesis int
	for _, e := range events {
		switch {
		case e.IsNemesis():
			nemesis++
		case e.Type == history.Invoke:
			ops++
			procs[e.Process] = true
			keys[e.Key] = true
		case e.Type == history.Info:
			info++
		}
	}
	return fmt.Sprintf("%d events (%.1f MB), %d register ops over %d keys, %d processes, %d info, %d nemesis events",
		len(events), float64(size)/1e6, ops, len(keys), len(procs), info, nemesis)
}
