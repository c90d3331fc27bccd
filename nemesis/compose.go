package nemesis

import (
	"slices"
	"strings"
)

// How faults compose. Every function here is pure: the schedule keeps
// the state (which fault holds which node) and asks these functions what
// a fault may do next.

// cond is a condition a fault puts a node in.
type cond uint8

const (
	killed cond = 1 << iota
	paused
	skewed
	packetFaulted
	partitioned
	powered // powered off: killed, and its un-fsynced writes dropped
)

var condNames = []struct {
	c    cond
	name string
}{{killed, "killed"}, {paused, "paused"}, {skewed, "skewed"}, {packetFaulted, "packet"}, {partitioned, "partitioned"}, {powered, "powered-off"}}

// String lists the conditions, "up" for none: "killed", "paused+skewed".
func (c cond) String() string {
	var parts []string
	for _, n := range condNames {
		if c&n.c != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "up"
	}
	return strings.Join(parts, "+")
}

// down holds the conditions in which a node's process does not answer.
// A fault kind that stops the process (a power loss) adds its condition
// here, and every fault that needs a live process avoids it.
const down = killed | paused | powered

// kind says how one fault composes with the others.
type kind struct {
	// cond is the condition the fault puts its nodes in.
	cond cond
	// blockedBy lists the conditions that keep the fault off a node: it
	// could not be applied there, or undoing one of the two would undo
	// or break the other.
	blockedBy cond
	// heal is the fault's place in Heal's order, lowest first.
	heal int
}

// kinds is the composition table; nemesis/README.md explains each row.
//
//   - pause, kill and power need a live process, and keep off a skewed node: the
//     clock's strobe and its reset need the node's API, which a frozen
//     node never answers, and a restarted process forgets its offset.
//   - packet keeps off a skewed node: in Docker the loss also hits the
//     harness's own requests to the node, so the clock's flips and its
//     reset would time out.
//   - clock needs a live process it can reach without loss.
//   - partition acts on the cluster: every node takes it in any state (a
//     killed node gets its rules when it restarts).
//
// Heal undoes them in this order: resume before restart (a frozen
// process holds its SIGKILL back), restart before the partition heals (a
// restarted node comes back with the current rules, which the heal then
// clears everywhere), the packet faults before the clocks (the resets
// need the node's API without loss).
var kinds = map[string]kind{
	"pause":     {cond: paused, blockedBy: down | skewed, heal: 10},
	"kill":      {cond: killed, blockedBy: down | skewed, heal: 20},
	"power":     {cond: powered, blockedBy: down | skewed, heal: 25},
	"partition": {cond: partitioned, heal: 30},
	"packet":    {cond: packetFaulted, blockedBy: packetFaulted | skewed, heal: 40},
	"clock":     {cond: skewed, blockedBy: down | skewed | packetFaulted, heal: 50},
}

// healOrder returns faults sorted in Heal's order.
func healOrder(faults []string) []string {
	out := slices.Clone(faults)
	slices.SortStableFunc(out, func(a, b string) int { return kinds[a].heal - kinds[b].heal })
	return out
}

// conditions returns each node's conditions under the active faults (a
// step's Nodes are the nodes its fault holds; a partition holds every
// node).
func conditions(nodes []string, active map[string]Step) map[string]cond {
	out := make(map[string]cond, len(nodes))
	for _, id := range nodes {
		out[id] = 0
	}
	for f, st := range active {
		for _, id := range st.Nodes {
			out[id] |= kinds[f].cond
		}
	}
	return out
}

// eligible returns the nodes, in the given order, that fault f can act
// on under conds.
func eligible(f string, nodes []string, conds map[string]cond) []string {
	var out []string
	for _, id := range nodes {
		if conds[id]&kinds[f].blockedBy == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Clash outcomes, from resolve.
const (
	clashNone   = ""
	clashMoved  = "moved"  // some drawn nodes were taken; others were chosen
	clashWaited = "waited" // too few nodes the fault can act on: it waits
)

// resolve replaces the drawn nodes f cannot act on with nodes it can,
// taken in the order of spare (the other nodes, already shuffled), keeping
// the drawn order otherwise. When too few nodes are left, it returns nil
// and clashWaited: the fault waits for a later step.
func resolve(f string, drawn, spare []string, conds map[string]cond) ([]string, string) {
	ok := eligible(f, drawn, conds)
	if len(ok) == len(drawn) {
		return drawn, clashNone
	}
	var pool []string
	for _, id := range eligible(f, spare, conds) {
		if !slices.Contains(drawn, id) {
			pool = append(pool, id)
		}
	}
	if len(ok)+len(pool) < len(drawn) {
		return nil, clashWaited
	}
	out := make([]string, 0, len(drawn))
	for _, id := range drawn {
		if conds[id]&kinds[f].blockedBy == 0 {
			out = append(out, id)
			continue
		}
		out = append(out, pool[0])
		pool = pool[1:]
	}
	return out, clashMoved
}
