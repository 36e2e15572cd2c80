package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// benchRepoFiles is a unit of 1,000 objects in 10 namespaces (ConfigMaps,
// headless Services and 1-replica Deployments, 100 per file) plus the 10
// Namespaces, as plain YAML (the kustomization is generated).
func benchRepoFiles(prefix string) map[string]string {
	files := map[string]string{}
	for n := range 10 {
		ns := fmt.Sprintf("%s-%d", prefix, n)
		doc := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		for i := range 100 {
			name := fmt.Sprintf("obj-%03d", i)
			switch i % 10 {
			case 0:
				doc += fmt.Sprintf("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, namespace: %s}\n"+
					"spec:\n  replicas: 1\n  selector: {matchLabels: {app: %s}}\n  template:\n"+
					"    metadata: {labels: {app: %s}}\n    spec: {containers: [{name: app, image: example.invalid/app:1}]}\n",
					name, ns, name, name)
			case 1:
				doc += fmt.Sprintf("---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\n"+
					"spec: {clusterIP: None, selector: {app: %s}, ports: [{port: 80}]}\n", name, ns, name)
			default:
				doc += fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {n: \"%d\"}\n", name, ns, i)
			}
		}
		files[fmt.Sprintf("app/%s.yaml", ns)] = doc
	}
	return files
}

// BenchmarkNoopReconcile is the figure users feel: a reconcile of a unit of
// 1,010 objects (with prune and health) when nothing changed, end to end on
// the simulated cluster: the remote check, the build (a cache hit), the
// apply, the prune and the wait. It reports the API and Git requests of one
// reconcile.
func BenchmarkNoopReconcile(b *testing.B) {
	srv := gitopstest.StartGitServer(b, gitserver.Options{})
	repo := gitopstest.NewGitRepo(b, srv, "bench-noop")
	gitopstest.GitCommit(b, repo, gitserver.CommitOptions{Files: benchRepoFiles("bench-noop")})

	kc := kube(b)
	r, err := reconcile.New(kc, reconcile.Configuration{
		Name:    "bench-noop",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL(), Ref: source.Ref{Branch: "main"}}},
		Units:   []reconcile.Unit{{Name: "app", Path: "app", Prune: true, Wait: true, Timeout: 5 * time.Minute}},
	}, reconcile.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	if s, err := r.Run(b.Context()); err != nil || !s.Compliant() {
		b.Fatalf("first reconcile: %v\n%s", err, s)
	}

	before := kc.Requests()
	srv.ResetRequests()
	for b.Loop() {
		s, err := r.Run(b.Context())
		if err != nil || !s.Compliant() {
			b.Fatalf("no-op reconcile: %v\n%s", err, s)
		}
		if u := s.Units[0]; u.Counts.Unchanged != 1010 || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
			b.Fatalf("no-op reconcile changed something: %s", u.Counts)
		}
	}
	b.ReportMetric(float64(kc.Requests().Sub(before).Total())/float64(b.N), "api-requests/op")
	b.ReportMetric(float64(len(srv.HTTPRequests()))/float64(b.N), "git-requests/op")
}
