package checkers

// csr is a directed graph in compressed sparse row form: the successors of
// v are to[off[v]:off[v+1]], each edge with a kind (for witnesses).
type csr struct {
	off  []int32
	to   []int32
	kind []edgeKind
	// via is, for a conflict edge, the read that forces it (nil when the
	// graph has no conflict edges).
	via []int32
}

// edgeKind is the relation an edge comes from.
type edgeKind uint8

const (
	edgePO edgeKind = iota // session order
	edgeWR                 // reads-from
	edgeCF                 // conflict: the source must be arbitrated before the target
)

// edge is an edge waiting to be put into a csr.
type edge struct {
	from, to int32
	kind     edgeKind
	via      int32 // conflict edges: the read that forces it
}

// buildCSR builds a graph with n nodes from its edges.
func buildCSR(n int, edges []edge) csr {
	g := csr{off: make([]int32, n+1), to: make([]int32, len(edges)), kind: make([]edgeKind, len(edges))}
	for _, e := range edges {
		g.off[e.from+1]++
	}
	for i := 1; i <= n; i++ {
		g.off[i] += g.off[i-1]
	}
	for _, e := range edges {
		if e.kind == edgeCF {
			g.via = make([]int32, len(edges))
			break
		}
	}
	fill := make([]int32, n)
	for _, e := range edges {
		p := g.off[e.from] + fill[e.from]
		fill[e.from]++
		g.to[p] = e.to
		g.kind[p] = e.kind
		if g.via != nil {
			g.via[p] = e.via
		}
	}
	return g
}

// sccs returns, for each node, its strongly connected component, and the
// components that have more than one node (the cyclic ones; a graph here
// has no self-loops). Iterative Tarjan: histories have millions of nodes.
func (g csr) sccs() (comp []int32, cyclic [][]int32) {
	n := len(g.off) - 1
	const unvisited = -1
	index := make([]int32, n)
	low := make([]int32, n)
	comp = make([]int32, n)
	for i := range index {
		index[i] = unvisited
		comp[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int32
	type frame struct{ v, next int32 }
	var call []frame
	var counter, ncomp int32
	for root := 0; root < n; root++ {
		if index[root] != unvisited {
			continue
		}
		call = append(call, frame{v: int32(root), next: g.off[root]})
		index[root], low[root] = counter, counter
		counter++
		stack = append(stack, int32(root))
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.next < g.off[v+1] {
				w := g.to[f.next]
				f.next++
				if index[w] == unvisited {
					index[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{v: w, next: g.off[w]})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				if low[v] < low[u] {
					low[u] = low[v]
				}
			}
			if low[v] == index[v] {
				var members []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					members = append(members, w)
					if w == v {
						break
					}
				}
				if len(members) > 1 {
					cyclic = append(cyclic, members)
				}
				ncomp++
			}
		}
	}
	return comp, cyclic
}

// step is one edge of a witness path.
type step struct {
	node int32
	kind edgeKind // the kind of the edge that led to node (unused for the first)
	via  int32    // for a conflict edge, the read that forces it
}

// shortestPath finds a path from src to dst that crosses the fewest
// non-session-order edges (0-1 BFS: session order costs 0), visiting only
// nodes for which allowed returns true (nil: all). With src == dst it finds
// the shortest cycle through src. It returns nil when there is none.
func (g csr) shortestPath(src, dst int32, allowed func(int32) bool) []step {
	const none = -2
	parent := map[int32]int32{}
	pkind := map[int32]edgeKind{}
	pvia := map[int32]int32{}
	dist := map[int32]int32{}
	deque := []int32{src}
	head := 0
	dist[src] = 0
	// For a cycle, dst is reached again through an edge; track it apart.
	cycleParent, cycleKind, cycleDist := int32(none), edgePO, int32(1<<30)
	var cycleVia int32
	viaOf := func(p int32) int32 {
		if g.via == nil {
			return -1
		}
		return g.via[p]
	}
	for head < len(deque) {
		v := deque[head]
		head++
		dv := dist[v]
		for p := g.off[v]; p < g.off[v+1]; p++ {
			w, k := g.to[p], g.kind[p]
			if allowed != nil && !allowed(w) {
				continue
			}
			cost := int32(1)
			if k == edgePO {
				cost = 0
			}
			if w == dst && src == dst {
				if dv+cost < cycleDist {
					cycleParent, cycleKind, cycleDist = v, k, dv+cost
					cycleVia = viaOf(p)
				}
				continue
			}
			if d, seen := dist[w]; seen && d <= dv+cost {
				continue
			}
			dist[w] = dv + cost
			parent[w] = v
			pkind[w] = k
			pvia[w] = viaOf(p)
			if cost == 0 {
				// push front: a 0-1 BFS keeps the queue sorted by distance
				if head > 0 {
					head--
					deque[head] = w
				} else {
					deque = append([]int32{w}, deque...)
				}
			} else {
				deque = append(deque, w)
			}
		}
	}
	var rev []step
	cur := dst
	if src == dst {
		if cycleParent == none {
			return nil
		}
		rev = append(rev, step{node: dst, kind: cycleKind, via: cycleVia})
		cur = cycleParent
	} else if _, ok := dist[dst]; !ok {
		return nil
	}
	for cur != src {
		rev = append(rev, step{node: cur, kind: pkind[cur], via: pvia[cur]})
		cur = parent[cur]
	}
	rev = append(rev, step{node: src})
	out := make([]step, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}
