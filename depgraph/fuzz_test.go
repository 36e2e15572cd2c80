package depgraph

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// fuzzNames are the node names a fuzz input can use. Only the first eight
// can be added as nodes, so "i" and "j" are always missing when named.
var fuzzNames = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}

// decodeGraph reads data two bytes at a time: the first byte picks a node
// among the first eight names, the second a dependency among all ten names
// or, for values 10 and above modulo 12, no dependency.
func decodeGraph(data []byte) (*Graph[string], map[string][]string) {
	g := New[string]()
	ref := make(map[string][]string)
	for i := 0; i+1 < len(data); i += 2 {
		n := fuzzNames[int(data[i])%8]
		d := int(data[i+1]) % 12
		if d >= len(fuzzNames) {
			g.Add(n)
			if _, ok := ref[n]; !ok {
				ref[n] = nil
			}
			continue
		}
		g.Add(n, fuzzNames[d])
		ref[n] = append(ref[n], fuzzNames[d])
	}
	return g, ref
}

// reaches reports whether from reaches to by one or more dependency edges.
func reaches(ref map[string][]string, from, to string) bool {
	seen := map[string]bool{}
	stack := slices.Clone(ref[from])
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		if !seen[n] {
			seen[n] = true
			stack = append(stack, ref[n]...)
		}
	}
	return false
}

func FuzzLevels(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 11})                         // a
	f.Add([]byte{1, 0, 0, 11, 2, 1})             // chain c -> b -> a
	f.Add([]byte{3, 1, 3, 2, 1, 0, 2, 0, 0, 10}) // diamond
	f.Add([]byte{0, 0})                          // a -> a
	f.Add([]byte{0, 1, 1, 2, 2, 0, 3, 0})        // cycle reached from d
	f.Add([]byte{0, 8, 1, 9, 1, 0})              // missing i and j
	f.Fuzz(func(t *testing.T, data []byte) {
		g, ref := decodeGraph(data)
		checkDependents(t, g, ref)
		levels, err := g.Levels()

		// Same graph, same answer.
		levels2, err2 := g.Levels()
		if !reflect.DeepEqual(levels, levels2) || (err == nil) != (err2 == nil) ||
			(err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Levels not deterministic: %v, %v then %v, %v", levels, err, levels2, err2)
		}

		hasCycle, hasMissing := false, map[string][]string{}
		for _, n := range g.Nodes() {
			if reaches(ref, n, n) {
				hasCycle = true
			}
			for _, d := range ref[n] {
				if _, ok := ref[d]; !ok && !slices.Contains(hasMissing[n], d) {
					hasMissing[n] = append(hasMissing[n], d)
				}
			}
			slices.Sort(hasMissing[n])
		}

		if err == nil {
			if hasCycle || len(hasMissing) > 0 {
				t.Fatalf("Levels() = %v, nil for a graph with a cycle or missing dependencies: %v", levels, ref)
			}
			checkLevels(t, g, ref, levels)
			return
		}

		if levels != nil {
			t.Errorf("Levels() returned levels %v with error %v", levels, err)
		}
		var ce *CycleError[string]
		if errors.As(err, &ce) != hasCycle {
			t.Fatalf("CycleError reported = %v, graph has a cycle = %v: %v (%v)", ce != nil, hasCycle, err, ref)
		}
		if ce != nil {
			checkCycle(t, ref, ce.Cycle)
			if !errors.Is(err, ErrCycle) {
				t.Errorf("errors.Is(%v, ErrCycle) = false", err)
			}
		}
		gotMissing := map[string][]string{}
		for _, e := range flatten(err) {
			var me *MissingDependencyError[string]
			if errors.As(e, &me) {
				gotMissing[me.Node] = me.Missing
			}
		}
		for n, m := range hasMissing {
			if len(m) == 0 {
				delete(hasMissing, n)
			}
		}
		if !reflect.DeepEqual(gotMissing, hasMissing) {
			t.Fatalf("missing dependencies = %v, want %v", gotMissing, hasMissing)
		}
		if errors.Is(err, ErrMissingDependency) != (len(hasMissing) > 0) {
			t.Errorf("errors.Is(%v, ErrMissingDependency) wrong", err)
		}
	})
}

// checkLevels checks that levels hold every node exactly once, sorted within
// a level, each dependency in a strictly earlier level and, above level 0,
// at least one dependency in the level just below.
func checkLevels(t *testing.T, g *Graph[string], ref map[string][]string, levels [][]string) {
	t.Helper()
	at := map[string]int{}
	for i, level := range levels {
		if len(level) == 0 {
			t.Fatalf("level %d is empty: %v", i, levels)
		}
		if !slices.IsSorted(level) {
			t.Errorf("level %d not sorted: %v", i, level)
		}
		for _, n := range level {
			if _, dup := at[n]; dup {
				t.Fatalf("%s appears twice: %v", n, levels)
			}
			at[n] = i
		}
	}
	if len(at) != len(ref) {
		t.Fatalf("levels hold %d nodes, graph has %d: %v", len(at), len(ref), levels)
	}
	for n, deps := range ref {
		i, ok := at[n]
		if !ok {
			t.Fatalf("%s missing from levels %v", n, levels)
		}
		below := false
		for _, d := range deps {
			if at[d] >= i {
				t.Fatalf("%s (level %d) depends on %s (level %d)", n, i, d, at[d])
			}
			below = below || at[d] == i-1
		}
		if i > 0 && !below {
			t.Errorf("%s is at level %d but has no dependency at level %d", n, i, i-1)
		}
	}
	order, err := g.Order()
	if err != nil || !reflect.DeepEqual(order, slices.Concat(levels...)) {
		t.Errorf("Order() = %v, %v; want the levels %v flattened", order, err, levels)
	}
}

// checkCycle checks that cycle is a real cycle of distinct nodes starting
// at its smallest.
func checkCycle(t *testing.T, ref map[string][]string, cycle []string) {
	t.Helper()
	if len(cycle) == 0 {
		t.Fatal("empty cycle")
	}
	if cycle[0] != slices.Min(cycle) {
		t.Errorf("cycle %v does not start at its smallest node", cycle)
	}
	seen := map[string]bool{}
	for i, n := range cycle {
		if seen[n] {
			t.Fatalf("cycle %v repeats %s", cycle, n)
		}
		seen[n] = true
		next := cycle[(i+1)%len(cycle)]
		if !slices.Contains(ref[n], next) {
			t.Fatalf("cycle %v: %s does not depend on %s (%v)", cycle, n, next, ref)
		}
	}
}

// checkDependents compares Dependents with a brute-force reachability check.
func checkDependents(t *testing.T, g *Graph[string], ref map[string][]string) {
	t.Helper()
	for _, target := range fuzzNames {
		var want []string
		for _, n := range g.Nodes() {
			if n != target && reaches(ref, n, target) {
				want = append(want, n)
			}
		}
		if got := g.Dependents(target); !reflect.DeepEqual(got, want) {
			t.Fatalf("Dependents(%s) = %v, want %v (%v)", target, got, want, ref)
		}
	}
}
