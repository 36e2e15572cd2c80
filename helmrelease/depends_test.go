package helmrelease

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/gitopstest"
)

func TestOrder(t *testing.T) {
	rel := func(ns, name string, deps ...string) Release {
		return Release{Name: name, Namespace: ns, DependsOn: deps}
	}
	tests := []struct {
		name string
		rels []Release
		want [][]string
		err  error
	}{
		{"chain and fan-out", []Release{rel("a", "c", "b"), rel("a", "b", "a"), rel("a", "a"), rel("b", "d", "a/a")},
			[][]string{{"a/a"}, {"a/b", "b/d"}, {"a/c"}}, nil},
		{"cycle", []Release{rel("a", "x", "y"), rel("a", "y", "x")}, nil, depgraph.ErrCycle},
		{"missing", []Release{rel("a", "x", "nope")}, nil, depgraph.ErrMissingDependency},
		{"duplicate", []Release{rel("a", "x"), rel("a", "x")}, nil, ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Order(tt.rels)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal[[]string]) {
				t.Errorf("levels %v, want %v", got, tt.want)
			}
		})
	}
}

// ReconcileAll installs dependencies first; a release whose dependency
// fails is skipped; a cycle stops everything before anything is done.
func TestReconcileAllDependsOn(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	dir := gitopstest.WriteChartDir(t, cmChart("cm", "1.0.0"))
	bad := cmChart("bad", "1.0.0")
	bad.Templates["fail.yaml"] = "{{ fail \"broken on purpose\" }}\n"
	badDir := gitopstest.WriteChartDir(t, bad)
	ns := uniqueNamespace("deps")
	mk := func(name string, deps ...string) Release {
		return Release{Name: name, Namespace: ns, CreateNamespace: true, Chart: ChartRef{Path: dir}, DependsOn: deps, Timeout: time.Minute}
	}
	rels := []Release{mk("apps", "infra"), mk("infra", "crds"), mk("crds"), mk("monitoring", "crds")}
	statuses, err := r.ReconcileAll(t.Context(), rels)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range statuses {
		if !st.Ready || st.Reason != ReasonInstalled {
			t.Errorf("%s: %s", st.Name, st.Reason)
		}
	}
	// Install order follows the dependencies.
	var order []string
	for _, e := range rec.events {
		if e.Type == EventInstallSucceeded {
			order = append(order, e.Name)
		}
	}
	pos := func(n string) int { return slices.Index(order, n) }
	if !(pos("crds") < pos("infra") && pos("infra") < pos("apps") && pos("crds") < pos("monitoring")) {
		t.Errorf("install order %v", order)
	}

	// A failing dependency: its dependents are skipped, others go on.
	rels = []Release{mk("app2", "base2"), mk("base2"), mk("other2")}
	rels[1].Chart.Path = badDir
	statuses, err = r.ReconcileAll(t.Context(), rels)
	if !errors.Is(err, ErrInvalidChart) || !errors.Is(err, ErrDependencyNotReady) {
		t.Fatalf("err %v", err)
	}
	if statuses[0].Reason != ReasonDependencyNotReady || statuses[1].Reason != ReasonInvalidChart || !statuses[2].Ready {
		t.Errorf("statuses %s %s %v", statuses[0].Reason, statuses[1].Reason, statuses[2].Ready)
	}

	// A cycle: nothing is done.
	rels = []Release{mk("x", "y"), mk("y", "x")}
	statuses, err = r.ReconcileAll(t.Context(), rels)
	var cycle *depgraph.CycleError[string]
	if !errors.As(err, &cycle) || statuses != nil {
		t.Fatalf("cycle: err %v statuses %v", err, statuses)
	}
	if rec.has("x", EventInstallStarted) || rec.has("y", EventInstallStarted) {
		t.Error("a release of the cycle was installed")
	}
}
