package depgraph_test

import (
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/depgraph"
)

func ExampleGraph_Levels() {
	g := depgraph.New[string]()
	g.Add("apps-prd", "apps-dev", "infra")
	g.Add("apps-dev", "infra")
	g.Add("monitoring", "infra")
	g.Add("infra")

	levels, err := g.Levels()
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, level := range levels {
		fmt.Println(i, level)
	}
	// Output:
	// 0 [infra]
	// 1 [apps-dev monitoring]
	// 2 [apps-prd]
}

func ExampleGraph_Order() {
	g := depgraph.New[string]()
	g.Add("web", "db", "cache")
	g.Add("db")
	g.Add("cache")

	order, err := g.Order()
	fmt.Println(order, err)
	// Output:
	// [cache db web] <nil>
}

func ExampleCycleError() {
	g := depgraph.New[string]()
	g.Add("infra", "apps")
	g.Add("apps", "config")
	g.Add("config", "infra")

	_, err := g.Levels()
	fmt.Println(err)

	var cycle *depgraph.CycleError[string]
	if errors.As(err, &cycle) {
		fmt.Println(cycle.Cycle, errors.Is(err, depgraph.ErrCycle))
	}
	// Output:
	// depgraph: dependency cycle: apps -> config -> infra -> apps
	// [apps config infra] true
}

func ExampleMissingDependencyError() {
	g := depgraph.New[string]()
	g.Add("apps", "infra", "crds")

	_, err := g.Levels()
	fmt.Println(err)

	var missing *depgraph.MissingDependencyError[string]
	if errors.As(err, &missing) {
		fmt.Println(missing.Node, missing.Missing)
	}
	// Output:
	// depgraph: apps depends on missing crds, infra
	// apps [crds infra]
}

func ExampleGraph_Dependents() {
	g := depgraph.New[string]()
	g.Add("infra")
	g.Add("apps-dev", "infra")
	g.Add("apps-prd", "apps-dev")
	g.Add("monitoring")

	// infra failed: everything that needs it, directly or not, stays Pending.
	fmt.Println(g.Dependents("infra"))
	fmt.Println(g.DependenciesOf("apps-prd"))
	// Output:
	// [apps-dev apps-prd]
	// [apps-dev]
}
