package depgraph

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
)

// ErrCycle matches a [*CycleError] with [errors.Is].
var ErrCycle = errors.New("depgraph: dependency cycle")

// ErrMissingDependency matches a [*MissingDependencyError] with [errors.Is].
var ErrMissingDependency = errors.New("depgraph: missing dependency")

// CycleError reports nodes whose dependencies form a cycle.
type CycleError[K cmp.Ordered] struct {
	// Cycle lists the nodes of the cycle once each, starting at the smallest:
	// Cycle[i] depends on Cycle[i+1] and the last node depends on Cycle[0].
	// A node that depends on itself gives a Cycle of length 1.
	Cycle []K
}

// Error returns the cycle closed on its first node, as in
// "depgraph: dependency cycle: a -> b -> c -> a".
func (e *CycleError[K]) Error() string {
	if len(e.Cycle) == 0 {
		return ErrCycle.Error()
	}
	var b strings.Builder
	b.WriteString("depgraph: dependency cycle: ")
	for _, n := range e.Cycle {
		fmt.Fprintf(&b, "%v -> ", n)
	}
	fmt.Fprint(&b, e.Cycle[0])
	return b.String()
}

// Is reports whether target is [ErrCycle].
func (e *CycleError[K]) Is(target error) bool { return target == ErrCycle }

// MissingDependencyError reports a node that depends on names that were
// never added to the graph.
type MissingDependencyError[K cmp.Ordered] struct {
	// Node is the node that declared the dependencies.
	Node K
	// Missing lists the dependencies that are not in the graph, sorted.
	Missing []K
}

// Error names the node and what it is missing, as in
// "depgraph: apps depends on missing crds, infra".
func (e *MissingDependencyError[K]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "depgraph: %v depends on missing ", e.Node)
	for i, m := range e.Missing {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, m)
	}
	return b.String()
}

// Is reports whether target is [ErrMissingDependency].
func (e *MissingDependencyError[K]) Is(target error) bool { return target == ErrMissingDependency }
