package fleet_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/fleet"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

func repoFiles(greeting string) map[string]string {
	return map[string]string{
		"base/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fleet-demo\n",
		"app/config.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: fleet-demo\ndata:\n  text: " + greeting + "\n",
	}
}

// TestFleet runs one configuration on three API servers; the third is
// stopped mid-run: the two healthy clusters converge, the roll-up shows
// the third Unreachable with the reason, and it converges once restarted.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three API servers")
	}
	ctx := t.Context()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: repoFiles("hello"), Message: "hello"})
	conf := reconcile.Configuration{
		Name:    "demo",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL(), Ref: source.Ref{Branch: "main"}}},
		Units: []reconcile.Unit{
			{Name: "base", Path: "base", Prune: true},
			{Name: "app", Path: "app", Prune: true, DependsOn: []string{"base"}},
		},
	}

	var clusters []*localcluster.Cluster
	var members []fleet.Member
	for i, typ := range []string{"prod", "prod", "dev"} {
		lc := gitopstest.StartCluster(t)
		clusters = append(clusters, lc)
		c, err := cluster.New(lc.Config, cluster.Options{})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, fleet.Member{Name: []string{"eu-1", "us-1", "dev-1"}[i], Labels: map[string]string{"clusterType": typ}, Cluster: c})
	}
	f, err := fleet.New(members, []reconcile.Configuration{conf}, fleet.Options{ProbeTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })

	rep, err := f.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if !rep.Compliant() || len(rep.Rows) != 3 {
		t.Fatalf("first run: want 3 compliant rows")
	}

	// A new commit, and dev-1's API server goes away.
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: repoFiles("bonjour"), Message: "bonjour"})
	if err := clusters[2].StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	rep, err = f.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	for i, name := range []string{"eu-1", "us-1"} {
		row, _ := rep.Row(name, "demo")
		if row.State != fleet.StateCompliant || row.Ready != 2 {
			t.Errorf("%s: %s %d/%d (%s)", name, row.State, row.Ready, row.Units, row.Reason)
		}
		cm, err := kubernetes.NewForConfigOrDie(clusters[i].Config).CoreV1().ConfigMaps("fleet-demo").Get(ctx, "greeting", metav1.GetOptions{})
		if err != nil || cm.Data["text"] != "bonjour" {
			t.Errorf("%s: greeting %v, %v; want bonjour", name, cm.Data, err)
		}
	}
	dev, _ := rep.Row("dev-1", "demo")
	if dev.State != fleet.StateUnreachable || !strings.Contains(dev.Reason, "API server unreachable") || dev.Err == nil {
		t.Errorf("dev-1: %s (%s)", dev.State, dev.Reason)
	}
	sum := rep.Summarize("complianceState", "clusterType")
	var b strings.Builder
	if err := sum.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "complianceState  clusterType  count_\nCompliant        prod         2\nUnreachable      dev          1\n"
	if b.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), want)
	}

	// dev-1 is back: it converges on the next run.
	if err := clusters[2].StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = f.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if !rep.Compliant() {
		t.Errorf("after dev-1 came back: not compliant")
	}
}

func logReport(t *testing.T, rep fleet.Report) {
	t.Helper()
	var b strings.Builder
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
}

func TestNewErrors(t *testing.T) {
	conf := reconcile.Configuration{Name: "demo", Sources: []reconcile.Source{{Name: "r", URL: "http://127.0.0.1:1/x.git"}},
		Units: []reconcile.Unit{{Name: "u"}}}
	c, err := cluster.New(&rest.Config{Host: "https://127.0.0.1:1"}, cluster.Options{}) // never contacted
	if err != nil {
		t.Fatal(err)
	}
	for name, members := range map[string][]fleet.Member{
		"none":       nil,
		"no name":    {{Cluster: c}},
		"no cluster": {{Name: "a"}},
		"twice":      {{Name: "a", Cluster: c}, {Name: "a", Cluster: c}},
	} {
		if _, err := fleet.New(members, []reconcile.Configuration{conf}, fleet.Options{}); !errors.Is(err, fleet.ErrInvalidFleet) {
			t.Errorf("%s: %v, want ErrInvalidFleet", name, err)
		}
	}
}
