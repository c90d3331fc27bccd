package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// setChecker checks the set workload, like Jepsen's set-full: every
// acknowledged add (and every element a read once saw) must be in every
// final read that started after it was known to be present.
//
//   - lost: known present (add ok, or seen by a read), then missing from a
//     final read that began after that. Invalid.
//   - unexpected: read, but never added (or only by adds that failed).
//     Invalid.
//   - stale: in the final reads, but some read that began after the add
//     was acknowledged missed it. Information: only linearizable sets
//     forbid it.
//   - never-read: acknowledged, but no read began after the add completed.
//     The verdict is unknown when nothing else is wrong.
type setChecker struct{}

func (setChecker) Name() string { return "set" }

type setRead struct {
	op    history.Op
	elems map[string]bool
}

type setElem struct {
	elem     string
	add      history.Op
	hasAdd   bool
	ok, info bool
	// known is when the element was known present: the add's completion,
	// or the completion of the first read that saw it.
	known    int64
	knownSet bool
}

func (c setChecker) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name(), Valid: Valid, Counts: map[string]int{}}
	type setState struct {
		elems  map[string]*setElem
		reads  []setRead
		finals int
	}
	sets := map[string]*setState{}
	get := func(k string) *setState {
		s, ok := sets[k]
		if !ok {
			s = &setState{elems: map[string]*setElem{}}
			sets[k] = s
		}
		return s
	}
	elem := func(s *setState, e string) *setElem {
		el, ok := s.elems[e]
		if !ok {
			el = &setElem{elem: e}
			s.elems[e] = el
		}
		return el
	}
	for _, op := range history.Pair(events) {
		switch op.F {
		case history.FAdd:
			s := get(op.Key)
			e := history.Canonical(op.Input)
			el := elem(s, e)
			res.Counts["attempted"]++
			el.hasAdd = true
			switch op.Type {
			case history.OK:
				res.Counts["acknowledged"]++
				el.ok = true
				el.add = op
				if !el.knownSet || op.Return < el.known {
					el.known, el.knownSet = op.Return, true
				}
			case history.Info:
				el.info = true
				if !el.ok {
					el.add = op
				}
			}
		case history.FRead:
			if op.Type != history.OK {
				continue
			}
			var arr []json.RawMessage
			if err := json.Unmarshal(op.Output, &arr); err != nil && !history.IsNull(op.Output) {
				return unknownf(res, "set read at event %d (key %q) returned %s, not a JSON array of elements", op.InvokeIndex, op.Key, history.Canonical(op.Output))
			}
			s := get(op.Key)
			r := setRead{op: op, elems: make(map[string]bool, len(arr))}
			for _, v := range arr {
				r.elems[history.Canonical(v)] = true
			}
			s.reads = append(s.reads, r)
			if op.Final {
				s.finals++
			}
		}
	}
	if len(sets) == 0 {
		return unknownf(res, "the history has no set operations (add, read): nothing to check")
	}
	// Elements first seen by a read are known from that read's completion.
	for _, s := range sets {
		for _, r := range s.reads {
			for e := range r.elems {
				el := elem(s, e)
				if !el.knownSet || r.op.Return < el.known {
					el.known, el.knownSet = r.op.Return, true
				}
			}
		}
	}
	names := make([]string, 0, len(sets))
	for k := range sets {
		names = append(names, k)
	}
	sort.Strings(names)
	examples := map[string][]string{}
	var unknownWhy []string
	for _, k := range names {
		s := sets[k]
		elems := make([]*setElem, 0, len(s.elems))
		for _, el := range s.elems {
			elems = append(elems, el)
		}
		sort.Slice(elems, func(i, j int) bool { return elems[i].elem < elems[j].elem })
		if s.finals == 0 {
			if len(elems) > 0 {
				unknownWhy = append(unknownWhy, fmt.Sprintf("set %q has no final read", k))
			}
			continue
		}
		for _, el := range elems {
			var seenBy, missedBy []setRead
			var lostIn []setRead
			readAfter := false
			for _, r := range s.reads {
				if el.elems(r) {
					seenBy = append(seenBy, r)
				}
				if !el.knownSet || r.op.Call < el.known {
					continue
				}
				readAfter = true
				if !r.elems[el.elem] {
					if r.op.Final {
						lostIn = append(lostIn, r)
					} else {
						missedBy = append(missedBy, r)
					}
				}
			}
			switch {
			case len(seenBy) > 0 && (!el.hasAdd || (!el.ok && !el.info)):
				res.Counts["unexpected"]++
				if len(res.Anomalies) < maxReported {
					a := Anomaly{Name: "unexpected", Keys: []string{k},
						Explanation: fmt.Sprintf("Set %q: element %s was read but never added (or only by adds that failed).", k, el.elem)}
					for _, r := range seenBy[:min(3, len(seenBy))] {
						a.Ops = append(a.Ops, r.op.InvokeIndex)
					}
					res.Anomalies = append(res.Anomalies, a)
				}
			case len(lostIn) > 0:
				res.Counts["lost"]++
				if len(res.Anomalies) < maxReported {
					res.Anomalies = append(res.Anomalies, lostAnomaly(k, el, seenBy, lostIn))
				}
			case el.ok && !readAfter:
				res.Counts["never-read"]++
				examples["never-read"] = append(examples["never-read"], el.elem)
			case len(missedBy) > 0:
				res.Counts["stale"]++
				if len(res.Info) < maxReported {
					m := missedBy[0]
					res.Info = append(res.Info, Anomaly{Name: "stale", Keys: []string{k},
						Ops: []int64{el.add.InvokeIndex, m.op.InvokeIndex},
						Explanation: fmt.Sprintf("Set %q: element %s was known present at %d ns, but the read at event %d (process %d), begun at %d ns, did not contain it; later reads did.",
							k, el.elem, el.known, m.op.InvokeIndex, m.op.Process, m.op.Call)})
				}
			}
			if el.info && !el.ok && len(seenBy) > 0 {
				res.Counts["recovered"]++
			}
		}
	}
	switch {
	case len(res.Anomalies) > 0:
		res.Valid = Invalid
	case len(unknownWhy) > 0:
		res.Valid = Unknown
		res.Reason = strings.Join(unknownWhy, "; ") + "; the run must end with final reads (\"final\": true) of every set"
	case res.Counts["never-read"] > 0:
		ex := examples["never-read"]
		res.Valid = Unknown
		res.Reason = fmt.Sprintf("%d acknowledged elements were never read by a read that began after their add completed (e.g. %s)",
			res.Counts["never-read"], strings.Join(ex[:min(5, len(ex))], ", "))
	}
	return res
}

func (el *setElem) elems(r setRead) bool { return r.elems[el.elem] }

func lostAnomaly(key string, el *setElem, seenBy, lostIn []setRead) Anomaly {
	a := Anomaly{Name: "lost", Keys: []string{key}}
	var how string
	if el.ok {
		a.Ops = append(a.Ops, el.add.InvokeIndex)
		how = fmt.Sprintf("its add was acknowledged (event %d, process %d)", el.add.InvokeIndex, el.add.Process)
	} else {
		r := seenBy[0]
		a.Ops = append(a.Ops, r.op.InvokeIndex)
		how = fmt.Sprintf("the read at event %d saw it", r.op.InvokeIndex)
	}
	var nodes []string
	for _, r := range lostIn {
		if len(a.Ops) < 6 {
			a.Ops = append(a.Ops, r.op.InvokeIndex)
		}
		n := r.op.Node
		if n == "" {
			n = fmt.Sprintf("process %d", r.op.Process)
		}
		nodes = append(nodes, fmt.Sprintf("%s (event %d)", n, r.op.InvokeIndex))
	}
	a.Explanation = fmt.Sprintf("Set %q: element %s was lost: %s, but the final reads on %s do not contain it.",
		key, el.elem, how, strings.Join(nodes, ", "))
	return a
}
