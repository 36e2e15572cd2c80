package reconcile_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// appArtifact is what `flux push artifact --path=./deploy` would push: a
// kustomization, its ConfigMaps (extra only when withExtra) and a README
// the OCIRepository's spec.ignore leaves out.
func appArtifact(ns, version string, withExtra bool) map[string]string {
	cm := func(name string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {version: %q}\n", name, ns, version)
	}
	files := map[string]string{
		"kustomization.yaml": "resources: [app.yaml]\n",
		"app.yaml":           cm("app"),
		"README.md":          "not a manifest: kustomize would refuse nothing, the ignore rule drops it\n",
	}
	if withExtra {
		files["kustomization.yaml"] = "resources: [app.yaml, extra.yaml]\n"
		files["extra.yaml"] = cm("extra")
	}
	return files
}

// TestFluxOCIArtifactSource: a bootstrap repository declares an
// OCIRepository (a private registry, semver, spec.ignore) and a
// Kustomization of it, as flux2-multi-tenancy's infrastructure does. A new
// tag in range reaches the cluster and prunes what left the artifact; an
// artifact that tries to leave its directory fails the fetch and prunes
// nothing; Render gives the same objects offline.
func TestFluxOCIArtifactSource(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{Username: "puller", Password: "registry-secret"})
	v1 := gitopstest.PushArtifact(t, reg, "fleet/app", "v1.0.0", appArtifact(ns, "1", true))
	// A tag out of range, never picked.
	gitopstest.PushArtifact(t, reg, "fleet/app", "v2.0.0", appArtifact(ns, "two", false))

	cs := clientset(t)
	dockerConfig := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host(), base64.StdEncoding.EncodeToString([]byte("puller:registry-secret")))
	regcred := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerConfig)}}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, regcred, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "app from an OCI artifact", Files: map[string]string{
		"clusters/prod/app.yaml": fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: app, namespace: %[1]s}
spec:
  interval: 5m
  url: %[2]s/fleet/app
  insecure: true
  secretRef: {name: regcred}
  ref: {semver: "1.x"}
  layerSelector: {mediaType: application/vnd.cncf.flux.content.v1.tar+gzip, operation: extract}
  ignore: "*.md"
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: %[1]s}
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef: {kind: OCIRepository, name: app}
`, ns, reg.URL())}})

	conf := bootstrapRoot(t, ns, repo.HTTPURL(), "./clusters/prod", "oci")
	r := newReconciler(t, conf, reconcile.Options{})

	version := func(name string) string {
		t.Helper()
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["version"]
	}
	appSource := func(s reconcile.Status) reconcile.SourceStatus {
		t.Helper()
		for _, src := range s.Sources {
			if src.Name == "app" {
				return src
			}
		}
		t.Fatalf("no source app in %+v", s.Sources)
		return reconcile.SourceStatus{}
	}

	s := run(t, r)
	if !s.Compliant() {
		t.Fatalf("first run not compliant: %s", s)
	}
	if got := version("app") + " " + version("extra"); got != "1 1" {
		t.Errorf("after v1.0.0: app and extra versions %q, want \"1 1\"", got)
	}
	if src := appSource(s); src.Revision != "v1.0.0@"+v1 || src.DeclaredBy != "cluster" || !src.Ready {
		t.Errorf("source app: %+v, want revision v1.0.0@%s declared by cluster", src, v1)
	}
	if u := unit(t, s, "app"); u.Objects != 2 || u.LastAppliedRevision != "v1.0.0@"+v1 {
		t.Errorf("unit app: %+v", u)
	}

	// A new tag in range: applied, and what left the artifact pruned.
	v11 := gitopstest.PushArtifact(t, reg, "fleet/app", "v1.1.0", appArtifact(ns, "1.1", false))
	s = run(t, r)
	if !s.Compliant() {
		t.Fatalf("after v1.1.0 not compliant: %s", s)
	}
	if got := version("app") + " " + version("extra"); got != "1.1 <none>" {
		t.Errorf("after v1.1.0: app and extra %q, want \"1.1 <none>\" (extra pruned)", got)
	}
	if u := unit(t, s, "app"); u.LastAppliedRevision != "v1.1.0@"+v11 || u.Objects != 1 {
		t.Errorf("unit app after v1.1.0: %+v", u)
	}

	// A hostile artifact in range: the fetch fails, nothing is pruned.
	var evil bytes.Buffer
	zw := gzip.NewWriter(&evil)
	tw := tar.NewWriter(zw)
	body := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: escaped}\n"
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "../../escape.yaml", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	_ = zw.Close()
	if _, err := reg.PushArtifact(ctx, "fleet/app", "v1.2.0", chartrepo.Layer{MediaType: chartrepo.FluxContentMediaType, Data: evil.Bytes()}); err != nil {
		t.Fatal(err)
	}
	s = run(t, r)
	u := unit(t, s, "app")
	if u.Phase == reconcile.PhaseReady || !strings.Contains(u.Message, "leaves the artifact") {
		t.Errorf("unit app after a hostile artifact: %+v, want NotReady saying the entry leaves the artifact", u)
	}
	if src := appSource(s); src.Ready || !strings.Contains(src.Message, "leaves the artifact") {
		t.Errorf("source app after a hostile artifact: %+v", src)
	}
	if got := version("app"); got != "1.1" {
		t.Errorf("after a failed fetch app is %q, want 1.1 kept", got)
	}

	// Offline: the same configuration renders from the registry, with the
	// credentials Secret standing in for the cluster's.
	secretObj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(regcred)
	if err != nil {
		t.Fatal(err)
	}
	sec := &unstructured.Unstructured{Object: secretObj}
	sec.SetAPIVersion("v1")
	sec.SetKind("Secret")
	gitopstest.PushArtifact(t, reg, "fleet/app", "v1.2.0", appArtifact(ns, "1.2", true)) // the tag fixed
	rendering, err := reconcile.Render(ctx, conf, reconcile.RenderOptions{Objects: []*unstructured.Unstructured{sec}})
	if err != nil {
		t.Fatal(err)
	}
	ru, ok := rendering.Unit("app")
	if !ok || ru.Err != nil || len(ru.Objects) != 2 || !strings.HasPrefix(ru.Revision, "v1.2.0@sha256:") {
		t.Fatalf("rendered unit app: %+v", ru)
	}
}
