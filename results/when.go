package results

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// faultInfo is a fault interval as the pages name it: its number among
// the faults of its kind ("partition #2") and what it did in words.
type faultInfo struct {
	history.Fault
	// N is its number among the intervals of the same fault, from 1.
	N int
	// Words says what it did: "n3 cut off from n1 and n2", "n2 killed".
	Words string
	// Short is a plot label: "partition #2: n3 cut off".
	Short string
}

// Label is "partition #2".
func (f faultInfo) Label() string { return fmt.Sprintf("%s #%d", f.Name, f.N) }

// describeFaults numbers the faults by kind and puts each in words.
func describeFaults(faults []history.Fault, nodes ...string) []faultInfo {
	out := make([]faultInfo, len(faults))
	seen := map[string]int{}
	for i, f := range faults {
		seen[f.Name]++
		words, short := faultWords(f, nodes)
		out[i] = faultInfo{Fault: f, N: seen[f.Name], Words: words}
		out[i].Short = out[i].Label()
		if short != "" {
			out[i].Short += ": " + short
		}
	}
	return out
}

// faultValue is the part of a nemesis event's value the pages read (see
// nemesis.record): unknown fields are ignored, and a value that does not
// parse leaves the words to the raw JSON.
type faultValue struct {
	Mode      string              `json:"mode"`
	Topology  string              `json:"topology"`
	Grudge    map[string][]string `json:"grudge"`
	Nodes     []string            `json:"nodes"`
	OffsetMS  *int64              `json:"offset_ms"`
	PeriodMS  int64               `json:"period_ms"`
	Netem     map[string]any      `json:"netem"`
	Leader    string              `json:"leader"`
	Fallback  string              `json:"fallback"`
	parsedRaw bool
}

// faultWords says what f did, long and short. It falls back to the
// recorded value's JSON for a fault it does not know.
func faultWords(f history.Fault, nodes []string) (words, short string) {
	var v faultValue
	if !history.IsNull(f.StartValue) && json.Unmarshal(f.StartValue, &v) == nil {
		v.parsedRaw = true
	}
	switch {
	case !v.parsedRaw:
	case f.Name == "partition" && len(v.Grudge) > 0:
		words, short = grudgeWords(v.Grudge, nodes)
		if v.Topology != "" {
			words += " (" + v.Topology + ")"
		}
		if v.Fallback != "" {
			words += "; " + v.Fallback
		}
		return words, short
	case f.Name == "partition" && len(v.Nodes) > 0:
		return andList(v.Nodes) + " cut off from the others", andList(v.Nodes) + " cut off"
	case (f.Name == "kill" || f.Name == "pause") && len(v.Nodes) > 0:
		verb := map[string]string{"kill": "killed", "pause": "paused"}[f.Name]
		return andList(v.Nodes) + " " + verb, andList(v.Nodes)
	case f.Name == "clock" && len(v.Nodes) > 0 && v.OffsetMS != nil:
		words = fmt.Sprintf("%s's clock set %+d ms off", andList(v.Nodes), *v.OffsetMS)
		if v.PeriodMS > 0 {
			words += fmt.Sprintf(", flipping every %d ms", v.PeriodMS)
		}
		return words, fmt.Sprintf("%s %+d ms", andList(v.Nodes), *v.OffsetMS)
	case f.Name == "packet" && len(v.Nodes) > 0:
		var parts []string
		keys := make([]string, 0, len(v.Netem))
		for k := range v.Netem {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %v", k, v.Netem[k]))
		}
		words = andList(v.Nodes) + "'s packets shaped"
		if len(parts) > 0 {
			words += ": " + strings.Join(parts, ", ")
		}
		return words, andList(v.Nodes) + " " + v.Mode
	}
	if history.IsNull(f.StartValue) {
		return "", ""
	}
	return shorten(valueText(f.StartValue)), ""
}

// grudgeWords puts a partition in words. A grudge maps each node to the
// nodes whose packets it drops. A symmetric cut into groups that see
// each other whole reads "n3 cut off from n1 and n2"; anything else
// lists who cannot hear whom.
func grudgeWords(g map[string][]string, known []string) (words, short string) {
	drops := map[string]map[string]bool{}
	all := map[string]bool{}
	for _, n := range known {
		all[n] = true
	}
	for a, bs := range g {
		all[a] = true
		for _, b := range bs {
			all[b] = true
			if drops[a] == nil {
				drops[a] = map[string]bool{}
			}
			drops[a][b] = true
		}
	}
	nodes := make([]string, 0, len(all))
	for n := range all {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	cut := func(a, b string) bool { return drops[a][b] }
	symmetric := true
	for _, a := range nodes {
		for _, b := range nodes {
			if cut(a, b) != cut(b, a) {
				symmetric = false
			}
		}
	}
	if symmetric {
		// Groups: nodes that hear each other. A clean split is one where
		// every pair inside a group hears each other and every pair
		// across groups is cut.
		var groups [][]string
		group := map[string]int{}
		for _, n := range nodes {
			placed := false
			for gi, gr := range groups {
				if !cut(n, gr[0]) {
					groups[gi] = append(gr, n)
					group[n] = gi
					placed = true
					break
				}
			}
			if !placed {
				group[n] = len(groups)
				groups = append(groups, []string{n})
			}
		}
		clean := true
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b && cut(a, b) != (group[a] != group[b]) {
					clean = false
				}
			}
		}
		if clean && len(groups) == 2 {
			small, big := groups[0], groups[1]
			if len(small) > len(big) {
				small, big = big, small
			}
			return andList(small) + " cut off from " + andList(big), andList(small) + " cut off"
		}
		if clean && len(groups) > 2 {
			parts := make([]string, len(groups))
			for i, gr := range groups {
				parts[i] = strings.Join(gr, " ")
			}
			return "split into " + strings.Join(parts, " | "), strings.Join(parts, " | ")
		}
		var links, free []string
		for i, a := range nodes {
			alone := true
			for _, b := range nodes {
				if cut(a, b) {
					alone = false
				}
			}
			if alone {
				free = append(free, a)
			}
			for _, b := range nodes[i+1:] {
				if cut(a, b) {
					links = append(links, a+"–"+b)
				}
			}
		}
		words = "links cut both ways: " + strings.Join(links, ", ")
		if len(free) > 0 {
			words += "; " + andList(free) + " still reach every node"
			if len(free) == 1 {
				words = strings.TrimSuffix(words, "reach every node") + "reaches every node"
			}
		}
		return words, "cut " + strings.Join(links, " ")
	}
	var parts, shorts []string
	for _, a := range nodes {
		var from []string
		for _, b := range nodes {
			if cut(a, b) {
				from = append(from, b)
			}
		}
		if len(from) > 0 {
			parts = append(parts, a+" drops packets from "+andList(from))
			shorts = append(shorts, a+" deaf to "+strings.Join(from, ","))
		}
	}
	return strings.Join(parts, "; ") + " (one-way)", strings.Join(shorts, "; ")
}

// andList is "a", "a and b", "a, b and c".
func andList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// relateToFaults says in words how the moment [from, to] (history ns) of
// an anomaly stands against the faults: during which, and how long after
// it started; else how long before the next and after the previous one.
// what names the moment: "the witness ops ran", "acknowledged".
func relateToFaults(what string, from, to int64, faults []faultInfo) string {
	if len(faults) == 0 {
		return what + "; the run injected no fault."
	}
	var during []string
	var prev, next *faultInfo
	for i := range faults {
		f := &faults[i]
		switch {
		case f.Start <= to && f.Stop >= from:
			s := fmt.Sprintf("during %s, %s after it started", f.Label(), fmtSecs(max(from, f.Start)-f.Start))
			if from < f.Start {
				s = fmt.Sprintf("across the start of %s (%s before it)", f.Label(), fmtSecs(f.Start-from))
			}
			if f.Words != "" {
				s += ": " + f.Words
			}
			during = append(during, s)
		case f.Stop < from:
			if prev == nil || f.Stop > prev.Stop {
				prev = f
			}
		case f.Start > to:
			if next == nil || f.Start < next.Start {
				next = f
			}
		}
	}
	if len(during) > 0 {
		return what + " " + strings.Join(during, "; and ") + "."
	}
	var parts []string
	if next != nil {
		s := fmt.Sprintf("%s before %s started", fmtSecs(next.Start-to), next.Label())
		if next.Words != "" {
			s += " — " + next.Words
		}
		parts = append(parts, s)
	}
	if prev != nil {
		s := fmt.Sprintf("%s after %s ended", fmtSecs(from-prev.Stop), prev.Label())
		if prev.Words != "" {
			s += " — " + prev.Words
		}
		parts = append(parts, s)
	}
	return what + " while no fault was active: " + strings.Join(parts, "; and ") + "."
}

// fmtSecs is a duration in ns as "1.3 s" or "250 ms" or "0.8 ms".
func fmtSecs(ns int64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.1f s", float64(ns)/1e9)
	case ns >= 1e7:
		return fmt.Sprintf("%.0f ms", float64(ns)/1e6)
	default:
		return fmt.Sprintf("%.1f ms", float64(ns)/1e6)
	}
}
