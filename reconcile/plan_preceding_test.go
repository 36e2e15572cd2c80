package reconcile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/reconcile"
)

// crdYAML is a namespaced CRD of kind in group.
func crdYAML(group, kind string) string {
	plural := strings.ToLower(kind) + "s"
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %[3]s.%[1]s}
spec:
  group: %[1]s
  names: {kind: %[2]s, plural: %[3]s, singular: %[4]s, listKind: %[2]sList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`, group, kind, plural, strings.ToLower(kind))
}

// TestPlanWithCRDsAndNamespacesOfEarlierUnits: on a fresh cluster, a unit
// whose objects are of a kind an earlier unit's CRD defines (a kustomize
// dependency's, or a Helm chart's crds/ of a dependency), or live in a
// namespace an earlier unit (or its release) creates, is planned as
// "would create", not as an error; a unit that does not come after them
// still fails, as Run would; and Run then creates what the plan said.
func TestPlanWithCRDsAndNamespacesOfEarlierUnits(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	name := gitopstest.UniqueName("plan-pre")
	group := name + ".example.com"
	charts := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, charts, chartrepo.Chart{Name: "gadget-operator", Version: "1.0.0",
		CRDs:      map[string]string{"gadgets.yaml": crdYAML(group, "Gadget")},
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: operator}\ndata: {ok: \"yes\"}\n"}})

	object := func(kind, ns, obj string) string {
		return fmt.Sprintf("apiVersion: %s/v1\nkind: %s\nmetadata: {name: %s, namespace: %s}\nspec: {size: 1}\n", group, kind, obj, ns)
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, name)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"crds/widgets.yaml":   crdYAML(group, "Widget"),
		"crds/namespace.yaml": namespaceYAML(name + "-apps"),
		"widgets/widget.yaml": object("Widget", name+"-apps", "w"),
		"widgets/cm.yaml":     configMapYAML(name+"-apps", "c", "1"),
		"gadgets/gadget.yaml": object("Gadget", name+"-ops", "g"),
		"stray/widget.yaml":   object("Widget", name+"-apps", "stray"),
	}})
	units := []reconcile.Unit{
		{Name: "crds", Path: "crds"},
		{Name: "widgets", Path: "widgets", DependsOn: []string{"crds"}},
		{Name: "operator", DependsOn: []string{"crds"}, Helm: &helmrelease.Release{Name: "gadget-operator", Namespace: name + "-ops",
			CreateNamespace: true, Chart: helmrelease.ChartRef{RepoURL: charts.URL(), Name: "gadget-operator", Version: "1.0.0"}}},
		{Name: "gadgets", Path: "gadgets", DependsOn: []string{"operator"}},
		{Name: "stray", Path: "stray"}, // no dependency: Run may apply it before the CRD exists
	}
	conf := reconcile.Configuration{Name: name, Namespace: name + "-records",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}}, Units: units}
	p, err := newReconciler(t, conf, reconcile.Options{}).Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = p.WriteText(&b)
	t.Log(b.String())
	plans := map[string]reconcile.UnitPlan{}
	for _, up := range p.Units {
		plans[up.Name] = up
	}
	for name, created := range map[string]int{"crds": 2, "widgets": 2, "gadgets": 1} {
		up := plans[name]
		if up.Err != nil || up.Apply == nil || up.Apply.Count(apply.Created) != created {
			t.Errorf("plan of %s: err %v, apply %+v; want %d to be created", name, up.Err, up.Apply, created)
		}
	}
	if up := plans["operator"]; up.Err != nil || !strings.Contains(up.Helm, "would be reconciled") || strings.Contains(up.Helm, "did not render") {
		t.Errorf("plan of operator: %v %q", up.Err, up.Helm)
	}
	if up := plans["stray"]; up.Err == nil {
		t.Errorf("plan of stray (no dependency on the CRD's unit): no error, want the unknown kind Run may meet")
	}

	// Run without the stray unit: what the plan said would be created is.
	conf.Units = units[:4]
	s := run(t, newReconciler(t, conf, reconcile.Options{}))
	for name, objects := range map[string]int{"crds": 2, "widgets": 2, "gadgets": 1} {
		if u := unit(t, s, name); u.Phase != reconcile.PhaseReady || u.Objects != objects {
			t.Errorf("run of %s: %+v, want Ready with %d objects", name, u, objects)
		}
	}
}
