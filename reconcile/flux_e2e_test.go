package reconcile_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// fluxE2ERepo is a small repository of two units with namespaces of its own
// (the seed scenario's namespaces belong to TestSeedScenario's
// configuration, and objects are owned per unit).
var fluxE2ERepo = map[string]string{
	"base/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-e2e\n",
	"base/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: flux-e2e\n" +
		"data:\n  greeting: ${greeting}\n  region: ${region:=nowhere}\n",
	"app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\n",
	"app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.0
`,
}

// fluxE2EConfig is the Flux configuration for it, in the configuration
// namespace flux-e2e-config, from a Git server that wants a password.
const fluxE2EConfig = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: e2e
  namespace: flux-e2e-config
spec:
  interval: 1m
  url: %s
  ref:
    branch: main
  secretRef:
    name: git-auth
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: base
  namespace: flux-e2e-config
spec:
  interval: 10m
  path: ./base
  prune: true
  sourceRef:
    kind: GitRepository
    name: e2e
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: optional-vars
        optional: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: app
  namespace: flux-e2e-config
spec:
  interval: 10m
  path: ./app
  prune: true
  wait: true
  timeout: 2m
  targetNamespace: flux-e2e
  namePrefix: e2e-
  commonMetadata:
    labels:
      team: platform
  images:
    - name: nginx
      newName: registry.k8s.io/pause
      newTag: "3.10"
  dependsOn:
    - name: base
  sourceRef:
    kind: GitRepository
    name: e2e
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
    substitute:
      replicas: "2"
`

// clusterLookups reads Secrets and ConfigMaps from the cluster, as a
// program embedding LoadFlux would.
func clusterLookups(cs kubernetes.Interface) reconcile.FluxOptions {
	return reconcile.FluxOptions{
		SecretData: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			s, err := cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err // a NotFound API error is understood
			}
			return s.Data, nil
		},
	}
}

// TestLoadFluxReconcile loads a Flux configuration whose Secret and
// ConfigMap live in the cluster and reconciles it to compliance.
func TestLoadFluxReconcile(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	srv := gitopstest.StartGitServer(t, gitserver.Options{Username: "bot", Password: "s3cret"})
	repo := gitopstest.NewGitRepo(t, srv, "flux-e2e")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: fluxE2ERepo, Message: "two units"})

	cs := clientset(t)
	for _, obj := range []func() error{
		func() error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-e2e-config"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Secrets("flux-e2e-config").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git-auth"},
				StringData: map[string]string{"username": "bot", "password": "s3cret"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ConfigMaps("flux-e2e-config").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-vars"},
				Data: map[string]string{"greeting": "hello", "replicas": "1"}}, metav1.CreateOptions{})
			return err
		},
	} {
		if err := obj(); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}

	conf, err := reconcile.LoadFlux(ctx, []byte(fmt.Sprintf(fluxE2EConfig, repo.HTTPURL())), func() reconcile.FluxOptions {
		o := clusterLookups(cs)
		o.Name = "flux-e2e"
		return o
	}())
	if err != nil {
		t.Fatal(err)
	}
	if conf.Sources[0].Auth == nil || conf.Sources[0].Auth.Password != "s3cret" {
		t.Fatalf("secretRef not resolved: %v", conf.Sources[0].Auth)
	}
	r := newReconciler(t, conf, reconcile.Options{})
	s := run(t, r)
	if !s.Compliant() {
		t.Fatalf("not compliant: %s", s)
	}

	cm, err := cs.CoreV1().ConfigMaps("flux-e2e").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["greeting"] != "hello" || cm.Data["region"] != "nowhere" {
		t.Errorf("settings: %v, want the greeting from the cluster's ConfigMap and the default region", cm.Data)
	}
	d, err := cs.AppsV1().Deployments("flux-e2e").Get(ctx, "e2e-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Status.ReadyReplicas != 2 || d.Labels["team"] != "platform" ||
		d.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/pause:3.10" {
		t.Errorf("deployment: replicas %d (%d ready), labels %v, image %s; want 2 ready (inline substitute wins), team=platform, pause:3.10",
			*d.Spec.Replicas, d.Status.ReadyReplicas, d.Labels, d.Spec.Template.Spec.Containers[0].Image)
	}
	if app := unit(t, s, "app"); app.DependsOn[0] != "base" || app.LastAppliedRevision == "" {
		t.Errorf("app status %+v", app)
	}

	// The loop's interval is the source's, not the Kustomization's.
	for _, u := range conf.Units {
		if u.Interval != time.Minute {
			t.Errorf("unit %s interval %s, want the source's 1m", u.Name, u.Interval)
		}
	}
}
