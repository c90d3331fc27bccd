package history

import (
	"encoding/json"
	"math"
	"sort"
)

// Never is the return time of an operation whose outcome is unknown: it may
// take effect at any point after its invocation, so it stays open forever.
const Never int64 = math.MaxInt64

// Op is a client operation as the checkers read it: an invoke paired with
// its completion, with both times. (generator.Op is what is asked of a
// client; this is what the history says happened to it.)
type Op struct {
	Process int
	F       string
	Key     string
	// Input is the invoke's value (write: v, cas: [expected, new], read: null).
	Input json.RawMessage
	// Output is the completion's value (read: what was read). Nil when the
	// operation never completed.
	Output json.RawMessage
	// Type is ok, fail or info. An invoke that never completed is Info.
	Type Type
	// Call is the invoke's time; Return the completion's, or Never for info.
	Call, Return int64
	// InvokeIndex and CompleteIndex are the events' indices; CompleteIndex is
	// -1 when the operation never completed.
	InvokeIndex, CompleteIndex int64
	Node                       string
	Error                      string
	Final                      bool
}

// Completed reports whether the operation's completion was recorded.
func (o Op) Completed() bool { return o.CompleteIndex >= 0 }

// Pair pairs client invokes with their completions, in invoke order. Nemesis
// events are left out (see Faults). An info completion, or an invoke that
// never completed, gets Return = Never. The node comes from the invoke, or
// from the completion when the invoke lacks it; the final flag is the same
// on both in a valid history (Read checks it), and set if either has it in
// a slice built by hand. events must be valid (as Read returns them).
func Pair(events []Event) []Op {
	ops := make([]Op, 0, len(events)/2+1)
	open := map[int]int{} // process -> position in ops
	for _, e := range events {
		if e.IsNemesis() {
			continue
		}
		if e.Type == Invoke {
			open[e.Process] = len(ops)
			ops = append(ops, Op{
				Process: e.Process, F: e.F, Key: e.Key, Input: e.Value,
				Type: Info, Call: e.Time, Return: Never,
				InvokeIndex: e.Index, CompleteIndex: -1,
				Node: e.Node, Final: e.Final,
			})
			continue
		}
		i, ok := open[e.Process]
		if !ok {
			continue // Read rejects this; be lenient for hand-built slices
		}
		delete(open, e.Process)
		op := &ops[i]
		op.Type = e.Type
		op.Output = e.Value
		op.CompleteIndex = e.Index
		op.Error = e.Error
		if e.Type == Info {
			op.Return = Never
		} else {
			op.Return = e.Time
		}
		if op.Node == "" {
			op.Node = e.Node
		}
		op.Final = op.Final || e.Final
	}
	return ops
}

// Fault is an interval during which a nemesis fault was active.
type Fault struct {
	// Name is the fault, e.g. "partition" for start-partition/stop-partition.
	Name        string
	Start, Stop int64 // Stop is the end of the history if never stopped
	// StartValue and StopValue are what the nemesis recorded it did.
	StartValue, StopValue json.RawMessage
}

// Faults returns the fault intervals of the nemesis events: each
// start-<name> is closed by the next stop-<name>. A fault still active at
// the end of the history is closed at the last event's time. A nemesis
// event of type fail changed nothing (a start that took effect nowhere, a
// stop that left the fault on) and neither opens nor closes an interval.
func Faults(events []Event) []Fault {
	var out []Fault
	open := map[string][]int{}
	var end int64
	for _, e := range events {
		end = e.Time
		if !e.IsNemesis() || e.Type == Fail {
			continue
		}
		switch {
		case len(e.F) > 6 && e.F[:6] == "start-":
			name := e.F[6:]
			open[name] = append(open[name], len(out))
			out = append(out, Fault{Name: name, Start: e.Time, Stop: -1, StartValue: e.Value})
		case len(e.F) > 5 && e.F[:5] == "stop-":
			name := e.F[5:]
			for _, i := range open[name] {
				out[i].Stop = e.Time
				out[i].StopValue = e.Value
			}
			delete(open, name)
		}
	}
	for i := range out {
		if out[i].Stop < 0 {
			out[i].Stop = end
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
