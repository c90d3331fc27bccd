package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
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
//     Invalid, in any read, even of a set that has no final read (which
//     makes lost, stale and never-read undecidable for it, not this).
//   - stale: in the final reads, but some read that began after the add
//     was acknowledged missed it. Information: only linearizable sets
//     forbid it.
//   - never-read: acknowledged, but no read began after the add completed.
//     The verdict is unknown when nothing else is wrong.
//   - duplicated: an element listed more than once in one read, which
//     returns a set. Invalid, in any read, as unexpected is. Jepsen's
//     set-full means the same (its duplicated map, element to the most
//     times one read held it, must be empty for valid?), though the
//     filter it builds that map with keeps no element, so it reports
//     none; counted here once per element, as there.
//
// No acknowledged add at all is nothing to check (nothingToCheckSet):
// unknown, unless unexpected or lost makes it invalid. A set that cannot be
// judged (null, a read that is not an array, a function the model does not
// know) is unknown alone: the other sets are still judged.
//
// Cost: linear in the size of the history (the elements of all reads),
// plus a sort of each set's reads.
type setChecker struct{}

func (setChecker) Name() string { return "set" }

// nothingToCheckSet is the set checker's nothingToCheck: without an
// acknowledged add nothing can be lost, so a history of adds that all
// failed or have unknown outcomes proves nothing, and its verdict is
// unknown unless a read shows an element never added.
const nothingToCheckSet = "nothing to check: no add was acknowledged"

// setRead is an ok read of a whole set.
type setRead struct {
	op history.Op
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
	// knownIndex is that completion's event index: at equal times, the
	// history's order tells what came after (see searchKey).
	knownIndex int64
	// inFinal and inOther are the (ascending) indices, in the set's reads
	// sorted by call time, of the final and other reads that contain it.
	inFinal, inOther []int32
	// dup is the most times one read listed it (0: never more than once),
	// and dupRead the first such read's index in the set's reads.
	dup, dupRead int32
}

func (el *setElem) learn(t, index int64) {
	if !el.knownSet || t < el.known || t == el.known && index < el.knownIndex {
		el.known, el.knownIndex, el.knownSet = t, index, true
	}
}

// after reports whether a read invoked at call (event index) began once el
// was known present. At equal times the history's order decides; equal
// indices (a hand-built history without them) count as after.
func (el *setElem) after(call, index int64) bool {
	return call > el.known || call == el.known && index >= el.knownIndex
}

// setState is one set's operations.
type setState struct {
	ints  map[int64]*setElem
	other map[string]*setElem
	reads []setRead
	// finalBefore[i] is how many of reads[:i] are final.
	finalBefore []int32
	// bad says why the set cannot be judged beyond unexpected elements
	// (the first reason found): an add or a read of null, which is not an
	// element (decoded as an integer it would read as 0), or a read that is
	// not an array.
	bad string
	// foreign marks a set that an operation of a function the model does
	// not know acted on: nothing about it can be judged.
	foreign bool
}

func (s *setState) badf(format string, args ...any) {
	if s.bad == "" {
		s.bad = fmt.Sprintf(format, args...)
	}
}

func (s *setState) intElem(n int64) *setElem {
	el, ok := s.ints[n]
	if !ok {
		el = &setElem{elem: strconv.FormatInt(n, 10)}
		s.ints[n] = el
	}
	return el
}

func (s *setState) elem(v json.RawMessage) *setElem {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return s.intElem(n)
	}
	c := history.Canonical(v)
	el, ok := s.other[c]
	if !ok {
		el = &setElem{elem: c}
		s.other[c] = el
	}
	return el
}

func (s *setState) all() []*setElem {
	out := make([]*setElem, 0, len(s.ints)+len(s.other))
	for _, el := range s.ints {
		out = append(out, el)
	}
	for _, el := range s.other {
		out = append(out, el)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].elem, out[j].elem
		if len(a) != len(b) {
			return len(a) < len(b) // numbers in numeric order
		}
		return a < b
	})
	return out
}

func (c setChecker) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name(), Valid: Valid, Counts: map[string]int{}}
	sets := map[string]*setState{}
	foreign := map[string]*unknownFunc{} // function the model does not know -> its ops
	var foreignOrder []string
	get := func(k string) *setState {
		s, ok := sets[k]
		if !ok {
			s = &setState{ints: map[int64]*setElem{}, other: map[string]*setElem{}}
			sets[k] = s
		}
		return s
	}
	for _, op := range history.Pair(events) {
		switch op.F {
		case history.FAdd:
			if history.IsNull(op.Input) {
				if op.Type != history.Fail { // a failed add did nothing
					get(op.Key).badf("the add at event %d (process %d) adds null, which is not an element", op.InvokeIndex, op.Process)
				}
				continue
			}
			el := get(op.Key).elem(op.Input)
			res.Counts["attempted"]++
			el.hasAdd = true
			switch op.Type {
			case history.OK:
				res.Counts["acknowledged"]++
				el.ok = true
				el.add = op
				el.learn(op.Return, op.CompleteIndex)
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
			s := get(op.Key)
			s.reads = append(s.reads, setRead{op: op})
		default:
			// A function the set model does not know, which may have
			// taken effect (a failed op did nothing), may have added
			// anything to its set: that set is left out, wholly.
			if op.Type == history.Fail {
				continue
			}
			if foreign[op.F] == nil {
				foreign[op.F] = &unknownFunc{keys: map[string]bool{}}
				foreignOrder = append(foreignOrder, op.F)
			}
			foreign[op.F].n++
			foreign[op.F].keys[op.Key] = true
			get(op.Key).foreign = true
		}
	}
	var badWhy []string
	for _, f := range foreignOrder {
		u := foreign[f]
		badWhy = append(badWhy, fmt.Sprintf("%s with f %q that the set model does not know: add, read (on %s)",
			plural(u.n, "op", "ops"), f, keyList(u.keys)))
	}
	if len(sets) == 0 {
		return unknownf(res, "%s: the history has no set operation (add, read)", nothingToCheckSet)
	}
	names := make([]string, 0, len(sets))
	for k := range sets {
		names = append(names, k)
	}
	sort.Strings(names)
	// Index which reads contain which elements, in call order.
	for _, k := range names {
		if ctx.Err() != nil {
			return unknownf(res, "the check was cancelled: %v", ctx.Err())
		}
		s := sets[k]
		if s.foreign {
			continue
		}
		// Stable: reads are in invoke order, so equal call times keep the
		// history's order, as after needs.
		sort.SliceStable(s.reads, func(i, j int) bool { return s.reads[i].op.Call < s.reads[j].op.Call })
		s.finalBefore = make([]int32, len(s.reads)+1)
		for i, r := range s.reads {
			s.finalBefore[i+1] = s.finalBefore[i]
			if r.op.Final {
				s.finalBefore[i+1]++
			}
			var elems []*setElem
			var ints []int64
			// json.Unmarshal decodes a null element as 0: a read holding
			// one takes the slow path, which refuses it.
			fast := !bytes.Contains(r.op.Output, []byte("null")) && json.Unmarshal(r.op.Output, &ints) == nil
			if fast {
				// The usual case, integers, without a value per element.
				elems = make([]*setElem, len(ints))
				for j, n := range ints {
					elems[j] = s.intElem(n)
				}
			} else {
				var arr []json.RawMessage
				if err := json.Unmarshal(r.op.Output, &arr); err != nil && !history.IsNull(r.op.Output) {
					// This set alone cannot be judged; the others can.
					s.badf("the read at event %d (process %d) returned %s, not a JSON array of elements",
						r.op.InvokeIndex, r.op.Process, history.Canonical(r.op.Output))
					continue
				}
				elems = make([]*setElem, 0, len(arr))
				for _, v := range arr {
					if history.IsNull(v) {
						s.badf("the read at event %d (process %d) returned %s, with null, which is not an element",
							r.op.InvokeIndex, r.op.Process, history.Canonical(r.op.Output))
						continue
					}
					elems = append(elems, s.elem(v))
				}
			}
			var repeats map[*setElem]int32 // made only for a read that repeats one
			for _, el := range elems {
				list := &el.inOther
				if r.op.Final {
					list = &el.inFinal
				}
				if n := len(*list); n > 0 && (*list)[n-1] == int32(i) {
					// Listed again in this read.
					if repeats == nil {
						repeats = map[*setElem]int32{}
					}
					repeats[el]++
					continue
				}
				*list = append(*list, int32(i))
				el.learn(r.op.Return, r.op.CompleteIndex)
			}
			for el, n := range repeats {
				if n+1 > el.dup {
					el.dup, el.dupRead = n+1, int32(i)
				}
			}
		}
	}
	examples := map[string][]string{}
	var lost []lostElem
	var unknownWhy []string
	for _, k := range names {
		s := sets[k]
		if s.foreign {
			continue // said in badWhy
		}
		elems := s.all()
		nfinal := s.finalBefore[len(s.reads)]
		// Without a final read nothing can be lost, stale or never read;
		// with null in it, the set is not a set of elements. Either way an
		// element read but never added is unexpected all the same, below.
		undecided := false
		switch {
		case s.bad != "":
			badWhy = append(badWhy, fmt.Sprintf("set %q cannot be judged: %s", k, s.bad))
			undecided = true
		case nfinal == 0 && len(elems) > 0:
			unknownWhy = append(unknownWhy, fmt.Sprintf("set %q has no final read", k))
			undecided = true
		}
		for _, el := range elems {
			if el.dup > 1 {
				// Definite whatever else is undecided, as unexpected is.
				res.Counts["duplicated"]++
				if len(res.Anomalies) < maxReported {
					r := s.reads[el.dupRead].op
					res.Anomalies = append(res.Anomalies, Anomaly{Name: "duplicated", Keys: []string{k}, Ops: []int64{r.InvokeIndex},
						Explanation: fmt.Sprintf("Set %q: element %s appears %d times in the read at event %d (process %d), which returns a set: each element at most once.",
							k, el.elem, el.dup, r.InvokeIndex, r.Process)})
				}
			}
			seen := len(el.inFinal)+len(el.inOther) > 0
			unexpected := seen && (!el.hasAdd || (!el.ok && !el.info))
			if undecided && !unexpected {
				continue
			}
			// after is the first read (in call order) that began once the
			// element was known present.
			after := len(s.reads)
			if el.knownSet {
				after = sort.Search(len(s.reads), func(i int) bool { return el.after(s.reads[i].op.Call, s.reads[i].op.InvokeIndex) })
			}
			finalsAfter := nfinal - s.finalBefore[after]
			othersAfter := int32(len(s.reads)-after) - finalsAfter
			inFinalAfter := int32(len(el.inFinal) - lowerBound(el.inFinal, int32(after)))
			inOtherAfter := int32(len(el.inOther) - lowerBound(el.inOther, int32(after)))
			switch {
			case unexpected:
				res.Counts["unexpected"]++
				if len(res.Anomalies) < maxReported {
					a := Anomaly{Name: "unexpected", Keys: []string{k},
						Explanation: fmt.Sprintf("Set %q: element %s was read but never added (or only by adds that failed).", k, el.elem)}
					for _, i := range append(append([]int32{}, el.inOther...), el.inFinal...)[:min(3, len(el.inOther)+len(el.inFinal))] {
						a.Ops = append(a.Ops, s.reads[i].op.InvokeIndex)
					}
					res.Anomalies = append(res.Anomalies, a)
				}
			case inFinalAfter < finalsAfter:
				res.Counts["lost"]++
				if len(lost) < maxLostListed {
					l := lostElem{Key: k, Element: json.RawMessage(el.elem), Add: -1}
					if !json.Valid(l.Element) {
						l.Element, _ = json.Marshal(el.elem)
					}
					if el.ok {
						l.Add = el.add.InvokeIndex
					}
					lost = append(lost, l)
				}
				if len(res.Anomalies) < maxReported {
					res.Anomalies = append(res.Anomalies, lostAnomaly(k, el, s, after))
				}
			case el.ok && after == len(s.reads):
				res.Counts["never-read"]++
				examples["never-read"] = append(examples["never-read"], el.elem)
			case inOtherAfter < othersAfter:
				res.Counts["stale"]++
				if len(res.Info) < maxReported {
					m := s.reads[firstMissing(s, el, after)].op
					a := Anomaly{Name: "stale", Keys: []string{k},
						Explanation: fmt.Sprintf("Set %q: element %s was known present at %d ns, but the read at event %d (process %d), begun at %d ns, did not contain it; the final reads do.",
							k, el.elem, el.known, m.InvokeIndex, m.Process, m.Call)}
					if el.ok {
						a.Ops = append(a.Ops, el.add.InvokeIndex)
					}
					a.Ops = append(a.Ops, m.InvokeIndex)
					res.Info = append(res.Info, a)
				}
			}
			if el.info && !el.ok && seen {
				res.Counts["recovered"]++
			}
		}
	}
	if missing := unansweredFinals(events); missing != "" {
		unknownWhy = append(unknownWhy, missing)
	}
	if len(lost) > 0 {
		res.Extra, _ = json.Marshal(map[string]any{"lost": lost})
	}
	switch {
	case len(res.Anomalies) > 0:
		res.Valid = Invalid
	case res.Counts["acknowledged"] == 0:
		// Nothing can be lost: the checker has nothing to say, which is
		// not valid. (An element read that was never attempted is still
		// unexpected, above.)
		res.Valid = Unknown
		res.Reason = nothingToCheckSet + " (none was attempted)"
		if n := res.Counts["attempted"]; n > 0 {
			res.Reason = fmt.Sprintf("%s (%d attempted: each failed or has an unknown outcome)", nothingToCheckSet, n)
		}
		if len(badWhy) > 0 {
			res.Reason += "; " + strings.Join(badWhy, "; ")
		}
	case len(unknownWhy) > 0 || len(badWhy) > 0:
		res.Valid = Unknown
		if len(unknownWhy) > 0 {
			badWhy = append(badWhy, strings.Join(unknownWhy, "; ")+"; the run must end with answered final reads (\"final\": true) of every set")
		}
		res.Reason = strings.Join(badWhy, "; ")
	case res.Counts["never-read"] > 0:
		ex := examples["never-read"]
		res.Valid = Unknown
		res.Reason = fmt.Sprintf("%d acknowledged elements were never read by a read that began after their add completed (e.g. %s)",
			res.Counts["never-read"], strings.Join(ex[:min(5, len(ex))], ", "))
	}
	return res
}

// lostElem is one lost element in Result.Extra ("lost": [...]): the
// anomalies list only maxReported of them, and a report needs every one
// to say which elements went and when.
type lostElem struct {
	Key     string          `json:"key"`
	Element json.RawMessage `json:"element"`
	// Add is the event index of the add's invoke, -1 when the element was
	// only known present because a read saw it.
	Add int64 `json:"add"`
}

// maxLostListed bounds the lost elements listed in Extra.
const maxLostListed = 10000

// lowerBound is the first index of xs (ascending) holding a value >= x.
func lowerBound(xs []int32, x int32) int {
	return sort.Search(len(xs), func(i int) bool { return xs[i] >= x })
}

// firstMissing is the first non-final read from index after on that does
// not contain el (there is one: the caller counted).
func firstMissing(s *setState, el *setElem, after int) int {
	j := lowerBound(el.inOther, int32(after))
	for i := after; i < len(s.reads); i++ {
		if s.reads[i].op.Final {
			continue
		}
		if j < len(el.inOther) && el.inOther[j] == int32(i) {
			j++
			continue
		}
		return i
	}
	return after
}

func lostAnomaly(key string, el *setElem, s *setState, after int) Anomaly {
	a := Anomaly{Name: "lost", Keys: []string{key}}
	var how string
	if el.ok {
		a.Ops = append(a.Ops, el.add.InvokeIndex)
		how = fmt.Sprintf("its add was acknowledged (event %d, process %d)", el.add.InvokeIndex, el.add.Process)
	} else {
		first := el.inOther
		if len(first) == 0 {
			first = el.inFinal
		}
		r := s.reads[first[0]].op
		a.Ops = append(a.Ops, r.InvokeIndex)
		how = fmt.Sprintf("the read at event %d saw it", r.InvokeIndex)
	}
	var nodes []string
	j := lowerBound(el.inFinal, int32(after))
	for i := after; i < len(s.reads); i++ {
		r := s.reads[i].op
		if !r.Final {
			continue
		}
		if j < len(el.inFinal) && el.inFinal[j] == int32(i) {
			j++
			continue
		}
		if len(a.Ops) < 6 {
			a.Ops = append(a.Ops, r.InvokeIndex)
		}
		n := r.Node
		if n == "" {
			n = fmt.Sprintf("process %d", r.Process)
		}
		nodes = append(nodes, fmt.Sprintf("%s (event %d)", n, r.InvokeIndex))
	}
	a.Explanation = fmt.Sprintf("Set %q: element %s was lost: %s, but the final reads on %s do not contain it.",
		key, el.elem, how, strings.Join(nodes, ", "))
	return a
}
