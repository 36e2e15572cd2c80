package reconcile_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestHelmUnits mixes a kustomize unit and Helm units in one configuration:
// a chart from a chart repository and a chart from a path in the Git
// source, both depending on the kustomize unit that creates their namespace.
func TestHelmUnits(t *testing.T) {
	chart := chartrepo.Chart{
		Name: "greeter", Version: "1.0.0", Values: "message: hello\n",
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  message: {{ .Values.message | quote }}\n"},
	}
	charts := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, charts, chart)

	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "helm-mix")
	files := map[string]string{"ns/ns.yaml": namespaceYAML("helm-mix")}
	for name, content := range chart.Templates {
		files["charts/greeter/templates/"+name] = content
	}
	files["charts/greeter/Chart.yaml"] = "apiVersion: v2\nname: greeter\nversion: 1.0.0\n"
	files["charts/greeter/values.yaml"] = chart.Values
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files})

	r := newReconciler(t, reconcile.Configuration{
		Name:    "helm-mix",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units: []reconcile.Unit{
			{Name: "ns", Path: "ns"},
			{Name: "from-repo", DependsOn: []string{"ns"}, Helm: &helmrelease.Release{
				Name: "from-repo", Namespace: "helm-mix", Values: map[string]any{"message": "from the repository"},
				Chart: helmrelease.ChartRef{RepoURL: charts.URL(), Name: "greeter", Version: "1.x"}}},
			{Name: "from-git", Source: "repo", DependsOn: []string{"ns"}, Helm: &helmrelease.Release{
				Name: "from-git", Namespace: "helm-mix", Chart: helmrelease.ChartRef{Path: "charts/greeter"}}},
			{Name: "escape", Source: "repo", Helm: &helmrelease.Release{
				Name: "escape", Namespace: "helm-mix", Chart: helmrelease.ChartRef{Path: "../../etc"}}},
		},
	}, reconcile.Options{})
	s := run(t, r)
	for name, want := range map[string]string{"from-repo": "from the repository", "from-git": "hello"} {
		if u := unit(t, s, name); u.Phase != reconcile.PhaseReady {
			t.Errorf("%s: %+v", name, u)
		}
		cm, err := clientset(t).CoreV1().ConfigMaps("helm-mix").Get(t.Context(), name, metav1.GetOptions{})
		if err != nil || cm.Data["message"] != want {
			t.Errorf("release %s: %v %v, want message %q", name, cm, err, want)
		}
	}
	if u := unit(t, s, "escape"); u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonBuildFailed {
		t.Errorf("chart path escaping the source: %+v", u)
	}
	// A second run is a no-op for Helm too: still Ready.
	if u := unit(t, run(t, r), "from-repo"); u.Phase != reconcile.PhaseReady {
		t.Errorf("second run: %+v", u)
	}
}
