package reconcile_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
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
