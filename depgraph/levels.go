package depgraph

import (
	"errors"
	"slices"
)

// Levels returns the nodes in topological levels: level 0 holds the nodes
// with no dependencies and level n the nodes whose dependencies all sit in
// levels below n, at least one of them in level n-1. The nodes of one level
// do not depend on each other and can run in parallel. Each level is sorted.
// An empty graph has no levels.
//
// When a node depends on a name that was never added, or dependencies form a
// cycle, Levels returns nil and an error: one [*MissingDependencyError] per
// node with missing dependencies (sorted by node) and at most one
// [*CycleError], joined with [errors.Join] when there are several.
func (g *Graph[K]) Levels() ([][]K, error) {
	var errs []error
	// pending counts, for each node, the dependencies not yet placed in a
	// level; rdeps maps each node to the nodes that depend on it.
	pending := make(map[K]int, len(g.deps))
	rdeps := make(map[K][]K, len(g.deps))
	var level []K
	for _, n := range g.Nodes() {
		var missing []K
		for _, d := range g.deps[n] {
			if !g.Has(d) {
				missing = append(missing, d)
				continue
			}
			pending[n]++
			rdeps[d] = append(rdeps[d], n)
		}
		if missing != nil {
			errs = append(errs, &MissingDependencyError[K]{Node: n, Missing: missing})
		}
		if pending[n] == 0 {
			level = append(level, n)
		}
	}

	var levels [][]K
	placed := 0
	for len(level) > 0 {
		levels = append(levels, level)
		placed += len(level)
		var next []K
		for _, n := range level {
			for _, r := range rdeps[n] {
				pending[r]--
				if pending[r] == 0 {
					next = append(next, r)
				}
			}
		}
		slices.Sort(next)
		level = next
	}

	if placed < len(g.deps) {
		// The nodes left over are on a cycle or depend on one.
		left := make(map[K]bool, len(g.deps)-placed)
		for n, c := range pending {
			if c > 0 {
				left[n] = true
			}
		}
		errs = append(errs, &CycleError[K]{Cycle: g.findCycle(left)})
	}

	switch len(errs) {
	case 0:
		return levels, nil
	case 1:
		return nil, errs[0]
	default:
		return nil, errors.Join(errs...)
	}
}

// Order returns the nodes in one topological order: the levels of
// [Graph.Levels] one after the other. Every node comes after all of its
// dependencies. Errors are those of [Graph.Levels].
func (g *Graph[K]) Order() ([]K, error) {
	levels, err := g.Levels()
	if err != nil {
		return nil, err
	}
	return slices.Concat(levels...), nil
}

// findCycle returns a cycle among the nodes in left, rotated to start at its
// smallest node. Every node in left has a dependency in left (that is why it
// could not be placed), so a depth-first walk from any of them finds a cycle.
// The walk visits nodes and dependencies in sorted order, so the same graph
// always yields the same cycle.
func (g *Graph[K]) findCycle(left map[K]bool) []K {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make(map[K]int, len(left))
	var stack []K
	var visit func(n K) []K
	visit = func(n K) []K {
		state[n] = onStack
		stack = append(stack, n)
		for _, d := range g.deps[n] {
			if !left[d] {
				continue
			}
			switch state[d] {
			case onStack:
				return slices.Clone(stack[slices.Index(stack, d):])
			case unvisited:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}

	starts := make([]K, 0, len(left))
	for n := range left {
		starts = append(starts, n)
	}
	slices.Sort(starts)
	for _, n := range starts {
		if state[n] != unvisited {
			continue
		}
		if c := visit(n); c != nil {
			i := slices.Index(c, slices.Min(c))
			return append(c[i:], c[:i]...)
		}
	}
	return nil
}
