// Package depgraph orders named nodes by their dependencies: it groups them
// into topological levels whose members can run in parallel, and reports
// cycles and missing dependencies with errors that name the nodes involved.
//
// It has no Kubernetes dependencies and is shared by the reconcile and
// helmrelease packages, which name their units and releases with strings:
//
//	g := depgraph.New[string]()
//	g.Add("infra")
//	g.Add("apps-dev", "infra")
//	g.Add("apps-prd", "infra", "apps-dev")
//	levels, err := g.Levels() // [[infra] [apps-dev] [apps-prd]]
//
// # Building a graph
//
// [Graph.Add] declares a node and the nodes it depends on. Adding a node
// again merges the new dependencies into the ones it already has, so a graph
// can be built edge by edge; callers that must reject duplicate names (two
// units called "infra") check [Graph.Has] before adding. A dependency need
// not be added before the node that names it, but it must be added before
// the graph is ordered.
//
// # Ordering
//
// [Graph.Levels] returns topological levels: level 0 holds the nodes with no
// dependencies, level n the nodes whose dependencies all sit in levels below
// n and at least one in level n-1. Nodes within a level are sorted, so the
// output depends only on the graph, never on the order of the Add calls or on
// map iteration. [Graph.Order] flattens the levels into one order.
//
// # Errors
//
// Ordering fails when a node depends on a name that was never added
// ([*MissingDependencyError], matching [ErrMissingDependency]) or when
// dependencies form a cycle ([*CycleError], matching [ErrCycle]). A node that
// depends on itself is a cycle of length 1. All missing dependencies and one
// cycle are reported together with [errors.Join]; use [errors.Is] to branch
// and [errors.As] to read the nodes. The reported cycle is the same on every
// call for the same graph, and starts at its smallest node.
//
// # Helpers
//
// [Graph.DependenciesOf] lists a node's direct dependencies and
// [Graph.Dependents] every node that depends on it directly or transitively:
// what a reconciler leaves Pending when that node fails.
//
// A Graph is not safe for concurrent use while it is being modified; once
// built, its read methods may be called from several goroutines.
package depgraph
