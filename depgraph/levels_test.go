package depgraph

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// edges declares a graph: node -> its dependencies.
type edges map[string][]string

// build adds the nodes of e to a new graph in the order of map iteration,
// which Go randomizes: results must not depend on it.
func build(e edges) *Graph[string] {
	g := New[string]()
	for n, deps := range e {
		g.Add(n, deps...)
	}
	return g
}

func TestLevels(t *testing.T) {
	tests := []struct {
		name    string
		graph   edges
		want    [][]string
		cycle   []string   // want a *CycleError with this cycle
		missing [][]string // want *MissingDependencyErrors: {node, missing...}
		errText string
	}{
		{name: "empty", graph: edges{}, want: nil},
		{name: "single node", graph: edges{"a": nil}, want: [][]string{{"a"}}},
		{
			name:  "chain",
			graph: edges{"c": {"b"}, "b": {"a"}, "a": nil},
			want:  [][]string{{"a"}, {"b"}, {"c"}},
		},
		{
			name:  "diamond",
			graph: edges{"top": nil, "left": {"top"}, "right": {"top"}, "bottom": {"left", "right"}},
			want:  [][]string{{"top"}, {"left", "right"}, {"bottom"}},
		},
		{
			name:  "wide level sorted",
			graph: edges{"e": nil, "c": nil, "a": nil, "d": nil, "b": nil, "z": {"a", "b", "c", "d", "e"}},
			want:  [][]string{{"a", "b", "c", "d", "e"}, {"z"}},
		},
		{
			name: "level is the longest path",
			// d depends on a (level 0) and c (level 2): it belongs to level 3.
			graph: edges{"a": nil, "b": {"a"}, "c": {"b"}, "d": {"a", "c"}},
			want:  [][]string{{"a"}, {"b"}, {"c"}, {"d"}},
		},
		{
			name:  "disconnected components",
			graph: edges{"x": nil, "y": {"x"}, "a": nil, "b": {"a"}, "lone": nil},
			want:  [][]string{{"a", "lone", "x"}, {"b", "y"}},
		},
		{
			name:  "seed scenario",
			graph: edges{"infra": nil, "apps-dev": {"infra"}, "apps-prd": {"infra", "apps-dev"}},
			want:  [][]string{{"infra"}, {"apps-dev"}, {"apps-prd"}},
		},
		{
			name:    "self dependency",
			graph:   edges{"a": {"a"}, "b": nil},
			cycle:   []string{"a"},
			errText: "depgraph: dependency cycle: a -> a",
		},
		{
			name:    "cycle of two",
			graph:   edges{"a": {"b"}, "b": {"a"}},
			cycle:   []string{"a", "b"},
			errText: "depgraph: dependency cycle: a -> b -> a",
		},
		{
			name:    "cycle of three",
			graph:   edges{"a": {"b"}, "b": {"c"}, "c": {"a"}},
			cycle:   []string{"a", "b", "c"},
			errText: "depgraph: dependency cycle: a -> b -> c -> a",
		},
		{
			name:    "cycle of three reported from its smallest node",
			graph:   edges{"b": {"a"}, "a": {"c"}, "c": {"b"}},
			cycle:   []string{"a", "c", "b"},
			errText: "depgraph: dependency cycle: a -> c -> b -> a",
		},
		{
			name: "cycle reachable only from a non-cycle node",
			// a is on no cycle but depends on one; nodes before and beside
			// it still order fine.
			graph:   edges{"root": nil, "a": {"root", "m"}, "m": {"n"}, "n": {"o"}, "o": {"m"}, "z": {"root"}},
			cycle:   []string{"m", "n", "o"},
			errText: "depgraph: dependency cycle: m -> n -> o -> m",
		},
		{
			name:    "missing dependency",
			graph:   edges{"apps": {"infra"}},
			missing: [][]string{{"apps", "infra"}},
			errText: "depgraph: apps depends on missing infra",
		},
		{
			name:    "several missing dependencies",
			graph:   edges{"apps": {"infra", "crds", "base"}, "base": nil, "web": {"db"}, "db": {"vault"}},
			missing: [][]string{{"apps", "crds", "infra"}, {"db", "vault"}},
			errText: "depgraph: apps depends on missing crds, infra\ndepgraph: db depends on missing vault",
		},
		{
			name:    "missing dependency and cycle together",
			graph:   edges{"a": {"b", "gone"}, "b": {"a"}},
			missing: [][]string{{"a", "gone"}},
			cycle:   []string{"a", "b"},
			errText: "depgraph: a depends on missing gone\ndepgraph: dependency cycle: a -> b -> a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := build(tt.graph).Levels()
			wantErr := tt.cycle != nil || tt.missing != nil
			if !wantErr {
				if err != nil {
					t.Fatalf("Levels() error = %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Levels() = %v, want %v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Levels() = %v, want an error", got)
			}
			if got != nil {
				t.Errorf("Levels() levels = %v, want nil on error", got)
			}
			if err.Error() != tt.errText {
				t.Errorf("Levels() error = %q, want %q", err, tt.errText)
			}

			if got := errors.Is(err, ErrCycle); got != (tt.cycle != nil) {
				t.Errorf("errors.Is(err, ErrCycle) = %v", got)
			}
			var ce *CycleError[string]
			if errors.As(err, &ce) != (tt.cycle != nil) {
				t.Errorf("errors.As(err, *CycleError) = %v, want %v", ce != nil, tt.cycle != nil)
			} else if ce != nil && !reflect.DeepEqual(ce.Cycle, tt.cycle) {
				t.Errorf("CycleError.Cycle = %v, want %v", ce.Cycle, tt.cycle)
			}

			if got := errors.Is(err, ErrMissingDependency); got != (tt.missing != nil) {
				t.Errorf("errors.Is(err, ErrMissingDependency) = %v", got)
			}
			var gotMissing [][]string
			for _, e := range flatten(err) {
				var me *MissingDependencyError[string]
				if errors.As(e, &me) {
					gotMissing = append(gotMissing, append([]string{me.Node}, me.Missing...))
				}
			}
			if !reflect.DeepEqual(gotMissing, tt.missing) {
				t.Errorf("missing dependencies = %v, want %v", gotMissing, tt.missing)
			}
		})
	}
}

// flatten returns the errors joined in err, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestOrder(t *testing.T) {
	g := build(edges{"d": {"b", "c"}, "c": {"a"}, "b": {"a"}, "a": nil})
	got, err := g.Order()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order() = %v, want %v", got, want)
	}

	if got, err := New[string]().Order(); err != nil || len(got) != 0 {
		t.Errorf("empty Order() = %v, %v; want empty, nil", got, err)
	}

	g.Add("a", "d")
	got, err = g.Order()
	var ce *CycleError[string]
	if !errors.As(err, &ce) || got != nil {
		t.Fatalf("Order() = %v, %v; want nil, *CycleError", got, err)
	}
	if want := []string{"a", "d", "b"}; !reflect.DeepEqual(ce.Cycle, want) {
		t.Errorf("cycle = %v, want %v", ce.Cycle, want)
	}
}

// TestDeterministic builds the same graphs many times with the Add calls
// shuffled and checks that levels and errors never change.
func TestDeterministic(t *testing.T) {
	graphs := map[string]edges{
		"acyclic": {
			"a": nil, "b": nil, "c": {"a"}, "d": {"a", "b"}, "e": {"c", "d"},
			"f": {"b"}, "g": nil, "h": {"g", "e"}, "i": {"h"}, "j": {"a"},
		},
		"several cycles": {
			"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"},
			"f": {"f"}, "g": {"a", "x"}, "x": {"g"}, "h": {"missing"},
		},
	}
	for name, e := range graphs {
		t.Run(name, func(t *testing.T) {
			type result struct {
				levels [][]string
				err    string
			}
			run := func(g *Graph[string]) result {
				levels, err := g.Levels()
				r := result{levels: levels}
				if err != nil {
					r.err = err.Error()
				}
				return r
			}
			first := run(build(e))
			nodes := make([]string, 0, len(e))
			for n := range e {
				nodes = append(nodes, n)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 200 {
				rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
				g := New[string]()
				for _, n := range nodes {
					// Add dependencies one call at a time, in reverse, to
					// exercise merging too.
					deps := e[n]
					g.Add(n)
					for k := len(deps) - 1; k >= 0; k-- {
						g.Add(n, deps[k])
					}
				}
				if got := run(g); !reflect.DeepEqual(got, first) {
					t.Fatalf("run %d: got %+v, want %+v", i, got, first)
				}
			}
			t.Logf("%+v", first)
		})
	}
}
