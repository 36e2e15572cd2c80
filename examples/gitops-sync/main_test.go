package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// shared is a bare API server: the test applies ConfigMaps, which need no
// controllers to be ready.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

func TestSync(t *testing.T) {
	cl := shared.Get(t)
	ctx := t.Context()
	srv := gitopstest.StartGitServer(t, gitserver.Options{Username: "bot", Password: "s3cret"})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"apps/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: sync-example\ndata:\n  greeting: ${greeting}\n",
	}})
	cs := kubernetes.NewForConfigOrDie(cl.Config)
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sync-example"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Secrets("sync-example").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git"},
		StringData: map[string]string{"username": "bot", "password": "s3cret"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "flux.yaml")
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config, fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: sync-example}
spec: {interval: 1m, url: %s, ref: {branch: main}, secretRef: {name: git}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: sync-example}
spec:
  interval: 10m
  path: ./apps
  prune: true
  postBuild: {substitute: {greeting: hello}}
  sourceRef: {kind: GitRepository, name: fleet}
`, repo.HTTPURL()))
	write(filepath.Join(dir, "secrets/git/username"), "bot")
	write(filepath.Join(dir, "secrets/git/password"), "s3cret")

	// The Secret from the cluster, then from files.
	for _, extra := range [][]string{nil, {"-secrets-dir", filepath.Join(dir, "secrets")}} {
		var stdout, stderr bytes.Buffer
		err := run(ctx, append([]string{"-kubeconfig", cl.KubeconfigPath(), "-config", config}, extra...), &stdout, &stderr)
		t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		if err != nil || !strings.Contains(stdout.String(), "compliant: 1/1 units ready") {
			t.Errorf("%v: %v", extra, err)
		}
	}
	cm, err := cs.CoreV1().ConfigMaps("sync-example").Get(ctx, "app", metav1.GetOptions{})
	if err != nil || cm.Data["greeting"] != "hello" {
		t.Errorf("ConfigMap: %v, %v", cm, err)
	}
}
