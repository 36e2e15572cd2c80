package depgraph

import (
	"cmp"
	"slices"
)

// Graph is a set of nodes named by K, each with the nodes it depends on.
// The zero value is an empty graph ready to use.
//
// K is usually string. Floating-point keys must not be NaN.
type Graph[K cmp.Ordered] struct {
	// deps maps each added node to its sorted, duplicate-free dependencies.
	deps map[K][]K
}

// New returns an empty graph.
func New[K cmp.Ordered]() *Graph[K] {
	return &Graph[K]{deps: make(map[K][]K)}
}

// Add declares node and the nodes it depends on. Adding a node that is
// already in the graph merges dependsOn into its dependencies; repeated
// dependencies are recorded once. A node may name itself, which makes a
// cycle that [Graph.Levels] reports.
func (g *Graph[K]) Add(node K, dependsOn ...K) {
	if g.deps == nil {
		g.deps = make(map[K][]K)
	}
	merged := append(g.deps[node], dependsOn...)
	slices.Sort(merged)
	g.deps[node] = slices.Compact(merged)
}

// Has reports whether node was added to the graph. A name that only appears
// as a dependency is not in the graph.
func (g *Graph[K]) Has(node K) bool {
	_, ok := g.deps[node]
	return ok
}

// Len returns the number of nodes in the graph.
func (g *Graph[K]) Len() int { return len(g.deps) }

// Nodes returns the nodes of the graph, sorted.
func (g *Graph[K]) Nodes() []K {
	nodes := make([]K, 0, len(g.deps))
	for n := range g.deps {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	return nodes
}

// DependenciesOf returns the direct dependencies of node, sorted, including
// any that are missing from the graph. It returns nil when node has no
// dependencies or was not added.
func (g *Graph[K]) DependenciesOf(node K) []K {
	return slices.Clone(g.deps[node])
}

// Dependents returns every node that depends on node directly or
// transitively, sorted, without node itself (even when node is on a cycle).
// node need not be in the graph: the dependents of a missing dependency are
// the nodes that cannot run without it.
func (g *Graph[K]) Dependents(node K) []K {
	rdeps := make(map[K][]K)
	for n, deps := range g.deps {
		for _, d := range deps {
			rdeps[d] = append(rdeps[d], n)
		}
	}
	seen := map[K]bool{node: true}
	queue := []K{node}
	var out []K
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, r := range rdeps[n] {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
				queue = append(queue, r)
			}
		}
	}
	slices.Sort(out)
	return out
}
