package reconcile_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// monorepoFiles is a repository laid out as fluxcd/flux2-kustomize-helm-
// example: clusters/staging declares an ArtifactGenerator whose "apps"
// artifact is two copies (apps/base to base/, apps/staging to staging/,
// its README left out) and a Kustomization of that artifact's ./staging,
// which builds ../base/podinfo. NS is the namespace of everything.
func monorepoFiles(ns, greeting string) map[string]string {
	r := strings.NewReplacer("NS", ns)
	return map[string]string{
		"apps/base/podinfo/kustomization.yaml": "resources: [configmap.yaml]\n",
		"apps/base/podinfo/configmap.yaml": r.Replace("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: podinfo, namespace: NS}\n" +
			"data: {greeting: " + greeting + ", env: base}\n"),
		"apps/staging/kustomization.yaml": r.Replace("resources: [../base/podinfo]\npatches:\n- patch: |\n" +
			"    {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"podinfo\", \"namespace\": \"NS\"}, \"data\": {\"env\": \"staging\"}}\n"),
		"apps/staging/README.md":             "not copied: excluded\n",
		"apps/production/kustomization.yaml": "resources: [../base/podinfo]\n",
		"clusters/staging/artifacts.yaml": r.Replace(`apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: fleet, namespace: NS}
spec:
  sources:
    - {alias: monorepo, kind: GitRepository, name: fleet}
  artifacts:
    - name: apps
      originRevision: "@monorepo"
      copy:
        - from: "@monorepo/apps/base/**"
          to: "@artifact/base/"
        - from: "@monorepo/apps/staging/**"
          to: "@artifact/staging/"
          exclude: ["*.md"]
`),
		"clusters/staging/apps.yaml": r.Replace(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: NS}
spec:
  interval: 10m
  path: ./staging
  prune: true
  sourceRef: {kind: ExternalArtifact, name: apps}
`),
	}
}

// TestFluxArtifactOfSeveralCopies: a Kustomization whose ExternalArtifact
// an ArtifactGenerator composes of two directories of the repository
// (Flux's own example layout) builds in the composed tree, and a commit
// that changes the base reaches the cluster through a new tree.
func TestFluxArtifactOfSeveralCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: monorepoFiles(ns, "hello"), Message: "staging"})

	conf := bootstrapRoot(t, ns, repo.HTTPURL(), "./clusters/staging", "monorepo")
	c := kube(t)
	r, err := reconcile.New(c, conf, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	cs := clientset(t)
	for i, greeting := range []string{"hello", "bonjour"} {
		if i > 0 {
			gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: monorepoFiles(ns, greeting), Message: "base: " + greeting})
		}
		lists := c.Requests().Verb("list")
		s := run(t, r)
		// The root unit applies nothing (its build is Flux objects): its
		// inventory is stored empty, not searched for as a lost one on
		// every run (one LIST per listable resource).
		if lists = c.Requests().Verb("list") - lists; i > 0 && lists > 10 {
			t.Errorf("run %d made %d LISTs: an inventory stored empty was searched for", i+1, lists)
		}
		t.Logf("run %d: %d LISTs", i+1, lists)
		if !s.Compliant() {
			t.Fatalf("not compliant: %s", s)
		}
		apps := unit(t, s, "apps")
		if apps.Objects != 1 || apps.DeclaredBy != "cluster" {
			t.Errorf("apps: %+v, want 1 object, declared by cluster", apps)
		}
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "podinfo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["greeting"] != greeting || cm.Data["env"] != "staging" {
			t.Errorf("podinfo %v, want greeting %s from the base and env staging from the overlay", cm.Data, greeting)
		}
	}
}
