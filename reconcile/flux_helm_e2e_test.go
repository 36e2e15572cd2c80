package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestFluxHelmReleasePostRenderersAndValuesFiles loads a HelmRelease of a
// chart in a GitRepository with values files (named, as Flux names them,
// by their path in the repository) and post renderers (a strategic merge
// patch, a JSON 6902 patch with a target, an image override), renders it
// with no cluster, reconciles it, and checks the cluster holds what was
// rendered: the files' values and the patches. It does so in each API
// version of HelmRelease Flux has served since 2.0, with the GitRepository
// in a version of the same era.
func TestFluxHelmReleasePostRenderersAndValuesFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	for _, v := range []struct{ helm, source string }{
		{"v2", "v1"}, {"v2beta2", "v1beta2"}, {"v2beta1", "v1beta2"},
	} {
		t.Run(v.helm, func(t *testing.T) { testHelmReleasePostRenderersAndValuesFiles(t, v.helm, v.source) })
	}
}

func testHelmReleasePostRenderersAndValuesFiles(t *testing.T, helmVersion, sourceVersion string) {
	ns := fmt.Sprintf("hr-post-%08x", rand.Uint32())
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "charts")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"charts/greeter/Chart.yaml":       "apiVersion: v2\nname: greeter\nversion: 1.0.0\n",
		"charts/greeter/values.yaml":      "message: hello\nreplicas: 1\n",
		"charts/greeter/values-prod.yaml": "message: prod\n",
		"charts/greeter/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" +
			"data:\n  message: {{ .Values.message | quote }}\n  image: example.com/app:1.0\n",
		"charts/greeter/templates/cronjob.yaml": "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {{ .Release.Name }}\n" +
			"spec:\n  schedule: \"0 0 * * *\"\n  suspend: true\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" +
			"          restartPolicy: Never\n          containers:\n          - name: c\n            image: example.com/app:1.0\n",
	}})
	fluxYAML := fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/%s
kind: GitRepository
metadata: {name: charts, namespace: flux-system}
spec:
  interval: 5m
  url: %s
  ref: {branch: main}
---
apiVersion: helm.toolkit.fluxcd.io/%s
kind: HelmRelease
metadata: {name: greeter, namespace: flux-system}
spec:
  interval: 5m
  targetNamespace: %s
  releaseName: greeter
  install: {createNamespace: true}
  chart:
    spec:
      chart: ./charts/greeter
      sourceRef: {kind: GitRepository, name: charts}
      valuesFiles: [./charts/greeter/values.yaml, ./charts/greeter/values-prod.yaml]
  postRenderers:
    - kustomize:
        images:
          - {name: example.com/app, newName: mirror.example.com/app, newTag: "2.0"}
        patches:
          - patch: |
              apiVersion: v1
              kind: ConfigMap
              metadata:
                name: greeter
                labels: {team: platform}
          - target: {kind: ConfigMap, name: greeter}
            patch: |
              - op: add
                path: /data/patched
                value: "yes"
`, sourceVersion, repo.HTTPURL(), helmVersion, ns)
	conf, err := reconcile.LoadFlux(t.Context(), []byte(fluxYAML), reconcile.FluxOptions{Name: ns})
	if err != nil {
		t.Fatal(err)
	}
	rendering, err := reconcile.Render(t.Context(), conf, reconcile.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newReconciler(t, conf, reconcile.Options{})
	s := run(t, r)
	if !s.Compliant() {
		t.Fatal(s)
	}
	assertRenderMatches(t, rendering, s)

	cm, err := clientset(t).CoreV1().ConfigMaps(ns).Get(t.Context(), "greeter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["message"] != "prod" || cm.Data["patched"] != "yes" || cm.Labels["team"] != "platform" {
		t.Errorf("ConfigMap: data %v labels %v, want the values files' message and the patches", cm.Data, cm.Labels)
	}
	cj, err := clientset(t).BatchV1().CronJobs(ns).Get(t.Context(), "greeter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image; img != "mirror.example.com/app:2.0" {
		t.Errorf("CronJob image %s, want the post renderer's", img)
	}
}

// TestFluxHelmReleaseRetryOnFailure: a HelmRelease with Flux's
// RetryOnFailure strategies (as fluxcd/flux2-kustomize-helm-example's) whose
// install fails keeps the failed release (its Deployment stays, nothing is
// uninstalled), its unit retries after the strategy's retryInterval, and
// once the chart's values are fixed in Git the failed install is upgraded
// in place: release revision 2, not a new install.
func TestFluxHelmReleaseRetryOnFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ns := fmt.Sprintf("hr-retry-%08x", rand.Uint32())
	chart := func(neverReady bool) map[string]string {
		return map[string]string{
			"charts/web/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 1.0.0\n",
			"charts/web/values.yaml": fmt.Sprintf("neverReady: %v\n", neverReady),
			"charts/web/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: 1
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
        {{- if .Values.neverReady }}
        ` + kubeassets.NeverReadyLabel + `: "true"
        {{- end }}
    spec:
      containers: [{name: app, image: example.com/app:1}]
`,
		}
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "charts")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: chart(true), Message: "never ready"})
	conf, err := reconcile.LoadFlux(t.Context(), []byte(fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: charts, namespace: flux-system}
spec: {interval: 5m, url: %s, ref: {branch: main}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: flux-system}
spec:
  interval: 1h
  timeout: 5s
  targetNamespace: %s
  install:
    createNamespace: true
    strategy: {name: RetryOnFailure, retryInterval: 30s}
  upgrade:
    strategy: {name: RetryOnFailure, retryInterval: 30s}
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: charts}
`, repo.HTTPURL(), ns)), reconcile.FluxOptions{Name: ns})
	if err != nil {
		t.Fatal(err)
	}
	if u := conf.Units[0]; u.RetryInterval != 30*time.Second || u.Interval != 5*time.Minute {
		t.Errorf("unit %s: interval %s, retry interval %s; want the source's 5m and the strategy's 30s", u.Name, u.Interval, u.RetryInterval)
	}
	r := newReconciler(t, conf, reconcile.Options{})
	cs := clientset(t)
	for attempt := 1; attempt <= 2; attempt++ {
		s, err := r.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		u := s.Units[0]
		if u.Compliant() {
			t.Fatalf("attempt %d: %s Ready, want the install to fail", attempt, u.Name)
		}
		t.Logf("attempt %d: %s (%s): %s", attempt, u.Phase, u.Reason, u.Message)
		// Each run makes an attempt: the second upgrades the failed
		// install (with Flux's default strategy it would make none, its
		// retries exhausted).
		if want := []string{"", "install failed", "upgrade failed"}[attempt]; !strings.Contains(u.Message, want) {
			t.Errorf("attempt %d: %q, want %q", attempt, u.Message, want)
		}
		if _, err := cs.AppsV1().Deployments(ns).Get(t.Context(), ns+"-web", metav1.GetOptions{}); err != nil { // Flux names the release [targetNamespace-]name
			t.Errorf("attempt %d: the failed install was not kept: %v", attempt, err)
		}
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: chart(false), Message: "ready"})
	s := run(t, r)
	if !s.Compliant() {
		t.Fatalf("after the fix: %s", s)
	}
	if rev := releaseRevision(t, s.Units[0]); rev != 3 {
		t.Errorf("release revision %d, want 3: two failed attempts kept, then upgraded in place", rev)
	}
}
