// Package generator builds the schedule of operations a test performs, out
// of composable values in the spirit of Jepsen's generators: Mix, Stagger
// and Rate, Limit, TimeLimit, Phases, Once, Sleep, Seq, Ops, EachWorker,
// EachProcess.
//
// Generators are pure: they never sleep, read a clock or do IO. The runner
// asks a generator for a worker's next step, giving it the current time,
// and the generator answers with an operation to perform, a time to wait
// until, or done. That keeps schedules testable with a fake clock.
//
// Randomness comes only from the Context's Rand, which the runner seeds per
// worker from the test's seed. So the same seed gives every worker the same
// sequence of operations, given the same completions (generators that
// implement Updater see completions, e.g. to choose a cas's expected value)
// and the same timing of the shared combinators (Limit, Once and Phases are
// shared by all workers, so which worker gets what depends on who asks
// first).
//
// A generator value holds the state of one run: build a fresh one per run.
// Every generator is safe for concurrent use by the runner's workers.
package generator

import (
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/history"
)

// Op is an operation a generator asks a worker's process to perform: the
// one operation type, which a harness.Client performs (harness.Op is this
// type) and the history records as an invoke event with the same fields.
type Op struct {
	F     string          // read, write, cas, add (history.FRead, ...)
	Key   string          //
	Value json.RawMessage // write: v, cas: [expected, new], read: null
	// Node, when >= 0, sends the op to nodes[Node] (final reads use it);
	// -1 leaves the process on its current node.
	Node  int
	Final bool // a final read, after the cluster healed
}

// Context is what a generator knows when asked for a worker's next step.
type Context struct {
	// Now is the time since the run's main phase started.
	Now time.Duration
	// Worker is the asking worker, 0..Workers-1; Process is the process
	// it runs as now (Worker + k*Workers after k retirements).
	Worker, Workers int
	Process         int
	// Rand is the worker's own seeded source. Use only it for randomness.
	Rand *rand.Rand
}

// Kind is the kind of a Step.
type Kind int

const (
	// Emit: perform Step.Op now.
	Emit Kind = iota
	// Wait: ask again at Step.Until (not earlier).
	Wait
	// Done: this generator has nothing more for the worker.
	Done
)

// Step is a generator's answer.
type Step struct {
	Kind  Kind
	Op    Op
	Until time.Duration // for Wait
}

// Emitting, Waiting and Finished build Steps.
func Emitting(op Op) Step              { return Step{Kind: Emit, Op: op} }
func Waiting(until time.Duration) Step { return Step{Kind: Wait, Until: until} }
func Finished() Step                   { return Step{Kind: Done} }

// Generator produces a worker's next step.
type Generator interface {
	Next(ctx Context) Step
}

// Updater is implemented by generators that learn from completions (a
// workload remembering the last value it saw, for its next cas). The
// runner calls Update after every completion of an op the generator
// emitted; combinators pass it on to their children.
type Updater interface {
	Update(ctx Context, op Op, c Completion)
}

// Completion is how an op ended: what a harness.Client returns
// (harness.Completion is this type), what the history records as the
// completion event, and what generators learn from.
type Completion struct {
	// Type is OK (it took effect), Fail (it certainly did not; error
	// "mismatch" for a cas that found another value) or Info (unknown).
	Type history.Type
	// Value is what a read read (null: absent); nil for other ops.
	Value json.RawMessage
	// Error says why it failed or is unknown.
	Error string
}

// update passes a completion on to g if it listens.
func update(g Generator, ctx Context, op Op, c Completion) {
	if u, ok := g.(Updater); ok {
		u.Update(ctx, op, c)
	}
}

// Func is a generator from a function: it emits fn(ctx) forever.
type Func func(ctx Context) Op

func (f Func) Next(ctx Context) Step { return Emitting(f(ctx)) }

// Repeat emits op forever.
func Repeat(op Op) Generator { return Func(func(Context) Op { return op }) }

// Nothing is a generator that is done at once.
func Nothing() Generator { return nothing{} }

type nothing struct{}

func (nothing) Next(Context) Step { return Finished() }

// NewRand returns the seeded source of worker w of a run with seed. The
// runner uses it; tests of generators too.
func NewRand(seed int64, worker int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(worker)+0x9e3779b97f4a7c15))
}
