package depgraph

import (
	"reflect"
	"testing"
)

func TestAddMerges(t *testing.T) {
	g := New[string]()
	g.Add("apps", "infra")
	g.Add("apps", "crds", "infra", "crds")
	g.Add("apps")
	if got, want := g.DependenciesOf("apps"), []string{"crds", "infra"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DependenciesOf(apps) = %v, want %v", got, want)
	}
	if g.Len() != 1 {
		t.Errorf("Len() = %d, want 1", g.Len())
	}
}

func TestZeroValue(t *testing.T) {
	var g Graph[int]
	if levels, err := g.Levels(); err != nil || levels != nil {
		t.Fatalf("zero Levels() = %v, %v", levels, err)
	}
	g.Add(2, 1)
	g.Add(1)
	levels, err := g.Levels()
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{1}, {2}}; !reflect.DeepEqual(levels, want) {
		t.Errorf("Levels() = %v, want %v", levels, want)
	}
}

func TestHasNodesDependenciesOf(t *testing.T) {
	g := build(edges{"b": {"a", "gone"}, "a": nil, "c": nil})
	tests := []struct {
		node string
		has  bool
		deps []string
	}{
		{node: "a", has: true, deps: nil},
		{node: "b", has: true, deps: []string{"a", "gone"}},
		{node: "gone", has: false, deps: nil},
		{node: "nowhere", has: false, deps: nil},
	}
	for _, tt := range tests {
		if got := g.Has(tt.node); got != tt.has {
			t.Errorf("Has(%q) = %v, want %v", tt.node, got, tt.has)
		}
		if got := g.DependenciesOf(tt.node); !reflect.DeepEqual(got, tt.deps) {
			t.Errorf("DependenciesOf(%q) = %v, want %v", tt.node, got, tt.deps)
		}
	}
	if got, want := g.Nodes(), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Nodes() = %v, want %v", got, want)
	}

	// The returned slice is a copy.
	deps := g.DependenciesOf("b")
	deps[0] = "changed"
	if got := g.DependenciesOf("b"); got[0] != "a" {
		t.Errorf("DependenciesOf shares its slice with the graph: %v", got)
	}
}

func TestDependents(t *testing.T) {
	g := build(edges{
		"infra": nil, "apps-dev": {"infra"}, "apps-prd": {"apps-dev", "infra"},
		"monitoring": {"infra"}, "dashboards": {"monitoring"}, "lone": nil,
		"x": {"y"}, "y": {"x"}, "w": {"x"}, "needs-vault": {"vault"},
	})
	tests := []struct {
		node string
		want []string
	}{
		{node: "infra", want: []string{"apps-dev", "apps-prd", "dashboards", "monitoring"}},
		{node: "apps-dev", want: []string{"apps-prd"}},
		{node: "monitoring", want: []string{"dashboards"}},
		{node: "apps-prd", want: nil},
		{node: "lone", want: nil},
		{node: "x", want: []string{"w", "y"}}, // x itself is left out
		{node: "vault", want: []string{"needs-vault"}},
		{node: "unknown", want: nil},
	}
	for _, tt := range tests {
		if got := g.Dependents(tt.node); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Dependents(%q) = %v, want %v", tt.node, got, tt.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&CycleError[string]{Cycle: []string{"a"}}, "depgraph: dependency cycle: a -> a"},
		{&CycleError[int]{Cycle: []int{1, 2}}, "depgraph: dependency cycle: 1 -> 2 -> 1"},
		{&CycleError[string]{}, "depgraph: dependency cycle"},
		{&MissingDependencyError[string]{Node: "a", Missing: []string{"b", "c"}}, "depgraph: a depends on missing b, c"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
