package checkers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// causalEntry is one read or write in the causal analysis. A cas that
// succeeded is two entries of its session: a read of expected, then a write
// of new.
type causalEntry struct {
	sess  int32
	pos   int32 // position in the session
	write bool
	key   int32
	// from is, for a read, the entry of the write it read; fromInit when it
	// read the initial (absent) state; fromNowhere when no write wrote it.
	from int32
	op   int32 // index in causalGraph.ops
}

const (
	fromInit    int32 = -1
	fromNowhere int32 = -2
)

// causalGraph is a history cut into sessions, with reads-from resolved and,
// once clocked, a vector clock per entry.
type causalGraph struct {
	ops      []regOp
	entries  []causalEntry
	sessions [][]int32 // session -> its entries in session order
	procs    []int     // session -> process
	keys     []string  // key id -> key
	// writes lists, per key and session, the entries writing the key in
	// session order.
	writes map[int64]*writeList
	// writerSessions lists, per key, the sessions that write it.
	writerSessions [][]int32
	// cut marks reads whose reads-from edge lies on a cycle of session
	// order and reads-from (reported as CyclicCO); clocks ignore it.
	cut []bool
	// Vector clocks have one column per session that writes (a session
	// that only reads has no causal successors outside itself, so nothing
	// needs to know how far into it one is). col[s] is session s's column,
	// or -1. vc[e] is entry e's clock: clock(vc[e])[col[s]] is how many
	// entries of session s are causally before (or equal to) e. The entry's
	// own session column may be stale: its position says it. Entries whose
	// reads bring nothing new share their predecessor's clock.
	col   []int32
	ncols int
	vc    []int32
	clocks
	nsess int
}

// errNotDifferentiated says a history writes some value twice to a key.
type errNotDifferentiated struct {
	key, value string
	first      int64
	second     int64
}

func (e *errNotDifferentiated) Error() string {
	if e.value == "null" {
		return fmt.Sprintf("key %q: the write at event %d writes null, which cannot be told apart from the initial absent state; causal checking needs differentiated histories (each value written at most once per key, never null)", e.key, e.second)
	}
	return fmt.Sprintf("key %q: value %s is written twice (events %d and %d); causal checking needs differentiated histories, where each value is written at most once per key, so that every read has exactly one write it can have read from", e.key, e.value, e.first, e.second)
}

// buildCausal cuts ops into sessions (one per process) and resolves which
// write each read read from. Failed writes are not writes; info writes
// are (they may have happened); info reads are already dropped; a cas that
// failed with mismatch is left out; a cas of unknown outcome is a write of
// its new value only (see the package doc).
//
// A key that is not differentiated (a value written twice, or null
// written) has no single write per read: every such key is returned, and
// no graph.
func buildCausal(ops []regOp) (*causalGraph, []*errNotDifferentiated) {
	g := &causalGraph{ops: ops, writes: map[int64]*writeList{}}
	// An info write that is not its process's last operation (the harness
	// retires a process after an info, other tools may not) gets a session
	// of its own: it may never have happened, so the operations after it
	// in its process must not count as causally after it. Its session
	// holds only it, so it is causally before only what read it.
	last := map[int]int{}
	for i, r := range ops {
		last[r.op.Process] = i
	}
	sessOf := map[int64]int32{}
	keyOf := map[string]int32{}
	type kv struct {
		key int32
		val string
	}
	writer := make(map[kv]int32, len(ops)/2)
	g.entries = make([]causalEntry, 0, len(ops)+len(ops)/8)
	add := func(op int32, write bool) {
		o := ops[op].op
		sk := int64(o.Process)
		if ops[op].status == statusInfo && last[o.Process] != int(op) {
			sk = 1<<40 + int64(op) // a session of its own
		}
		s, ok := sessOf[sk]
		if !ok {
			s = int32(len(g.sessions))
			sessOf[sk] = s
			g.sessions = append(g.sessions, nil)
			g.procs = append(g.procs, o.Process)
		}
		k, ok := keyOf[o.Key]
		if !ok {
			k = int32(len(g.keys))
			keyOf[o.Key] = k
			g.keys = append(g.keys, o.Key)
		}
		e := causalEntry{sess: s, pos: int32(len(g.sessions[s])), write: write, key: k, from: fromNowhere, op: op}
		id := int32(len(g.entries))
		g.entries = append(g.entries, e)
		g.sessions[s] = append(g.sessions[s], id)
	}
	vals := make([]string, 0, cap(g.entries)) // entry -> value
	for i, r := range ops {
		switch {
		case r.kind == regRead:
			add(int32(i), false)
			vals = append(vals, r.value)
		case r.kind == regWrite:
			add(int32(i), true)
			vals = append(vals, r.value)
		case r.kind == regCAS && r.status == statusOK:
			add(int32(i), false)
			vals = append(vals, r.expected)
			add(int32(i), true)
			vals = append(vals, r.value)
		case r.kind == regCAS && r.status == statusInfo:
			add(int32(i), true)
			vals = append(vals, r.value)
		}
	}
	g.nsess = len(g.sessions)
	g.writerSessions = make([][]int32, len(g.keys))
	// Every key that is not differentiated is reported (the first write
	// that shows it), so that the caller can leave those keys out and
	// check the others.
	var nd []*errNotDifferentiated
	ndKey := map[int32]bool{}
	for id, e := range g.entries {
		if !e.write {
			continue
		}
		k := kv{e.key, vals[id]}
		if vals[id] == "null" {
			if !ndKey[e.key] {
				ndKey[e.key] = true
				nd = append(nd, &errNotDifferentiated{key: g.keys[e.key], value: "null", second: ops[e.op].op.InvokeIndex})
			}
			continue
		}
		if prev, dup := writer[k]; dup {
			if !ndKey[e.key] {
				ndKey[e.key] = true
				nd = append(nd, &errNotDifferentiated{key: g.keys[e.key], value: vals[id],
					first: ops[g.entries[prev].op].op.InvokeIndex, second: ops[e.op].op.InvokeIndex})
			}
			continue
		}
		writer[k] = int32(id)
		wk := int64(e.key)*int64(g.nsess) + int64(e.sess)
		wl := g.writes[wk]
		if wl == nil {
			wl = &writeList{}
			g.writes[wk] = wl
			g.writerSessions[e.key] = append(g.writerSessions[e.key], e.sess)
		}
		wl.pos = append(wl.pos, e.pos)
		wl.ids = append(wl.ids, int32(id))
	}
	if len(nd) > 0 {
		return nil, nd
	}
	for id := range g.entries {
		e := &g.entries[id]
		if e.write {
			continue
		}
		if vals[id] == "null" {
			e.from = fromInit
			continue
		}
		if w, ok := writer[kv{e.key, vals[id]}]; ok {
			e.from = w
		}
	}
	g.cut = make([]bool, len(g.entries))
	return g, nil
}

// value is the value an entry reads or writes.
func (g *causalGraph) value(id int32) string {
	e := g.entries[id]
	r := g.ops[e.op]
	if r.kind == regCAS && !e.write {
		return r.expected
	}
	return r.value
}

// coGraph is session order plus the reads-from edges not cut.
func (g *causalGraph) coEdges() []edge {
	edges := make([]edge, 0, len(g.entries)*2)
	for _, sess := range g.sessions {
		for i := 1; i < len(sess); i++ {
			edges = append(edges, edge{from: sess[i-1], to: sess[i], kind: edgePO})
		}
	}
	for id, e := range g.entries {
		if !e.write && e.from >= 0 && !g.cut[id] {
			edges = append(edges, edge{from: e.from, to: int32(id), kind: edgeWR})
		}
	}
	return edges
}

// findCyclicCO finds the cycles of session order and reads-from, reports
// each strongly connected component as one CyclicCO anomaly, and cuts the
// reads-from edges inside them so that the rest can be clocked.
func (g *causalGraph) findCyclicCO() (found []Anomaly, count int) {
	co := buildCSR(len(g.entries), g.coEdges())
	comp, cyclic := co.sccs()
	for _, members := range cyclic {
		count++
		c := comp[members[0]]
		var start int32 = -1
		for _, m := range members {
			e := g.entries[m]
			if !e.write && e.from >= 0 && comp[e.from] == c {
				if start < 0 || m < start {
					start = m
				}
			}
		}
		if len(found) < maxReported && start >= 0 {
			cycle := co.shortestPath(start, start, func(v int32) bool { return comp[v] == c })
			found = append(found, g.cycleAnomaly("CyclicCO", cycle,
				"Causal order (session order plus reads-from) has a cycle, so some operation causally precedes itself"))
		}
		for _, m := range members {
			e := g.entries[m]
			if !e.write && e.from >= 0 && comp[e.from] == c {
				g.cut[m] = true
			}
		}
	}
	return found, count
}

// clocks is an append-only store of vector clocks of ncols columns, in
// blocks so that growing it never copies what it holds.
type clocks struct {
	width  int
	blocks [][]int32
	n      int32
}

const clockBlock = 4096 // clocks per block

func (c *clocks) get(id int32) []int32 {
	b := c.blocks[id/clockBlock]
	o := int(id%clockBlock) * c.width
	return b[o : o+c.width : o+c.width]
}

func (c *clocks) add(v []int32) int32 {
	if int(c.n)%clockBlock == 0 {
		c.blocks = append(c.blocks, make([]int32, clockBlock*c.width))
	}
	id := c.n
	c.n++
	copy(c.get(id), v)
	return id
}

// clock computes every entry's vector clock, processing sessions in an
// order where each read comes after the write it read from (reads-from
// edges that were cut are ignored, so there is always one).
func (g *causalGraph) clock() {
	g.col = make([]int32, g.nsess)
	for s := range g.col {
		g.col[s] = -1
	}
	for _, e := range g.entries {
		if e.write && g.col[e.sess] < 0 {
			g.col[e.sess] = int32(g.ncols)
			g.ncols++
		}
	}
	g.clocks = clocks{width: max(g.ncols, 1)}
	zero := make([]int32, g.clocks.width)
	g.clocks.add(zero) // clock 0: nothing known
	g.vc = make([]int32, len(g.entries))
	done := make([]bool, len(g.entries))
	head := make([]int, g.nsess)
	waiting := map[int32][]int32{} // write -> sessions blocked on it
	ready := make([]int32, 0, g.nsess)
	for s := range g.nsess {
		ready = append(ready, int32(s))
	}
	scratch := make([]int32, g.clocks.width)
	for len(ready) > 0 {
		s := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		sess := g.sessions[s]
		own := g.col[s]
		for head[s] < len(sess) {
			id := sess[head[s]]
			e := g.entries[id]
			base := int32(0)
			if e.pos > 0 {
				base = g.vc[sess[e.pos-1]]
			}
			if !e.write && e.from >= 0 && !g.cut[id] {
				w := e.from
				if !done[w] {
					waiting[w] = append(waiting[w], s)
					break
				}
				we := g.entries[w]
				bv := g.clocks.get(base)
				wv := g.clocks.get(g.vc[w])
				wcol := g.col[we.sess]
				changed := false
				for i := range scratch {
					m := max(bv[i], wv[i])
					if int32(i) == wcol && we.pos+1 > m {
						m = we.pos + 1
					}
					scratch[i] = m
					if m != bv[i] && int32(i) != own {
						changed = true
					}
				}
				if changed {
					base = g.clocks.add(scratch)
				}
			}
			g.vc[id] = base
			done[id] = true
			head[s]++
			if e.write {
				if ws, ok := waiting[id]; ok {
					ready = append(ready, ws...)
					delete(waiting, id)
				}
			}
		}
	}
}

// before reports whether entry a is causally before or equal to entry b.
func (g *causalGraph) before(a, b int32) bool {
	ea, eb := g.entries[a], g.entries[b]
	if ea.sess == eb.sess {
		return ea.pos <= eb.pos
	}
	c := g.col[ea.sess]
	if c < 0 {
		return false // a session that never writes is before nothing outside itself
	}
	return g.clocks.get(g.vc[b])[c] > ea.pos
}

// known is how many entries of session s (a session that writes) are
// causally before or equal to b.
func (g *causalGraph) known(b int32, s int32) int32 {
	eb := g.entries[b]
	if eb.sess == s {
		return eb.pos + 1
	}
	return g.clocks.get(g.vc[b])[g.col[s]]
}

// lastWriteBefore is the last write to key in session s among its first n
// entries, or -1.
func (g *causalGraph) lastWriteBefore(key, s, n int32) int32 {
	wl := g.writes[int64(key)*int64(g.nsess)+int64(s)]
	if wl == nil {
		return -1
	}
	// The first write at position >= n; the one before it is the answer.
	lo, hi := 0, len(wl.pos)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if wl.pos[m] < n {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return -1
	}
	return wl.ids[lo-1]
}

// writeList is the writes of one key by one session, in session order:
// their positions (for binary search) and entries.
type writeList struct {
	pos, ids []int32
}

// staleRead is a read that returned a value causally overwritten: by w2,
// which is causally before the read and after the write w1 it read from
// (WriteCORead), or any write of the key when it read the initial state
// (WriteCOInitRead, w1 = fromInit).
type staleRead struct {
	read, w1, w2 int32
}

// scanReads finds the stale reads and, when cf is set, the conflict edges
// of causal convergence: a write w2 causally before a read of w1's value
// must be arbitrated before w1 (w2 → w1), unless it already causally is.
func (g *causalGraph) scanReads(ctx context.Context, cf bool) (stale []staleRead, cfEdges []edge) {
	for id, e := range g.entries {
		if id&0xffff == 0 && ctx.Err() != nil {
			return stale, cfEdges
		}
		if e.write || e.from == fromNowhere {
			continue
		}
		r := int32(id)
		w1 := e.from
		rv := g.clocks.get(g.vc[r])
		var wv []int32
		var w1sess int32 = -1
		if w1 >= 0 {
			wv = g.clocks.get(g.vc[w1])
			w1sess = g.entries[w1].sess
		}
		for _, s := range g.writerSessions[e.key] {
			var n int32
			switch s {
			case e.sess:
				n = e.pos // writes before the read itself
			default:
				n = rv[g.col[s]]
			}
			if w1 >= 0 {
				// What w1 already knew of s is causally before w1, so it
				// can neither overwrite w1 nor need ordering before it:
				// only a read that knows more of s than w1 did is worth a
				// search.
				k := wv[g.col[s]]
				if s == w1sess {
					k = g.entries[w1].pos + 1
				}
				if n <= k {
					continue
				}
			}
			w2 := g.lastWriteBefore(e.key, s, n)
			if w2 < 0 || w2 == w1 {
				continue
			}
			if w1 == fromInit {
				stale = append(stale, staleRead{read: r, w1: fromInit, w2: w2})
				break
			}
			if g.before(w1, w2) {
				stale = append(stale, staleRead{read: r, w1: w1, w2: w2})
				break
			}
			if cf && !g.before(w2, w1) {
				cfEdges = append(cfEdges, edge{from: w2, to: w1, kind: edgeCF, via: r})
			}
		}
	}
	return stale, cfEdges
}

// explainStale turns a stale read into an anomaly, with the shortest
// causal path from the overwriting write to the read and the session
// guarantee it breaks, where one does.
func (g *causalGraph) explainStale(co csr, sr staleRead) Anomaly {
	r := sr.read
	rk := g.keys[g.entries[r].key]
	toRead := co.shortestPath(sr.w2, r, func(v int32) bool { return g.before(v, r) })
	a := Anomaly{Keys: []string{rk}}
	var path []step
	if sr.w1 == fromInit {
		a.Name = "WriteCOInitRead"
		path = toRead
	} else {
		a.Name = "WriteCORead"
		toW2 := co.shortestPath(sr.w1, sr.w2, func(v int32) bool { return g.before(v, sr.w2) })
		if toW2 != nil && toRead != nil {
			path = append(toW2, toRead[1:]...)
		}
	}
	a.Guarantee = guarantee(g, toRead)
	witness := g.compress(path, sr.w2)
	for _, s := range witness {
		a.Ops = appendOp(a.Ops, g.ops[g.entries[s.node].op].op.InvokeIndex)
	}
	var b strings.Builder
	if sr.w1 == fromInit {
		fmt.Fprintf(&b, "%s returned the initial (absent) value of %s although a write of %s is causally before it: ",
			g.ops[g.entries[r].op].describe(), rk, rk)
	} else {
		fmt.Fprintf(&b, "%s returned %s=%s, which was causally overwritten before the read: ",
			g.ops[g.entries[r].op].describe(), rk, g.value(r))
	}
	b.WriteString(g.narrate(witness))
	b.WriteString(".")
	if sr.w1 != fromInit {
		fmt.Fprintf(&b, " The value it read was written by %s.", g.ops[g.entries[sr.w1].op].describe())
	}
	if a.Guarantee != "" {
		fmt.Fprintf(&b, " This breaks %s.", a.Guarantee)
	}
	a.Explanation = b.String()
	return a
}

func appendOp(ops []int64, idx int64) []int64 {
	if len(ops) > 0 && ops[len(ops)-1] == idx {
		return ops // the two halves of one cas
	}
	return append(ops, idx)
}

// guarantee names the session guarantee a causal path from an overwriting
// write w2 to a stale read breaks, from the shape of the shortest path.
func guarantee(g *causalGraph, path []step) string {
	if len(path) == 0 {
		return ""
	}
	var hops []int // indices of the reads-from edges in path
	for i := 1; i < len(path); i++ {
		if path[i].kind == edgeWR {
			hops = append(hops, i)
		}
	}
	w2 := path[0].node
	switch len(hops) {
	case 0:
		return "read-your-writes"
	case 1:
		if path[hops[0]-1].node == w2 {
			return "monotonic-reads"
		}
		return "monotonic-writes"
	case 2:
		if hops[0] == 1 {
			return "writes-follow-reads"
		}
	}
	return ""
}

// compress keeps the nodes of a path where something other than session
// order happens: session-order runs are shown by their ends.
// Nodes in keep are kept whatever the edges around them.
func (g *causalGraph) compress(path []step, keep ...int32) []step {
	var out []step
	for i, s := range path {
		last := i == len(path)-1
		if i == 0 || last || s.kind != edgePO || path[i+1].kind != edgePO || slices.Contains(keep, s.node) {
			out = append(out, s)
		}
	}
	return out
}

// narrate tells a compressed path edge by edge.
func (g *causalGraph) narrate(path []step) string {
	if len(path) == 0 {
		return "(no witness path found)"
	}
	parts := []string{g.ops[g.entries[path[0].node].op].describe()}
	for i := 1; i < len(path); i++ {
		prev, cur := path[i-1].node, path[i].node
		pe, ce := g.entries[prev], g.entries[cur]
		cd := g.ops[ce.op].describe()
		switch path[i].kind {
		case edgePO:
			if pe.op == ce.op {
				parts = append(parts, fmt.Sprintf("the same cas then wrote %s=%s", g.keys[ce.key], g.value(cur)))
			} else {
				parts = append(parts, "then "+cd)
			}
		case edgeWR:
			parts = append(parts, fmt.Sprintf("%s read the %s=%s that p%d wrote", cd, g.keys[ce.key], g.value(cur), g.procs[pe.sess]))
		case edgeCF:
			parts = append(parts, fmt.Sprintf("%s returned %s although p%d's write of %s=%s was causally before that read, so that write must be ordered before %s",
				g.ops[g.entries[path[i].via].op].describe(), g.value(cur), g.procs[pe.sess], g.keys[pe.key], g.value(prev), cd))
		}
	}
	return strings.Join(parts, "; ")
}

// cycleAnomaly reports a cycle as an anomaly.
func (g *causalGraph) cycleAnomaly(name string, cycle []step, what string) Anomaly {
	a := Anomaly{Name: name}
	witness := g.compress(cycle)
	keys := map[string]bool{}
	for i, s := range witness {
		if s.kind == edgeCF && i > 0 {
			a.Ops = appendOp(a.Ops, g.ops[g.entries[s.via].op].op.InvokeIndex)
		}
		if i == len(witness)-1 && i > 0 && s.node == witness[0].node {
			break // the cycle closes on its first op
		}
		a.Ops = appendOp(a.Ops, g.ops[g.entries[s.node].op].op.InvokeIndex)
		keys[g.keys[g.entries[s.node].key]] = true
	}
	for k := range keys {
		a.Keys = append(a.Keys, k)
	}
	sort.Strings(a.Keys)
	a.Explanation = what + ": " + g.narrate(witness) + ", which closes the cycle."
	if len(a.Ops) == 2 && g.entries[witness[0].node].sess == g.entries[witness[1].node].sess {
		a.Explanation += " A session read a value it only wrote later."
	}
	return a
}

// thinAir reports reads of values no write wrote (failed writes did not).
func (g *causalGraph) thinAir(events []history.Event) (found []Anomaly, count int) {
	var failed map[string]int64
	for id, e := range g.entries {
		if e.write || e.from != fromNowhere {
			continue
		}
		count++
		if len(found) >= maxReported {
			continue
		}
		if failed == nil {
			failed = failedWrites(events)
		}
		key, val := g.keys[e.key], g.value(int32(id))
		op := g.ops[e.op]
		a := Anomaly{Name: "ThinAirRead", Keys: []string{key}, Ops: []int64{op.op.InvokeIndex}}
		a.Explanation = fmt.Sprintf("%s returned %s=%s, but no write of that value may have happened", op.describe(), key, val)
		if idx, ok := failed[key+"\x00"+val]; ok {
			a.Explanation += fmt.Sprintf(": the only write of it (event %d) failed", idx)
			a.Ops = append([]int64{idx}, a.Ops...)
		}
		a.Explanation += "."
		found = append(found, a)
	}
	return found, count
}

// failedWrites maps key+"\x00"+value to a failed write (or a cas that
// failed) of that value.
func failedWrites(events []history.Event) map[string]int64 {
	out := map[string]int64{}
	for _, op := range history.Pair(events) {
		if op.Type != history.Fail {
			continue
		}
		v := op.Input
		switch op.F {
		case history.FWrite:
		case history.FCAS:
			_, nw, err := history.SplitCAS(op.Input)
			if err != nil {
				continue
			}
			v = nw
		default:
			continue
		}
		k := op.Key + "\x00" + history.Canonical(v)
		if _, ok := out[k]; !ok {
			out[k] = op.InvokeIndex
		}
	}
	return out
}

// causalAnalysis is what the causal, causal+ and eventual checkers share.
type causalAnalysis struct {
	g        *causalGraph
	thinAir  []Anomaly
	cyclicCO []Anomaly
	stale    []Anomaly // WriteCORead and WriteCOInitRead, explained
	cyclicCF []Anomaly
	counts   map[string]int
}

// analyzeOps runs the causal analysis on the register operations of
// events. With cf, it also looks for CyclicCF.
//
// The keys that are not differentiated are left out of the analysis (a
// projection of the history: causal order only loses edges, so what is
// found on the other keys holds for the whole history) and returned.
func analyzeOps(ctx context.Context, events []history.Event, ops []regOp, cf bool) (*causalAnalysis, []*errNotDifferentiated, error) {
	g, nd := buildCausal(ops)
	if nd != nil {
		left := map[string]bool{}
		for _, e := range nd {
			left[e.key] = true
		}
		// A copy: the caller may still use ops (eventual judges the
		// convergence of those keys).
		rest := make([]regOp, 0, len(ops))
		for _, r := range ops {
			if !left[r.op.Key] {
				rest = append(rest, r)
			}
		}
		// Every key that is not differentiated was reported, so the rest
		// builds.
		var again []*errNotDifferentiated
		if g, again = buildCausal(rest); again != nil {
			panic(fmt.Sprintf("checkers: key %q still not differentiated once the others were left out", again[0].key))
		}
	}
	a := &causalAnalysis{g: g, counts: map[string]int{}}
	a.counts["ops"] = len(ops)
	a.counts["sessions"] = g.nsess
	var n int
	a.thinAir, n = g.thinAir(events)
	a.counts["ThinAirRead"] = n
	a.cyclicCO, n = g.findCyclicCO()
	a.counts["CyclicCO"] = n
	g.clock()
	if err := ctx.Err(); err != nil {
		return nil, nd, err
	}
	stale, cfEdges := g.scanReads(ctx, cf)
	if err := ctx.Err(); err != nil {
		return nil, nd, err
	}
	co := buildCSR(len(g.entries), g.coEdges())
	for _, sr := range stale {
		name := "WriteCORead"
		if sr.w1 == fromInit {
			name = "WriteCOInitRead"
		}
		a.counts[name]++
		if a.counts[name] <= maxReported {
			a.stale = append(a.stale, g.explainStale(co, sr))
		}
	}
	if cf {
		all := append(g.coEdges(), cfEdges...)
		full := buildCSR(len(g.entries), all)
		comp, cyclic := full.sccs()
		for _, members := range cyclic {
			a.counts["CyclicCF"]++
			if len(a.cyclicCF) >= maxReported {
				continue
			}
			c := comp[members[0]]
			// Start from the source of a conflict edge inside the component.
			start := members[0]
		find:
			for _, m := range members {
				for p := full.off[m]; p < full.off[m+1]; p++ {
					if full.kind[p] == edgeCF && comp[full.to[p]] == c {
						start = m
						break find
					}
				}
			}
			cycle := full.shortestPath(start, start, func(v int32) bool { return comp[v] == c })
			a.cyclicCF = append(a.cyclicCF, g.cycleAnomaly("CyclicCF", cycle,
				"No single order of the writes explains what every session read (causal convergence): causal order and the write order the reads force form a cycle"))
		}
	}
	return a, nd, nil
}

// causalChecker checks causal consistency (CC) or, with convergence,
// causal+ (CCv).
type causalChecker struct{ convergence bool }

func (c causalChecker) Name() string {
	if c.convergence {
		return "causal+"
	}
	return "causal"
}

func (c causalChecker) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name()}
	ops, probs := registerHistory(events)
	if nothingDecided(ops, &probs) {
		return unknownf(res, "%s", probs.nothingToCheck())
	}
	// Leaving out every operation on a key the model cannot check is a
	// projection of the history: causal order only loses edges, so the
	// anomalies found on the rest are anomalies of the whole history.
	a, nd, err := analyzeOps(ctx, events, probs.dropSkipped(ops), c.convergence)
	if err != nil {
		return unknownf(res, "cannot check %s: %v", c.Name(), err)
	}
	for _, e := range nd {
		probs.badKey(e.key, e.Error())
	}
	res.Counts = a.counts
	res.Anomalies = append(res.Anomalies, a.thinAir...)
	res.Anomalies = append(res.Anomalies, a.cyclicCO...)
	res.Anomalies = append(res.Anomalies, a.stale...)
	res.Anomalies = append(res.Anomalies, a.cyclicCF...)
	switch {
	case len(res.Anomalies) > 0:
		res.Valid = Invalid
	case probs.any():
		res.Valid = Unknown
		res.Reason = probs.undecided(len(a.g.keys)+len(probs.skip), "no anomaly among the operations on the other keys")
	default:
		res.Valid = Valid
	}
	return res
}
