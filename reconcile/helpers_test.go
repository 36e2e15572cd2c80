package reconcile_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/internal/demo"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// shared is a simulated full cluster shared by the package's tests (health
// waits need Deployments that really roll out), started by the first test
// that needs it: fuzzing (FuzzLoadFlux, whose worker processes run TestMain
// too), -short and a -run of tests that need none start none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{Simulated: true})

func TestMain(m *testing.M) {
	// Examples cannot skip themselves: with -short, Run skips these.
	os.Exit(shared.Run(m, "ExampleReconciler_Run", "ExampleReconciler_Status", "ExampleReconciler_Close"))
}

// testCluster returns the shared cluster, starting it on first use; it
// skips tb with -short.
func testCluster(tb testing.TB) *localcluster.Cluster {
	tb.Helper()
	return shared.Get(tb)
}

// offline is a cluster handle for tests of New alone, which contacts
// nothing: no cluster starts for them.
func offline(t testing.TB) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(&rest.Config{Host: "https://127.0.0.1:1"}, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	return kubernetes.NewForConfigOrDie(testCluster(t).Config)
}

// demoRepo serves the seed scenario's repository (files: seedFiles) under
// name.
func demoRepo(t *testing.T, name string, files map[string]string) (*gitserver.Server, *gitserver.Repo) {
	t.Helper()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, name)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "the seed scenario"})
	return srv, repo
}

// seedFiles returns the seed scenario's repository with the names of what it
// applies outside its units' own records suffixed with sfx: its namespaces,
// the ServiceMonitor group (the CRD is cluster-scoped) and the ClusterRole
// and ClusterRoleBinding. A rerun of a test (go test -count=N) under a new
// configuration name then owns none of an earlier run's objects.
func seedFiles(sfx string) map[string]string {
	r := strings.NewReplacer(
		"monitoring.example.com", sfx+".monitoring.example.com",
		"namespace: monitoring", "namespace: monitoring-"+sfx,
		"name: monitoring\n", "name: monitoring-"+sfx+"\n",
		"apps-dev", "apps-dev-"+sfx,
		"apps-prd", "apps-prd-"+sfx,
		"kind: ClusterRole\nmetadata:\n  name: prometheus\n", "kind: ClusterRole\nmetadata:\n  name: prometheus-"+sfx+"\n",
		"kind: ClusterRoleBinding\nmetadata:\n  name: prometheus\n", "kind: ClusterRoleBinding\nmetadata:\n  name: prometheus-"+sfx+"\n",
		"kind: ClusterRole\n  name: prometheus\n", "kind: ClusterRole\n  name: prometheus-"+sfx+"\n",
	)
	files := demo.Files()
	for path, content := range files {
		files[path] = r.Replace(content)
	}
	return files
}

// seedConfiguration is the scenario's configuration: infra, then apps-dev,
// then apps-prd, with a name prefix so tests don't collide.
func seedConfiguration(name, url string) reconcile.Configuration {
	conf := reconcile.Configuration{
		Name:    name,
		Sources: []reconcile.Source{{Name: "repo", URL: url, Ref: source.Ref{Branch: "main"}}},
	}
	for _, u := range demo.Units() {
		conf.Units = append(conf.Units, reconcile.Unit{
			Name: u.Name, Path: u.Path, DependsOn: u.DependsOn,
			Prune: true, Wait: true, Timeout: 2 * time.Minute,
		})
	}
	return conf
}

// kube returns a cluster handle of the shared test cluster.
func kube(t testing.TB) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newReconciler(t *testing.T, conf reconcile.Configuration, opts reconcile.Options) *reconcile.Reconciler {
	t.Helper()
	r, err := reconcile.New(kube(t), conf, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func run(t *testing.T, r *reconcile.Reconciler) reconcile.Status {
	t.Helper()
	s, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = s.WriteTable(&b)
	t.Logf("%s\n%s", s, b.String())
	return s
}

func unit(t *testing.T, s reconcile.Status, name string) reconcile.UnitStatus {
	t.Helper()
	u, ok := s.Unit(name)
	if !ok {
		t.Fatalf("no unit %s in %v", name, s)
	}
	return u
}

// eventLog records events for assertions.
type eventLog struct {
	mu     sync.Mutex
	events []reconcile.Event
}

func (l *eventLog) handle(e reconcile.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) stages(unit string) []reconcile.Stage {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []reconcile.Stage
	for _, e := range l.events {
		if e.Unit == unit && (len(out) == 0 || out[len(out)-1] != e.Stage) {
			out = append(out, e.Stage)
		}
	}
	return out
}

func mustFile(t *testing.T, files map[string]string, path string) string {
	t.Helper()
	f, ok := files[path]
	if !ok {
		t.Fatalf("demo repository has no %s", path)
	}
	return f
}

// bootstrapRoot loads what `flux bootstrap` writes: a GitRepository
// "fleet" of url's main branch and a Kustomization "cluster" of path, with
// prune, both in namespace ns.
func bootstrapRoot(t *testing.T, ns, url, path, name string) reconcile.Configuration {
	t.Helper()
	conf, err := reconcile.LoadFlux(t.Context(), []byte(fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: %[1]s}
spec: {interval: 1m, url: %[2]s, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster, namespace: %[1]s}
spec: {interval: 10m, path: %[3]s, prune: true, sourceRef: {kind: GitRepository, name: fleet}}
`, ns, url, path)), reconcile.FluxOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// fleetKustomization is a Kustomization of bootstrapRoot's GitRepository:
// name in namespace ns, of path ./name, with prune, and the spec fields of
// extra (YAML lines indented by two spaces).
func fleetKustomization(name, ns, extra string) string {
	return fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  interval: 10m
  path: ./%[1]s
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
%[3]s`, name, ns, extra)
}
