package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// Report on a configuration another process reconciles, from its record
// alone: no Configuration, no Git, one GET.
func ExampleReadStatus() {
	var cfg *rest.Config // from clientcmd, as kubectl does
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := reconcile.ReadStatus(context.Background(), c, "cluster-config", "fleet")
	if errors.Is(err, reconcile.ErrNotFound) {
		fmt.Println("fleet has never been reconciled")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.WriteTable(os.Stdout)
	fmt.Println(s) // compliant: 3/3 units ready
}

func TestReadStatus(t *testing.T) {
	ctx := t.Context()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "readstatus")
	// A namespace of the test's own for the record and the objects: a rerun
	// (go test -count=N) finds no record and no objects of the last run.
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\n"
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"base/cm.yaml":   cm("rs-base") + "data: {a: b}\n",
		"apps/cm.yaml":   cm("rs-app") + "data: {c: d}\n",
		"broken/x.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n",
		"zz-last/c.yaml": cm("rs-last"),
	}})
	conf := reconcile.Configuration{
		Name: "readstatus", Namespace: ns,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL(), Ref: source.Ref{Branch: "main"}}},
		Units: []reconcile.Unit{
			// Declared out of order: ReadStatus orders by dependencies.
			{Name: "apps", Path: "apps", DependsOn: []string{"base"}},
			{Name: "zz-last", Path: "zz-last"},
			{Name: "base", Path: "base"},
			{Name: "broken", Path: "broken", DependsOn: []string{"base"}},
		},
	}

	c := kube(t)
	if _, err := reconcile.ReadStatus(ctx, c, conf.Namespace, conf.Name); !errors.Is(err, reconcile.ErrNotFound) {
		t.Fatalf("before any run: %v, want ErrNotFound", err)
	}

	r := newReconciler(t, conf, reconcile.Options{})
	want := run(t, r)
	got, err := reconcile.ReadStatus(ctx, c, conf.Namespace, conf.Name)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range got.Units {
		names = append(names, u.Name)
		w := unit(t, want, u.Name)
		if u.Phase != w.Phase || u.Reason != w.Reason || u.Message != w.Message ||
			u.LastAppliedRevision != w.LastAppliedRevision || u.LastAttemptedRevision != w.LastAttemptedRevision ||
			!slices.Equal(u.DependsOn, w.DependsOn) || !u.LastReconciled.Equal(w.LastReconciled) {
			t.Errorf("unit %s: read %+v, Run returned %+v", u.Name, u, w)
		}
	}
	if wantNames := []string{"base", "zz-last", "apps", "broken"}; !slices.Equal(names, wantNames) {
		t.Errorf("order %v, want %v", names, wantNames)
	}
	if got.Compliant() || want.Compliant() || len(got.Units) != len(want.Units) {
		t.Errorf("read %q, Run returned %q", got, want)
	}
	if u, _ := got.Unit("broken"); u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonBuildFailed {
		t.Errorf("broken: %+v", u)
	}
	if len(got.Sources) != 1 || len(want.Sources) != 1 || got.Sources[0].Name != "repo" || !got.Sources[0].Ready ||
		got.Sources[0].Revision != want.Sources[0].Revision || got.Sources[0].URL != want.Sources[0].URL ||
		!got.Sources[0].LastFetched.Equal(want.Sources[0].LastFetched) {
		t.Errorf("sources: read %+v, Run returned %+v", got.Sources, want.Sources)
	}

	// A record someone damaged is an error, not an empty status.
	cs := clientset(t)
	_, err = cs.CoreV1().ConfigMaps(conf.Namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "damaged-status", Namespace: conf.Namespace},
		Data:       map[string]string{"status.json": "{not json"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile.ReadStatus(ctx, c, conf.Namespace, "damaged"); err == nil || errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("damaged record: %v, want a decoding error", err)
	}
}
