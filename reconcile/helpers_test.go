package reconcile_test

import (
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/internal/demo"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// testCluster is a simulated full cluster shared by the package's tests: health
// waits need Deployments that really roll out.
var testCluster *localcluster.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzzing (FuzzLoadFlux) needs no cluster, and every fuzz worker process
	// runs TestMain: don't start one there.
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{Simulated: true}, &testCluster))
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	return kubernetes.NewForConfigOrDie(testCluster.Config)
}

// demoRepo serves the seed scenario's repository under name.
func demoRepo(t *testing.T, name string) (*gitserver.Server, *gitserver.Repo) {
	t.Helper()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, name)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: demo.Files(), Message: "the seed scenario"})
	return srv, repo
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
	c, err := cluster.New(testCluster.Config, cluster.Options{})
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

func mustFile(t *testing.T, path string) string {
	t.Helper()
	f, ok := demo.Files()[path]
	if !ok {
		t.Fatalf("demo repository has no %s", path)
	}
	return f
}
