package reconcile_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// treeRepo is a bootstrap-style Flux repository: clusters/prod holds the
// flux-system sync objects (with the repository's own URL, which the
// configuration replaces with the test server's), a Kustomization infra
// (v1beta2) that creates the cluster-vars ConfigMap, and a Kustomization
// apps (v1) that depends on infra and substitutes from cluster-vars. SYS,
// INFRA and APPS are namespaces of the test's own.
func treeRepo(names *strings.Replacer) map[string]string {
	files := map[string]string{
		"clusters/prod/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: SYS
spec:
  interval: 1m
  url: ssh://git@github.com/example/fleet
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: SYS
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
		"clusters/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
		"clusters/prod/kustomization.yaml":             "resources: [flux-system, infra.yaml, apps.yaml]\n",
		"clusters/prod/infra.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata:
  name: infra
  namespace: SYS
spec:
  interval: 10m
  path: ./infra
  prune: true
  wait: true
  timeout: 2m
  sourceRef:
    kind: GitRepository
    name: flux-system
`,
		"clusters/prod/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: SYS
spec:
  interval: 10m
  path: ./apps
  prune: true
  wait: true
  timeout: 2m
  dependsOn:
    - name: infra
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`,
		"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: INFRA\n",
		"infra/cluster-vars.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: SYS\n" +
			"data:\n  replicas: \"2\"\n  apps_namespace: APPS\n",
		"apps/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${apps_namespace}\n",
		"apps/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${apps_namespace}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.k8s.io/pause:3.10
`,
	}
	for k, v := range files {
		files[k] = names.Replace(v)
	}
	return files
}

// treeRoot is what the user gives gitopskit: the flux-system sync objects
// with the test server's URL.
const treeRoot = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: SYS
spec:
  interval: 1m
  url: %s
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: SYS
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

type treeFixture struct {
	names            *strings.Replacer
	sys, infra, apps string
	repo             *gitserver.Repo
	conf             reconcile.Configuration
}

func newTreeFixture(t *testing.T) *treeFixture {
	t.Helper()
	return newTreeFixtureVersions(t, nil)
}

// newTreeFixtureVersions is newTreeFixture with the Flux API versions of
// every file rewritten by versions (nil: as written, v1 and v1beta2).
func newTreeFixtureVersions(t *testing.T, versions *strings.Replacer) *treeFixture {
	t.Helper()
	if versions == nil {
		versions = strings.NewReplacer()
	}
	id := fmt.Sprintf("%05d", time.Now().UnixNano()%100000)
	f := &treeFixture{sys: "tree-sys-" + id, infra: "tree-infra-" + id, apps: "tree-apps-" + id}
	f.names = strings.NewReplacer("SYS", f.sys, "INFRA", f.infra, "APPS", f.apps)
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	f.repo = gitopstest.NewGitRepo(t, srv, "fleet")
	files := treeRepo(f.names)
	for k, v := range files {
		files[k] = versions.Replace(v)
	}
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Files: files, Message: "bootstrap"})
	root := versions.Replace(f.names.Replace(fmt.Sprintf(treeRoot, f.repo.HTTPURL())))
	conf, err := reconcile.LoadFlux(t.Context(), []byte(root), reconcile.FluxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.conf = conf
	return f
}

// TestFluxTree reconciles a bootstrap-style repository: the Flux objects of
// a build are units of the configuration (not objects applied to the
// cluster), in their dependency order, with substituteFrom reading what an
// earlier unit created; a second run changes nothing; a child removed from
// Git is removed with its objects, also by a new process that only knows it
// from the records.
func TestFluxTree(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	f := newTreeFixture(t)
	var events eventLog
	r := newReconciler(t, f.conf, reconcile.Options{OnEvent: events.handle})
	s := run(t, r)
	if !s.Compliant() || len(s.Units) != 3 {
		t.Fatalf("want flux-system, infra and apps Ready: %s", s)
	}
	if names := []string{s.Units[0].Name, s.Units[1].Name, s.Units[2].Name}; strings.Join(names, ",") != "flux-system,infra,apps" {
		t.Errorf("order %v, want flux-system, infra, apps", names)
	}
	apps := unit(t, s, "apps")
	if apps.DeclaredBy != "flux-system" || apps.FluxObject != "Kustomization "+f.sys+"/apps" || apps.DependsOn[0] != "infra" {
		t.Errorf("apps status %+v", apps)
	}
	if len(s.Sources) != 1 || !s.Sources[0].Ready || s.Sources[0].DeclaredBy != "" || s.Sources[0].Revision != apps.LastAppliedRevision {
		t.Errorf("sources: %+v, want the configuration's GitRepository Ready at %s", s.Sources, apps.LastAppliedRevision)
	}
	if fs := unit(t, s, "flux-system"); fs.Objects != 0 || fs.DeclaredBy != "" {
		t.Errorf("flux-system applied %d objects (want none: its build is Flux objects only), declared by %q", fs.Objects, fs.DeclaredBy)
	}
	cs := clientset(t)
	d, err := cs.AppsV1().Deployments(f.apps).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Status.ReadyReplicas != 2 {
		t.Errorf("web: %d replicas (%d ready), want 2 from infra's cluster-vars", *d.Spec.Replicas, d.Status.ReadyReplicas)
	}
	if !events.matches(func(e reconcile.Event) bool {
		return e.Unit == "flux-system" && strings.Contains(e.Message, "differently from the configuration")
	}) {
		t.Errorf("no event says the build's GitRepository (another URL) was overridden by the configuration's")
	}

	// A second run changes nothing.
	s = run(t, r)
	for _, u := range s.Units {
		if !u.Compliant() || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
			t.Errorf("second run: %s %s %v", u.Name, u.Phase, u.Counts)
		}
	}

	// apps leaves Git: removed with its objects.
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Message: "no apps",
		Files:  map[string]string{"clusters/prod/kustomization.yaml": "resources: [flux-system, infra.yaml]\n"},
		Delete: []string{"clusters/prod/apps.yaml"}})
	s = run(t, r)
	if _, ok := s.Unit("apps"); ok || !s.Compliant() || len(s.Units) != 2 {
		t.Fatalf("after apps left Git: %s", s)
	}
	if _, err := cs.AppsV1().Deployments(f.apps).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("web after apps left Git: %v, want NotFound", err)
	}

	// infra leaves Git and a new process runs: it knows infra only from the
	// records, and removes it all the same.
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Message: "no infra",
		Files:  map[string]string{"clusters/prod/kustomization.yaml": "resources: [flux-system]\n"},
		Delete: []string{"clusters/prod/infra.yaml"}})
	r2 := newReconciler(t, f.conf, reconcile.Options{})
	s = run(t, r2)
	if len(s.Units) != 1 || !s.Compliant() {
		t.Fatalf("after infra left Git: %s", s)
	}
	if _, err := cs.CoreV1().ConfigMaps(f.sys).Get(ctx, "cluster-vars", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster-vars after infra left Git: %v, want NotFound", err)
	}
	rec, err := cs.CoreV1().ConfigMaps(f.sys).Get(ctx, f.sys+"-status", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Data["status.json"], `"infra"`) {
		t.Errorf("the record still holds infra: %s", rec.Data["status.json"])
	}
}

// TestFluxTreeAPIVersions: the bootstrap tree with every Flux object in
// the older served API versions (source v1beta1/v1beta2, kustomize
// v1beta1/v1beta2) reconciles, in order, with substituteFrom, and a second
// run changes nothing.
func TestFluxTreeAPIVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	for _, v := range []struct {
		source, kustomize string
		wait              string // spec.wait, which v1beta1 does not have
	}{{"v1beta2", "v1beta2", "  wait: true\n"}, {"v1beta1", "v1beta1", ""}} {
		t.Run(v.source+"-"+v.kustomize, func(t *testing.T) {
			versions := strings.NewReplacer(
				"source.toolkit.fluxcd.io/v1\n", "source.toolkit.fluxcd.io/"+v.source+"\n",
				"kustomize.toolkit.fluxcd.io/v1\n", "kustomize.toolkit.fluxcd.io/"+v.kustomize+"\n",
				"kustomize.toolkit.fluxcd.io/v1beta2\n", "kustomize.toolkit.fluxcd.io/"+v.kustomize+"\n",
				"  wait: true\n", v.wait)
			f := newTreeFixtureVersions(t, versions)
			rendering := mustRender(t, f.conf)
			r := newReconciler(t, f.conf, reconcile.Options{})
			s := run(t, r)
			if !s.Compliant() || len(s.Units) != 3 {
				t.Fatalf("want flux-system, infra and apps Ready: %s", s)
			}
			assertRenderMatches(t, rendering, s)
			if got := unit(t, s, "apps").FluxObject; got != "Kustomization "+f.sys+"/apps" {
				t.Errorf("apps: Flux object %q", got)
			}
			d, err := clientset(t).AppsV1().Deployments(f.apps).Get(t.Context(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if *d.Spec.Replicas != 2 {
				t.Errorf("web: %d replicas, want 2 from infra's cluster-vars", *d.Spec.Replicas)
			}
			s = run(t, r)
			for _, u := range s.Units {
				if !u.Compliant() || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
					t.Errorf("second run: %s %s %v", u.Name, u.Phase, u.Counts)
				}
			}
		})
	}
}

// TestFluxTreeGuards: a build that suddenly declares none of a unit's Flux
// units removes nothing; a nesting deeper than the bound and a dependency
// cycle among declared units fail the declaring unit and apply nothing.
func TestFluxTreeGuards(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	f := newTreeFixture(t)
	var events eventLog
	r := newReconciler(t, f.conf, reconcile.Options{OnEvent: events.handle})
	if s := run(t, r); !s.Compliant() {
		t.Fatalf("first run: %s", s)
	}

	// An empty build: nothing is removed.
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Message: "empty",
		Files: map[string]string{"clusters/prod/kustomization.yaml": "resources: []\n"}})
	s := run(t, r)
	fs := unit(t, s, "flux-system")
	if fs.Reason != reconcile.ReasonPruneFailed || !strings.Contains(fs.Message, "declares none of the unit's Flux units") {
		t.Errorf("empty build: %s %s", fs.Reason, fs.Message)
	}
	if _, ok := s.Unit("apps"); !ok {
		t.Errorf("apps removed by an empty build: %s", s)
	}
	if _, err := clientset(t).AppsV1().Deployments(f.apps).Get(t.Context(), "web", metav1.GetOptions{}); err != nil {
		t.Errorf("web after an empty build: %v", err)
	}

	// A cycle: infra now depends on apps, which depends on infra.
	infra := f.names.Replace(treeRepo(f.names)["clusters/prod/infra.yaml"]) + "  dependsOn:\n    - name: apps\n"
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Message: "cycle", Files: map[string]string{
		"clusters/prod/kustomization.yaml": "resources: [flux-system, infra.yaml, apps.yaml]\n",
		"clusters/prod/infra.yaml":         infra,
	}})
	s = run(t, r)
	fs = unit(t, s, "flux-system")
	if fs.Reason != reconcile.ReasonBuildFailed || !strings.Contains(fs.Message, "cycle") {
		t.Errorf("cycle: %s %s", fs.Reason, fs.Message)
	}
	if !events.matches(func(e reconcile.Event) bool { return errors.Is(e.Err, depgraph.ErrCycle) }) {
		t.Errorf("no event's error matches depgraph.ErrCycle")
	}
	if apps, ok := s.Unit("apps"); !ok || !apps.Compliant() {
		t.Errorf("apps should keep its last declaration and stay Ready: %+v", apps)
	}

	// Too deep: with MaxDepth 1, apps declaring a Kustomization fails apps.
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Message: "deeper", Files: map[string]string{
		"clusters/prod/infra.yaml": treeRepo(f.names)["clusters/prod/infra.yaml"],
		"apps/nested.yaml": f.names.Replace("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: nested, namespace: SYS}\n" +
			"spec: {interval: 5m, path: ./infra, sourceRef: {kind: GitRepository, name: flux-system}}\n"),
	}})
	var deepEvents eventLog
	deep := newReconciler(t, f.conf, reconcile.Options{MaxDepth: 1, OnEvent: deepEvents.handle})
	s = run(t, deep)
	apps := unit(t, s, "apps")
	if apps.Reason != reconcile.ReasonBuildFailed || !strings.Contains(apps.Message, "nested too deeply") {
		t.Errorf("too deep: %s %s", apps.Reason, apps.Message)
	}
	if !deepEvents.matches(func(e reconcile.Event) bool { return errors.Is(e.Err, reconcile.ErrTooDeep) }) {
		t.Errorf("no event's error matches ErrTooDeep")
	}
	if _, ok := s.Unit("nested"); ok {
		t.Errorf("the unit beyond the bound was added: %s", s)
	}
}

// TestFluxTreeHandToFlux: with ApplyFluxObjects, the Flux objects of a build
// are applied for an installed Flux, and nothing of theirs runs here.
func TestFluxTreeHandToFlux(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	installFluxCRDs(t)
	f := newTreeFixture(t)
	r := newReconciler(t, f.conf, reconcile.Options{FluxObjects: reconcile.ApplyFluxObjects})
	s := run(t, r)
	if len(s.Units) != 1 || !s.Compliant() {
		t.Fatalf("want only flux-system, Ready: %s", s)
	}
	dyn := dynamic.NewForConfigOrDie(testCluster(t).Config)
	ks := schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	for _, name := range []string{"flux-system", "infra", "apps"} {
		if _, err := dyn.Resource(ks).Namespace(f.sys).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("Kustomization %s not applied: %v", name, err)
		}
	}
	if _, err := clientset(t).CoreV1().Namespaces().Get(ctx, f.infra, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("infra ran here: namespace %s: %v", f.infra, err)
	}
}

func version(name string, storage bool) map[string]any {
	return map[string]any{"name": name, "served": true, "storage": storage,
		"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
}

// installFluxCRDs installs schemaless CRDs for Flux's Kustomization and
// GitRepository, standing in for an installed Flux. They stay for the
// package's other tests (deleting them would race with the next -count
// run's install), which do not apply Flux objects.
func installFluxCRDs(t *testing.T) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(testCluster(t).Config)
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, c := range []struct{ group, kind, plural string }{
		{"kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations"},
		{"source.toolkit.fluxcd.io", "GitRepository", "gitrepositories"},
	} {
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": c.plural + "." + c.group},
			"spec": map[string]any{
				"group": c.group, "scope": "Namespaced",
				"names":    map[string]any{"kind": c.kind, "plural": c.plural, "singular": strings.ToLower(c.kind), "listKind": c.kind + "List"},
				"versions": []any{version("v1", true), version("v1beta2", false)},
			},
		}}
		if _, err := dyn.Resource(crds).Create(t.Context(), crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// Wait until the API server serves them.
	ks := schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dyn.Resource(ks).Namespace(corev1.NamespaceDefault).List(t.Context(), metav1.ListOptions{Limit: 1})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Flux CRDs not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// matches reports whether an event satisfies ok.
func (l *eventLog) matches(ok func(reconcile.Event) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if ok(e) {
			return true
		}
	}
	return false
}
