package reconcile_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/internal/demo"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// TestRenderMatchesReconcile renders the bootstrap repository of
// TestFluxTree with no cluster (the whole tree: the units its build
// declares, substituteFrom read from what infra renders), then reconciles
// it and checks the cluster holds every rendered object with the rendered
// fields, and nothing more per unit.
func TestRenderMatchesReconcile(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	f := newTreeFixture(t)
	rendering := mustRender(t, f.conf)
	var names []string
	for _, u := range rendering.Units {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"flux-system", "infra", "apps"}) {
		t.Fatalf("rendered units %v, want flux-system, infra, apps", names)
	}
	apps, _ := rendering.Unit("apps")
	if apps.DeclaredBy != "flux-system" || len(apps.Objects) != 2 {
		t.Fatalf("apps: declared by %q, %d objects", apps.DeclaredBy, len(apps.Objects))
	}
	web := apps.Objects[0]
	if web.GetKind() != "Deployment" {
		web = apps.Objects[1]
	}
	if r, _, _ := unstructured.NestedFieldNoCopy(web.Object, "spec", "replicas"); fmt.Sprint(r) != "2" || web.GetNamespace() != f.apps {
		t.Errorf("web rendered with replicas %v in %s, want 2 (infra's cluster-vars) in %s", r, web.GetNamespace(), f.apps)
	}

	r := newReconciler(t, f.conf, reconcile.Options{})
	s := run(t, r)
	if !s.Compliant() {
		t.Fatal(s)
	}
	assertRenderMatches(t, rendering, s)
}

// mustRender renders conf with no cluster and fails the test when it, or
// one of its units, fails or has gaps.
func mustRender(t *testing.T, conf reconcile.Configuration) *reconcile.Rendering {
	t.Helper()
	rendering, err := reconcile.Render(t.Context(), conf, reconcile.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rendering.Units {
		if u.Err != nil || len(u.Gaps) > 0 {
			t.Errorf("unit %s rendered with error %v, gaps %v", u.Name, u.Err, u.Gaps)
		}
	}
	return rendering
}

// assertRenderMatches checks that every rendered unit's objects are in the
// cluster with the rendered fields, and that the unit's inventory holds as
// many objects as were rendered.
func assertRenderMatches(t *testing.T, rendering *reconcile.Rendering, s reconcile.Status) {
	t.Helper()
	c, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(testCluster(t).Config)
	for _, ru := range rendering.Units {
		if ru.Err != nil {
			t.Errorf("unit %s did not render: %v", ru.Name, ru.Err)
			continue
		}
		if ru.Chart == nil { // a Helm release's objects are not in an inventory
			if got := unit(t, s, ru.Name).Objects; got != len(ru.Objects) {
				t.Errorf("unit %s: %d objects in its inventory, %d rendered", ru.Name, got, len(ru.Objects))
			}
		}
		for _, o := range ru.Objects {
			gvk := o.GroupVersionKind()
			m, err := c.Mapping(gvk)
			if err != nil {
				t.Fatal(err)
			}
			live, err := dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Get(t.Context(), o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Errorf("unit %s: %s %s/%s rendered, not in the cluster: %v", ru.Name, gvk.Kind, o.GetNamespace(), o.GetName(), err)
				continue
			}
			if missing := notIn("", o.Object, live.Object); len(missing) > 0 {
				t.Errorf("unit %s: %s %s/%s: rendered fields the cluster does not have: %v", ru.Name, gvk.Kind, o.GetNamespace(), o.GetName(), missing)
			}
		}
	}
}

// notIn lists the leaf paths of want that got does not have with the same
// value.
func notIn(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		var out []string
		for k, v := range w {
			out = append(out, notIn(path+"."+k, v, g[k])...)
		}
		return out
	case []any:
		g, _ := got.([]any)
		if len(g) != len(w) {
			return []string{path}
		}
		var out []string
		for i := range w {
			out = append(out, notIn(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return []string{path}
		}
		return nil
	}
}

// TestRenderDiff renders the quickstart's Flux repository (Kustomizations
// and a HelmRelease from a chart repository) at two commits with no
// cluster, and diffs them: a new chart version, a changed replica count, a
// removed object.
func TestRenderDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	charts := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	if err := charts.AddChart(demo.PrometheusChart()); err != nil {
		t.Fatal(err)
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	files := demo.FluxFiles(repo.HTTPURL(), charts.URL())
	files["infra/prometheus.yaml"] = strings.Replace(files["infra/prometheus.yaml"], `version: "25.x"`, `version: "25.8.0"`, 1)
	first := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "fleet"})
	conf, err := reconcile.LoadFlux(ctx, []byte(files["clusters/prod/fleet.yaml"]), reconcile.FluxOptions{Name: "render-diff"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := reconcile.Render(ctx, conf, reconcile.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prom, ok := old.Unit("monitoring-prometheus")
	if !ok || prom.Err != nil || prom.DeclaredBy != "infra" || prom.Chart == nil || prom.Chart.Version != "25.8.0" {
		t.Fatalf("the HelmRelease of infra's build: %+v", prom)
	}
	var kinds []string
	for _, o := range prom.Objects {
		kinds = append(kinds, o.GetKind())
	}
	if !slices.Contains(kinds, "CustomResourceDefinition") || !slices.Contains(kinds, "Deployment") || slices.Contains(kinds, "NOTES.txt") {
		t.Errorf("prometheus rendered %v: want its CRD (crds/) and Deployment", kinds)
	}

	// A pull request: the next chart version, prd to 3 replicas, no PDB.
	next := demo.PrometheusChart()
	next.Version = "25.9.0"
	if err := charts.AddChart(next); err != nil {
		t.Fatal(err)
	}
	kust := strings.NewReplacer("count: 5", "count: 3", "  - pdb.yaml\n", "").Replace(files["apps/prd/kustomization.yaml"])
	second := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "prd: 3 replicas, no PDB",
		Files: map[string]string{"apps/prd/kustomization.yaml": kust,
			"infra/prometheus.yaml": strings.Replace(files["infra/prometheus.yaml"], `version: "25.8.0"`, `version: "25.9.0"`, 1)},
		Delete: []string{"apps/prd/pdb.yaml"}})
	pinned := func(commit string) reconcile.RenderOptions {
		return reconcile.RenderOptions{Refs: map[string]source.Ref{"fleet": {Commit: commit}}}
	}
	old, err = reconcile.Render(ctx, conf, pinned(first))
	if err != nil {
		t.Fatal(err)
	}
	niu, err := reconcile.Render(ctx, conf, pinned(second))
	if err != nil {
		t.Fatal(err)
	}
	d := reconcile.DiffRenderings(old, niu)
	var text strings.Builder
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("diff:\n%s", text.String())
	byName := map[string]reconcile.UnitDiff{}
	for _, u := range d.Units {
		byName[u.Name] = u
	}
	if got := byName["monitoring-prometheus"].Chart; got != "prometheus 25.8.0 -> prometheus 25.9.0" {
		t.Errorf("chart change %q", got)
	}
	prd := byName["apps-prd"]
	if !slices.Equal(prd.Removed, []string{"policy/PodDisruptionBudget/apps-prd/kuard"}) {
		t.Errorf("apps-prd removed %v", prd.Removed)
	}
	want := reconcile.ObjectDiff{Object: "apps/Deployment/apps-prd/kuard", Paths: []string{"spec.replicas"}}
	if !slices.ContainsFunc(prd.Changed, func(c reconcile.ObjectDiff) bool { return reflect.DeepEqual(c, want) }) {
		t.Errorf("apps-prd changed %+v, want %+v", prd.Changed, want)
	}
	if _, ok := byName["apps-dev"]; ok {
		t.Errorf("apps-dev did not change: %+v", byName["apps-dev"])
	}
	if d := reconcile.DiffRenderings(niu, niu); !d.Empty() {
		t.Errorf("a rendering against itself: %+v", d)
	}
}

// TestRenderMatchesReconcileHelm renders the quickstart's Flux repository
// (a HelmRelease from a chart repository declared by infra's build) with no
// cluster, reconciles it on the simulated cluster, and checks the cluster
// holds what was rendered, the chart's objects included.
func TestRenderMatchesReconcileHelm(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	charts := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	if err := charts.AddChart(demo.PrometheusChart()); err != nil {
		t.Fatal(err)
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	files := demo.FluxFiles(repo.HTTPURL(), charts.URL())
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "fleet"})
	conf, err := reconcile.LoadFlux(ctx, []byte(files["clusters/prod/fleet.yaml"]), reconcile.FluxOptions{Name: "render-helm"})
	if err != nil {
		t.Fatal(err)
	}
	rendering := mustRender(t, conf)
	if len(rendering.Units) != 4 {
		t.Fatalf("rendered %d units, want infra, monitoring-prometheus, apps-dev, apps-prd", len(rendering.Units))
	}
	r := newReconciler(t, conf, reconcile.Options{})
	s := run(t, r)
	if !s.Compliant() {
		t.Fatal(s)
	}
	assertRenderMatches(t, rendering, s)
}

// TestRenderHelmValuesFrom renders a Helm unit whose ValuesFrom names a
// ConfigMap no unit renders: a gap unless RenderOptions.Objects has it or
// it is optional, never an error and never a guess.
func TestRenderHelmValuesFrom(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "values")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "chart", Files: map[string]string{
		"greeter/Chart.yaml": "apiVersion: v2\nname: greeter\nversion: 1.0.0\n", "greeter/values.yaml": "message: hello\n",
		"greeter/templates/cm.yaml": greeterTemplate}})
	supplied := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "vals", "namespace": "team"}, "data": map[string]any{"values.yaml": "message: supplied\n"}}}
	tests := []struct {
		name     string
		optional bool
		objects  []*unstructured.Unstructured
		message  string
		gaps     int
	}{
		{name: "missing", message: "hello", gaps: 1},
		{name: "optional", optional: true, message: "hello"},
		{name: "supplied", objects: []*unstructured.Unstructured{supplied}, message: "supplied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := reconcile.Configuration{Name: "values", Namespace: "team",
				Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
				Units: []reconcile.Unit{{Name: "greeter", Helm: &helmrelease.Release{Name: "greeter", Namespace: "team",
					Chart: helmrelease.ChartRef{Path: "greeter"}},
					ValuesFrom: []reconcile.ValuesRef{{Kind: "ConfigMap", Name: "vals", Optional: tt.optional}}}}}
			rendering, err := reconcile.Render(t.Context(), conf, reconcile.RenderOptions{Objects: tt.objects})
			if err != nil {
				t.Fatal(err)
			}
			ru, _ := rendering.Unit("greeter")
			if ru.Err != nil || len(ru.Gaps) != tt.gaps || configMapMessage(ru) != tt.message {
				t.Errorf("rendered: error %v, gaps %q, message %q; want %d gaps, message %q", ru.Err, ru.Gaps, configMapMessage(ru), tt.gaps, tt.message)
			}
		})
	}
	t.Run("not a Helm unit", func(t *testing.T) {
		_, err := reconcile.New(offline(t), reconcile.Configuration{Name: "values",
			Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
			Units:   []reconcile.Unit{{Name: "k", ValuesFrom: []reconcile.ValuesRef{{Kind: "ConfigMap", Name: "vals"}}}}}, reconcile.Options{})
		if !errors.Is(err, reconcile.ErrInvalidConfiguration) {
			t.Errorf("New: %v, want ErrInvalidConfiguration", err)
		}
	})
}
