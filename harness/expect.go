// This file holds what harnesstest.Run builds on that needs no "testing"
// (Expect, PrepareT, Shorten) and the seed search that both the suites
// and the compare command use (PickSeed, SupportedBy).

package harness

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/nemesis"
)

// Expect is what a test under `go test` expects of its run: checker name →
// verdict. Every checker named is run on the history, whether or not the
// workload would run it under the test's model (so a linearizable test can
// expect "causal" valid, and a causal one "linearizable" invalid). Only
// the checkers Expect names decide the test: the workload's others run
// too, and harnesstest.Run logs their verdicts.
//
// An expectation is met only by exactly that verdict: unknown meets
// neither valid nor invalid (a bug that is not caught is not caught).
type Expect map[string]checkers.Validity

// ShortFactor is how much -short scales a test down: TimeLimit and the
// bundled nemesis's interval are divided by it (not below 5s and 1s),
// QuietPeriod is capped at 2s.
const ShortFactor = 3

// PrepareT returns test as harnesstest.Run runs it: seed 0 becomes 1,
// a checker for every name in want is added to the workload's checkers
// (checkers.New; a name it does not know is left for the caller to
// report), and short scales it down.
func PrepareT(test Test, want Expect, short bool) Test {
	if test.Seed == 0 {
		test.Seed = 1
	}
	if test.Checkers == nil {
		test.Checkers = workloadCheckers(test)
	}
	test.Checkers = slices.Clone(test.Checkers) // appended to below
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if slices.Contains(checkerNames(test.Checkers), n) {
			continue
		}
		if c, err := checkers.New(n, checkers.Options{}); err == nil {
			test.Checkers = append(test.Checkers, c)
		}
	}
	if short {
		test = Shorten(test)
	}
	return test
}

// Shorten scales test down for -short (see ShortFactor).
func Shorten(test Test) Test {
	d := test
	d.defaults()
	test.TimeLimit = max(d.TimeLimit/ShortFactor, 5*time.Second)
	if test.TimeLimit > d.TimeLimit {
		test.TimeLimit = d.TimeLimit
	}
	if cfg, ok := bundledNemesis(test.Nemesis); ok {
		interval := cfg.Interval
		if interval <= 0 {
			interval = nemesis.DefaultInterval
		}
		cfg.Interval = min(max(interval/ShortFactor, time.Second), interval)
		test.Nemesis = nemesis.New(cfg)
	}
	test.QuietPeriod = min(d.QuietPeriod, 2*time.Second)
	return test
}

// workloadCheckers is the checkers of test's workload as it would run
// (nil when it cannot be set up: Run then says what is wrong).
func workloadCheckers(test Test) []checkers.Checker {
	d := test
	d.defaults()
	if d.System == nil || d.Workload == nil {
		return nil
	}
	wl, err := workloadForRun(d.Workload, d.env())
	if err != nil {
		return nil
	}
	return wl.Checkers()
}

// PickSeed returns the first seed from `from` on whose nemesis schedule
// every step taken within test's time limit satisfies ok (for instance:
// no packet fault the backend cannot apply, or a partition early in the
// run); ok gets each step with its index in the schedule, from 0 for
// every seed tried. The schedule is a pure function of the seed, so the
// run with that seed draws exactly those steps. It tries 10,000 seeds.
func PickSeed(test Test, from int64, ok func(i int, st nemesis.Step) bool) (int64, error) {
	test.defaults()
	cfg, _ := bundledNemesis(test.Nemesis) // another nemesis has no schedule to check
	fixed := cfg.Seed != 0
	nodes := make([]string, test.Nodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%d", i+1)
	}
	for seed := from; seed < from+10000; seed++ {
		if !fixed {
			cfg.Seed = seed
		}
		s := nemesis.NewSchedule(cfg, nodes)
		good := true
		var at time.Duration
		for i := 0; good; i++ {
			st := s.Next()
			at += st.Wait
			if at >= test.TimeLimit || len(cfg.Faults) == 0 {
				break
			}
			good = ok(i, st)
		}
		if good {
			return seed, nil
		}
		if fixed {
			return 0, fmt.Errorf("the nemesis's own seed %d gives a schedule the condition does not accept, whatever the test's seed", cfg.Seed)
		}
	}
	return 0, fmt.Errorf("no seed in [%d, %d) gives a schedule the condition accepts", from, from+10000)
}

// SupportedBy returns PickSeed's condition for a backend: the local
// backend cannot duplicate or reorder packets; the docker backend on a
// kernel without netem applies loss only (it says so with an error, which
// would fail the run).
func SupportedBy(backend string, netem bool) func(int, nemesis.Step) bool {
	return func(_ int, st nemesis.Step) bool {
		if !st.Start || st.Fault != "packet" {
			return true
		}
		switch {
		case backend == "local":
			return st.Mode == "delay" || st.Mode == "loss"
		case !netem:
			return st.Mode == "loss"
		}
		return true
	}
}
