package results

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// maxLostShown bounds the lost elements listed on the page.
const maxLostShown = 300

// lostView is one element a set lost: when it was acknowledged, against
// the faults, and which final reads missed it, with the elements around
// where it would be.
type lostView struct {
	Key, Element string
	// Add names the add ("p3 on n2"); Acked is its acknowledgement.
	Add, Invoked, Acked string
	When                string
	// Missed says which final reads lack it ("all 3: n1, n2, n3"),
	// Around the neighbourhood in the first of them.
	Missed, Around string
	// Present are the final reads that have it ("none").
	Present string
	ID      string
}

// lostViews lists the set checker's lost elements (Extra "lost", else
// its anomalies) with the total count.
func lostViews(r checkers.Result, t *opTable, faults []faultInfo) ([]lostView, int) {
	var extra struct {
		Lost []struct {
			Key     string          `json:"key"`
			Element json.RawMessage `json:"element"`
			Add     int64           `json:"add"`
		} `json:"lost"`
	}
	if len(r.Extra) == 0 || json.Unmarshal(r.Extra, &extra) != nil || len(extra.Lost) == 0 {
		return nil, 0
	}
	total := max(r.Counts["lost"], len(extra.Lost))
	// The final reads of each set, in call order, parsed once.
	type finalRead struct {
		op    history.Op
		elems map[string]bool
		list  []string
	}
	finals := map[string][]*finalRead{}
	for _, op := range t.ops {
		if op.Final && op.F == history.FRead && op.Type == history.OK {
			finals[op.Key] = append(finals[op.Key], &finalRead{op: op})
		}
	}
	parse := func(fr *finalRead) {
		if fr.elems != nil {
			return
		}
		fr.list = setElements(fr.op.Output)
		fr.elems = make(map[string]bool, len(fr.list))
		for _, e := range fr.list {
			fr.elems[e] = true
		}
	}
	var out []lostView
	for n, l := range extra.Lost {
		if n == maxLostShown {
			break
		}
		el := history.Canonical(l.Element)
		lv := lostView{Key: l.Key, Element: el, ID: fmt.Sprintf("lost-%d", n+1)}
		known := int64(-1)
		if i, ok := t.byInvoke[l.Add]; ok {
			op := t.ops[i]
			lv.Add = fmt.Sprintf("p%d", op.Process)
			if op.Node != "" {
				lv.Add += " on " + op.Node
			}
			lv.Invoked = fmtTime(op.Call)
			if t.done[i] >= 0 && op.Type == history.OK {
				known = t.done[i]
				lv.Acked = fmtTime(known)
				lv.When = relateToFaults("Acknowledged", known, known, faults)
			}
		} else {
			lv.Add = "none acknowledged: a read saw it"
		}
		var missed, present []string
		for _, fr := range finals[l.Key] {
			parse(fr)
			name := fmt.Sprintf("%s (event %d)", nodeOr(fr.op), fr.op.InvokeIndex)
			if fr.elems[el] {
				present = append(present, name)
				continue
			}
			missed = append(missed, name)
			if lv.Around == "" {
				lv.Around = around(fr.list, el)
			}
		}
		lv.Missed, lv.Present = strings.Join(missed, ", "), strings.Join(present, ", ")
		if len(present) == 0 {
			lv.Missed, lv.Present = fmt.Sprintf("all %d: %s", len(missed), lv.Missed), "none"
		}
		out = append(out, lv)
	}
	return out, total
}

func nodeOr(op history.Op) string {
	if op.Node != "" {
		return op.Node
	}
	return fmt.Sprintf("process %d", op.Process)
}

// setElements is a set read's elements, canonical, in set order
// (numbers by value, then other values as text).
func setElements(v json.RawMessage) []string {
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) != nil {
		return nil
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		out[i] = history.Canonical(x)
	}
	sort.Slice(out, func(i, j int) bool { return elemLess(out[i], out[j]) })
	return out
}

// elemLess orders set elements: numbers by value, before other values,
// which go by text.
func elemLess(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	switch {
	case errA == nil && errB == nil:
		return x < y
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}

// aroundWidth is how many elements each side of a missing one are shown.
const aroundWidth = 3

// around shows where el would be in the sorted elements list: the few
// elements each side, and the gap.
func around(list []string, el string) string {
	i := sort.Search(len(list), func(i int) bool { return !elemLess(list[i], el) })
	var b strings.Builder
	lo, hi := max(0, i-aroundWidth), min(len(list), i+aroundWidth)
	if lo > 0 {
		fmt.Fprintf(&b, "… (%d before) ", lo)
	}
	for _, e := range list[lo:i] {
		b.WriteString(shorten(e) + ", ")
	}
	fmt.Fprintf(&b, "[%s missing]", shorten(el))
	for _, e := range list[i:hi] {
		b.WriteString(", " + shorten(e))
	}
	if hi < len(list) {
		fmt.Fprintf(&b, " … (%d after)", len(list)-hi)
	}
	fmt.Fprintf(&b, " — %d elements", len(list))
	return b.String()
}

// neighbourhood is a set read's output as the page shows it next to a
// lost element: the elements around where it would be, not the first
// bytes of the set.
func neighbourhood(out json.RawMessage, el string) string {
	list := setElements(out)
	if list == nil {
		return shorten(valueText(out))
	}
	for _, e := range list {
		if e == el {
			return fmt.Sprintf("contains %s (%d elements)", shorten(el), len(list))
		}
	}
	return around(list, el)
}
