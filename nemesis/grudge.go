package nemesis

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Topologies lists the partition shapes the partition nemesis draws from.
//
//   - one: isolate one node from all others (both ways).
//   - halves: cut the cluster into a minority (n/2 nodes) and a majority.
//   - majorities-ring: each node sees exactly a majority (itself
//     included), and no two nodes see the same majority.
//   - minority-third: cut off a third of the nodes (at least one).
//   - bridge: two halves that cannot see each other and one node that
//     sees both.
//   - isolate-leader: isolate the current leader (Target.Leader).
//   - one-way: one node drops every packet from the others, while they
//     still receive its packets (an asymmetric cut).
var Topologies = []string{"one", "halves", "majorities-ring", "minority-third", "bridge", "isolate-leader", "one-way"}

// ParseTopologies parses a comma-separated list of Topologies ("" or
// "all" = all of them); "majority" is accepted for halves.
func ParseTopologies(spec string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case "all":
			out = append(out, Topologies...)
			continue
		case "majority":
			name = "halves"
		}
		if !slices.Contains(Topologies, name) {
			return nil, fmt.Errorf("unknown partition topology %q: valid names are %s, all", name, strings.Join(Topologies, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		out = append(out, Topologies...)
	}
	return out, nil
}

// Grudge construction. Every function is pure: the caller decides the
// order of nodes (the schedule shuffles them with the run's seed), and the
// function cuts that order into groups.

// Isolate cuts victim off from every other node, both ways.
func Isolate(nodes []string, victim string) Grudge {
	var rest []string
	for _, n := range nodes {
		if n != victim {
			rest = append(rest, n)
		}
	}
	return Split([]string{victim}, rest)
}

// Split cuts every link between group a and group b, both ways.
func Split(a, b []string) Grudge {
	g := Grudge{}
	for _, x := range a {
		g[x] = append(g[x], b...)
	}
	for _, y := range b {
		g[y] = append(g[y], a...)
	}
	return g.normalize()
}

// Halves cuts nodes into nodes[:n/2] (a minority) and the rest.
func Halves(nodes []string) Grudge {
	return Split(nodes[:len(nodes)/2], nodes[len(nodes)/2:])
}

// MinorityThird cuts nodes[:max(1, n/3)] off from the rest.
func MinorityThird(nodes []string) Grudge {
	k := max(1, len(nodes)/3)
	return Split(nodes[:k], nodes[k:])
}

// Bridge cuts nodes into nodes[:n/2] and nodes[n/2+1:], which cannot see
// each other, while nodes[n/2] sees both. It needs at least three nodes.
func Bridge(nodes []string) (Grudge, error) {
	if len(nodes) < 3 {
		return nil, fmt.Errorf("bridge partition needs at least 3 nodes, have %d", len(nodes))
	}
	mid := len(nodes) / 2
	return Split(nodes[:mid], nodes[mid+1:]), nil
}

// OneWay makes victim drop every packet from the other nodes; they keep
// receiving its packets.
func OneWay(nodes []string, victim string) Grudge {
	g := Grudge{}
	for _, n := range nodes {
		if n != victim {
			g[victim] = append(g[victim], n)
		}
	}
	return g.normalize()
}

// MajoritiesRing places nodes on a ring in the given order; each node keeps
// the links to its nearest neighbours and drops the others, so that it sees
// a majority (itself included) that overlaps its neighbours' majorities but
// equals none of them. The cut is symmetric. A node sees exactly
// n/2+1 nodes except when n and n/2 are both odd (3, 7, 11, ...), where no
// symmetric ring allows that, and it sees n/2+2. It needs at least four
// nodes (with three, every node would see everyone).
func MajoritiesRing(nodes []string) (Grudge, error) {
	n := len(nodes)
	if n < 4 {
		return nil, fmt.Errorf("majorities-ring partition needs at least 4 nodes, have %d", n)
	}
	k := n / 2 // peers each node must see
	keep := map[int]bool{}
	d := 1
	for len(keepCount(keep, n)) < k {
		if n%2 == 0 && k%2 == 1 && len(keepCount(keep, n))+1 == k {
			keep[n/2] = true // the opposite node: one peer, symmetric
			break
		}
		keep[d] = true
		d++
	}
	g := Grudge{}
	for i, x := range nodes {
		for j, y := range nodes {
			if i == j {
				continue
			}
			dist := (j - i + n) % n
			dist = min(dist, n-dist)
			if !keep[dist] {
				g[x] = append(g[x], y)
			}
		}
	}
	return g.normalize(), nil
}

// keepCount lists the peers at the kept ring distances of node 0.
func keepCount(keep map[int]bool, n int) []int {
	var peers []int
	for j := 1; j < n; j++ {
		dist := min(j, n-j)
		if keep[dist] {
			peers = append(peers, j)
		}
	}
	return peers
}

// normalize sorts each node's list and drops empty entries.
func (g Grudge) normalize() Grudge {
	for k, v := range g {
		if len(v) == 0 {
			delete(g, k)
			continue
		}
		sort.Strings(v)
		g[k] = slices.Compact(v)
	}
	return g
}

// Sees returns, for node x, the nodes whose packets reach it (x included).
func (g Grudge) Sees(nodes []string, x string) []string {
	var out []string
	for _, y := range nodes {
		if y == x || !slices.Contains(g[x], y) {
			out = append(out, y)
		}
	}
	return out
}

// Connected reports whether a and b can talk both ways under g.
func (g Grudge) Connected(a, b string) bool {
	return !slices.Contains(g[a], b) && !slices.Contains(g[b], a)
}
