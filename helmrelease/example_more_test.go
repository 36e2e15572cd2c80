package helmrelease_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/helmrelease"
)

// A ConfigMap's string data, as ValuesFrom.Data wants it.
func ExampleConfigMapData() {
	cm := map[string]string{"values.yaml": "replicaCount: 2\n"} // the ConfigMap's .data
	values, err := helmrelease.MergeValues(nil, helmrelease.ValuesFrom{
		Kind: "ConfigMap", Name: "podinfo-values",
		Data: helmrelease.ConfigMapData(cm),
	})
	fmt.Println(values, err)
	// Output: map[replicaCount:2] <nil>
}

// A drifted object as reported in Status.Drift.
func ExampleDriftedObject_String() {
	drift := []helmrelease.DriftedObject{
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "apps", Name: "podinfo", Fields: []string{"spec.replicas"}, Corrected: true},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "podinfo", Missing: true},
	}
	for _, d := range drift {
		fmt.Println(d, d.Fields, d.Missing)
	}
	// Output:
	// Deployment/apps/podinfo [spec.replicas] false
	// ClusterRole/podinfo [] true
}

// The name other releases use in DependsOn.
func ExampleRelease_Key() {
	rel := helmrelease.Release{Name: "podinfo", Namespace: "apps"}
	fmt.Println(rel.Key())
	// Output: apps/podinfo
}

// Check a spec before reconciling it (Reconcile does the same first).
func ExampleRelease_Validate() {
	rel := helmrelease.Release{
		Name:  "podinfo",
		Chart: helmrelease.ChartRef{RepoURL: "ftp://charts.example.com", Name: "podinfo"},
	}
	err := rel.Validate()
	fmt.Println(errors.Is(err, helmrelease.ErrInvalidSpec))
	fmt.Println(err)

	rel.Namespace = "apps"
	rel.Chart.RepoURL = "https://charts.example.com"
	fmt.Println(rel.Validate())
	// Output:
	// true
	// helmrelease: /podinfo: invalid spec: namespace is empty; chart: RepoURL "ftp://charts.example.com": want an http://, https:// or oci:// URL
	// <nil>
}

// A Reconciler for one cluster, reused for every release. (Not run: it needs
// a cluster.)
func ExampleNewReconciler() {
	var cfg *rest.Config                          // the cluster, from the embedding program
	c, err := cluster.New(cfg, cluster.Options{}) // one per cluster, shared with the other stages
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := helmrelease.NewReconciler(c, helmrelease.Options{
		CacheDir: "/var/cache/myapp/charts", // charts from repositories are cached here by digest
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := r.Reconcile(context.Background(), helmrelease.Release{
		Name: "hello", Namespace: "apps", CreateNamespace: true,
		Chart: helmrelease.ChartRef{Path: "/srv/artifact/charts/hello"}, // a chart directory in a Git artifact
	})
	fmt.Println(st.Reason, st.Revision, err)
}

// Reconcile a set of releases in dependency order; a release whose
// dependency is not ready is skipped. (Not run: it needs a cluster.)
func ExampleReconciler_ReconcileAll() {
	var r *helmrelease.Reconciler // from NewReconciler
	repo := helmrelease.ChartRef{RepoURL: "https://charts.example.com"}
	chart := func(name string) helmrelease.ChartRef { c := repo; c.Name = name; return c }

	statuses, err := r.ReconcileAll(context.Background(), []helmrelease.Release{
		{Name: "cert-manager", Namespace: "infra", Chart: chart("cert-manager")},
		{Name: "ingress", Namespace: "infra", Chart: chart("ingress-nginx"), DependsOn: []string{"cert-manager"}},
		{Name: "shop", Namespace: "apps", Chart: chart("shop"), DependsOn: []string{"infra/ingress"}},
	})
	for _, st := range statuses {
		fmt.Println(st.Namespace+"/"+st.Name, st.Ready, st.Reason)
	}
	if errors.Is(err, helmrelease.ErrDependencyNotReady) {
		fmt.Println("some releases wait for their dependencies")
	}
}

// Remove a release that left the configuration: its objects and its
// history. (Not run: it needs a cluster.)
func ExampleReconciler_Uninstall() {
	var r *helmrelease.Reconciler // from NewReconciler
	st, err := r.Uninstall(context.Background(), helmrelease.Release{
		Name: "podinfo", Namespace: "apps",
		Timeout: 2 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.Reason) // Uninstalled, or NotInstalled if it was already gone
}

// Drift rules that leave to an autoscaler the replicas of the release's
// autoscaled Deployments: JSON pointers, with a kustomize-style target.
func ExampleDriftIgnore_Validate() {
	rules := []helmrelease.DriftIgnore{
		{Paths: []string{"/spec/replicas"}, Target: &build.Selector{Kind: "Deployment", LabelSelector: "autoscaled=true"}},
		{Paths: []string{"spec.replicas"}}, // a field path, not a JSON pointer
	}
	for _, rule := range rules {
		fmt.Println(rule.Validate())
	}
	// Output:
	// <nil>
	// path "spec.replicas": want a JSON pointer to a field, such as /spec/replicas
}
