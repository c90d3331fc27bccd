package checkers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// eventual checks eventual consistency: nothing is read out of thin air,
// causal order has no cycle, and the final reads of every key agree on a
// value some write may have written. Session-guarantee violations are
// reported in Info: eventual consistency does not promise them.
type eventual struct{}

func (eventual) Name() string { return "eventual" }

func (c eventual) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name(), Valid: Valid, Counts: map[string]int{}}
	ops, probs := registerHistory(events)
	if nothingDecided(ops, &probs) {
		return unknownf(res, "%s", probs.nothingToCheck())
	}
	// Keys the model cannot check are left out of everything (a
	// projection: what is found on the rest holds for the whole history).
	total := countKeys(ops, probs.skip)
	ops = probs.dropSkipped(ops)
	var graphProblem string
	// notInGraph says which keys' converged values the causal analysis did
	// not check for thin air (all of them when it did not finish).
	notInGraph := func(string) bool { return true }
	a, nd, err := analyzeOps(ctx, events, ops, false)
	if err != nil {
		graphProblem = "the causal analysis did not finish: " + err.Error()
	} else {
		res.Counts = a.counts
		res.Anomalies = append(res.Anomalies, a.thinAir...)
		res.Anomalies = append(res.Anomalies, a.cyclicCO...)
		for _, s := range a.stale {
			if s.Guarantee != "" {
				res.Info = append(res.Info, s)
			}
		}
		// A key that is not differentiated is left out of the causal
		// analysis alone; its convergence is still judged.
		left := map[string]bool{}
		whys := make([]string, 0, len(nd))
		for _, e := range nd {
			left[e.key] = true
			if len(whys) < 5 {
				whys = append(whys, e.Error())
			}
		}
		if len(nd) > 0 {
			graphProblem = fmt.Sprintf("thin-air reads and causal cycles were not checked on %s: %s", keyList(left), strings.Join(whys, "; "))
		}
		notInGraph = func(k string) bool { return left[k] }
	}
	conv, unknownWhy := convergence(ops, notInGraph)
	if missing := unansweredFinals(events); missing != "" && unknownWhy == "" {
		unknownWhy = missing
	}
	res.Anomalies = append(res.Anomalies, conv...)
	for _, an := range conv {
		res.Counts[an.Name]++
	}
	var skipped string
	if probs.any() {
		skipped = probs.undecided(total, "the other keys were checked")
	}
	switch {
	case len(res.Anomalies) > 0:
		res.Valid = Invalid
	case unknownWhy != "" || graphProblem != "" || skipped != "":
		res.Valid = Unknown
		var parts []string
		for _, p := range []string{skipped, unknownWhy, graphProblem} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		res.Reason = strings.Join(parts, "; ")
	}
	return res
}

// convergence checks the final reads of every key: they must agree, on a
// value that an ok or info write wrote, or on null (absent) only when no
// write of the key succeeded. It says why it cannot decide when final
// reads are missing. For the keys checkWritten names, it also reports an
// agreed value no write wrote (for the others ThinAirRead already does).
func convergence(ops []regOp, checkWritten func(key string) bool) (found []Anomaly, unknownWhy string) {
	type keyState struct {
		finals    []regOp
		written   map[string]bool
		succeeded bool
	}
	keys := map[string]*keyState{}
	get := func(k string) *keyState {
		ks, ok := keys[k]
		if !ok {
			ks = &keyState{written: map[string]bool{}}
			keys[k] = ks
		}
		return ks
	}
	anyFinal := false
	for _, r := range ops {
		ks := get(r.op.Key)
		switch {
		case r.kind == regRead && r.op.Final:
			ks.finals = append(ks.finals, r)
			anyFinal = true
		case r.kind == regWrite || (r.kind == regCAS && r.status != statusMismatch):
			ks.written[r.value] = true
			if r.status == statusOK {
				ks.succeeded = true
			}
		}
	}
	if !anyFinal {
		return nil, "the history has no final reads (\"final\": true), so convergence cannot be judged; end the run with a final read of every key on every node"
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var unread []string
	for _, k := range names {
		ks := keys[k]
		if len(ks.finals) == 0 {
			if ks.succeeded {
				unread = append(unread, fmt.Sprintf("%q", k))
			}
			continue
		}
		vals := map[string][]regOp{}
		for _, f := range ks.finals {
			vals[f.value] = append(vals[f.value], f)
		}
		if len(vals) > 1 {
			a := Anomaly{Name: "divergence", Keys: []string{k}}
			var parts []string
			for _, f := range ks.finals {
				a.Ops = append(a.Ops, f.op.InvokeIndex)
				node := f.op.Node
				if node == "" {
					node = "?"
				}
				parts = append(parts, fmt.Sprintf("node %s read %s (event %d)", node, f.value, f.op.InvokeIndex))
			}
			if len(a.Ops) > 6 {
				a.Ops = a.Ops[:6]
			}
			a.Explanation = fmt.Sprintf("Key %q did not converge: after the cluster healed, the final reads disagree: %s.", k, strings.Join(parts, "; "))
			found = append(found, a)
			continue
		}
		v := ks.finals[0].value
		switch {
		case v == "null" && ks.succeeded:
			found = append(found, Anomaly{Name: "lost", Keys: []string{k}, Ops: []int64{ks.finals[0].op.InvokeIndex},
				Explanation: fmt.Sprintf("Key %q converged to absent (null) on every node, although a write of it succeeded: the acknowledged writes were lost.", k)})
		case v != "null" && !ks.written[v] && checkWritten(k):
			found = append(found, Anomaly{Name: "ThinAirRead", Keys: []string{k}, Ops: []int64{ks.finals[0].op.InvokeIndex},
				Explanation: fmt.Sprintf("Key %q converged to %s, which no write that succeeded or may have succeeded wrote.", k, v)})
		}
	}
	if n := len(unread); n > 0 {
		if n > 5 {
			unread = append(unread[:5], "...")
		}
		return found, fmt.Sprintf("%d keys written successfully have no final read, so their convergence cannot be judged (%s)", n, strings.Join(unread, ", "))
	}
	return found, ""
}

// unansweredFinals says which final reads did not complete ok (failed,
// info, or never completed): a node that did not answer may have diverged,
// so convergence on every node cannot be claimed.
func unansweredFinals(events []history.Event) string {
	type final struct{ key, node string }
	open := map[int]final{}
	var missing []string
	note := func(f final, why string) {
		node := f.node
		if node == "" {
			node = "?"
		}
		missing = append(missing, fmt.Sprintf("key %q on node %s (%s)", f.key, node, why))
	}
	for _, e := range events {
		if e.IsNemesis() || e.F != history.FRead {
			continue
		}
		if e.Type == history.Invoke {
			if e.Final {
				open[e.Process] = final{key: e.Key, node: e.Node}
			}
			continue
		}
		f, ok := open[e.Process]
		if !ok {
			continue
		}
		delete(open, e.Process)
		if e.Type != history.OK {
			why := string(e.Type)
			if e.Error != "" {
				why += ": " + e.Error
			}
			note(f, why)
		}
	}
	for _, f := range open {
		note(f, "never completed")
	}
	if len(missing) == 0 {
		return ""
	}
	sort.Strings(missing)
	n := len(missing)
	if n > 5 {
		missing = append(missing[:5], "...")
	}
	return fmt.Sprintf("%d final reads did not answer, so convergence on every node cannot be claimed: %s", n, strings.Join(missing, "; "))
}
