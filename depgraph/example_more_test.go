package depgraph_test

import (
	"fmt"

	"github.com/gitopskit/gitopskit/depgraph"
)

// A graph keyed by any ordered type: here unit names.
func ExampleNew() {
	g := depgraph.New[string]()
	g.Add("apps", "infra")
	g.Add("infra")
	fmt.Println(g.Len(), g.Nodes())
	// Output: 2 [apps infra]
}

// Add declares a node with its dependencies; adding it again merges them.
func ExampleGraph_Add() {
	g := depgraph.New[string]()
	g.Add("apps", "infra")
	g.Add("apps", "crds", "infra") // "infra" is recorded once
	g.Add("crds")
	g.Add("infra", "crds")
	fmt.Println(g.DependenciesOf("apps"))
	order, err := g.Order()
	fmt.Println(order, err)
	// Output:
	// [crds infra]
	// [crds infra apps] <nil>
}

// The direct dependencies of a node, including ones not in the graph.
func ExampleGraph_DependenciesOf() {
	g := depgraph.New[string]()
	g.Add("apps", "infra", "secrets")
	g.Add("infra", "crds")
	g.Add("crds")
	fmt.Println(g.DependenciesOf("apps")) // "secrets" was never added
	fmt.Println(g.DependenciesOf("crds") == nil)
	// Output:
	// [infra secrets]
	// true
}

// Has tells a declared node from a name only used as a dependency.
func ExampleGraph_Has() {
	g := depgraph.New[string]()
	g.Add("apps", "infra")
	fmt.Println(g.Has("apps"), g.Has("infra"))
	// Output: true false
}

// The number of declared nodes.
func ExampleGraph_Len() {
	g := depgraph.New[int]()
	g.Add(3, 1, 2)
	g.Add(2, 1)
	g.Add(1)
	g.Add(1) // again: still one node
	fmt.Println(g.Len())
	// Output: 3
}

// The declared nodes, sorted.
func ExampleGraph_Nodes() {
	g := depgraph.New[string]()
	g.Add("monitoring", "infra")
	g.Add("apps", "infra")
	g.Add("infra")
	fmt.Println(g.Nodes())
	// Output: [apps infra monitoring]
}
