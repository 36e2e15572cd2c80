package reconcile_test

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/reconcile"
)

// The seed scenario in Flux's format: a repository and three Kustomizations
// that depend on each other.
func ExampleLoadFlux() {
	const config = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: company
  namespace: cluster-config
spec:
  interval: 1m
  url: https://git.example.com/company/fleet.git
  ref:
    branch: main
  secretRef:
    name: git-credentials
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra
  namespace: cluster-config
spec:
  interval: 10m
  path: ./infra
  prune: true
  sourceRef:
    kind: GitRepository
    name: company
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps-dev
  namespace: cluster-config
spec:
  interval: 10m
  path: ./apps/dev
  prune: true
  wait: true
  timeout: 2m
  dependsOn:
    - name: infra
  postBuild:
    substitute:
      replicas: "1"
  sourceRef:
    kind: GitRepository
    name: company
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps-prd
  namespace: cluster-config
spec:
  interval: 10m
  path: ./apps/prd
  prune: true
  wait: true
  dependsOn:
    - name: apps-dev
  sourceRef:
    kind: GitRepository
    name: company
`
	conf, err := reconcile.LoadFlux(context.Background(), []byte(config), reconcile.FluxOptions{
		// A program reads the Secret from the cluster (client-go) or from
		// files; see examples/gitops-sync.
		SecretData: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			return map[string][]byte{"username": []byte("bot"), "password": []byte("s3cret")}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("configuration %s, records in namespace %s\n", conf.Name, conf.Namespace)
	for _, s := range conf.Sources {
		fmt.Printf("source %s: %s, %s, auth %s\n", s.Name, s.URL, s.Ref, s.Auth)
	}
	for _, u := range conf.Units {
		deps := strings.Join(u.DependsOn, ",")
		if deps == "" {
			deps = "-"
		}
		fmt.Printf("unit %s: path %s, every %s, timeout %s, prune %v, wait %v, dependsOn %s, vars %v\n",
			u.Name, u.Path, u.Interval, u.Timeout, u.Prune, u.Wait, deps, u.Build.Substitute)
	}
	// Output:
	// configuration cluster-config, records in namespace cluster-config
	// source company: https://git.example.com/company/fleet.git, branch "main", auth [basic]
	// unit infra: path infra, every 1m0s, timeout 10m0s, prune true, wait false, dependsOn -, vars map[]
	// unit apps-dev: path apps/dev, every 1m0s, timeout 2m0s, prune true, wait true, dependsOn infra, vars map[replicas:1]
	// unit apps-prd: path apps/prd, every 1m0s, timeout 10m0s, prune true, wait true, dependsOn apps-dev, vars map[]
}

// Fields LoadFlux does not support are errors that say where they are.
func ExampleLoadFlux_unsupportedField() {
	const config = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: cluster-config}
spec: {interval: 1m, url: "https://git.example.com/fleet.git"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: cluster-config}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: fleet}
  kubeConfig:
    secretRef: {name: prod-kubeconfig}
`
	_, err := reconcile.LoadFlux(context.Background(), []byte(config), reconcile.FluxOptions{})
	fmt.Println(err)
	// Output:
	// flux configuration: document 2 (line 6, Kustomization cluster-config/apps): spec.kubeConfig: unsupported field (a Flux field gitopskit does not support; a configuration applies to the cluster of the Reconciler's rest.Config)
}

// A platform and a tenant in one configuration: the tenant's objects are in
// its own namespace, act as its service account and use a chart from a
// Helm repository.
func ExampleLoadFlux_tenant() {
	const config = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: "https://git.example.com/platform.git"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: flux-system}
spec:
  interval: 10m
  path: ./infra
  sourceRef: {kind: GitRepository, name: flux-system}
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: HelmRepository
metadata: {name: podinfo, namespace: team-a}
spec: {interval: 1h, url: "https://charts.example.com/podinfo"}
---
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata: {name: podinfo, namespace: team-a}
spec:
  interval: 5m
  targetNamespace: web
  chart:
    spec:
      chart: podinfo
      version: 6.x
      sourceRef: {kind: HelmRepository, name: podinfo}
  values:
    replicaCount: 2
`
	conf, err := reconcile.LoadFlux(context.Background(), []byte(config), reconcile.FluxOptions{
		NoCrossNamespaceRefs:  true,
		DefaultServiceAccount: "deployer",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("configuration %s, records in namespace %s\n", conf.Name, conf.Namespace)
	for _, u := range conf.Units {
		fmt.Printf("unit %s as %s/%s", u.Name, u.ServiceAccountNamespace, u.ServiceAccountName)
		if h := u.Helm; h != nil {
			fmt.Printf(": release %s/%s of chart %s %s from %s, values %v", h.Namespace, h.Name, h.Chart.Name, h.Chart.Version, h.Chart.RepoURL, h.Values)
		}
		fmt.Println()
	}
	// Output:
	// configuration flux-system, records in namespace flux-system
	// unit infra as flux-system/deployer
	// unit team-a-podinfo as team-a/deployer: release web/web-podinfo of chart podinfo 6.x from https://charts.example.com/podinfo, values map[replicaCount:2]
}

// A unit's build output holds Flux objects, which are configuration, and
// objects to apply.
func ExampleFluxObjects() {
	var objs []*unstructured.Unstructured
	for _, gvk := range []string{"v1/ConfigMap", "kustomize.toolkit.fluxcd.io/v1/Kustomization", "apps/v1/Deployment",
		"helm.toolkit.fluxcd.io/v2/HelmRelease"} {
		i := strings.LastIndexByte(gvk, '/')
		o := &unstructured.Unstructured{}
		o.SetAPIVersion(gvk[:i])
		o.SetKind(gvk[i+1:])
		objs = append(objs, o)
	}
	flux, rest := reconcile.FluxObjects(objs)
	for _, o := range flux {
		fmt.Println("configuration:", o.GetKind())
	}
	for _, o := range rest {
		fmt.Println("to apply:", o.GetKind())
	}
	// Output:
	// configuration: Kustomization
	// configuration: HelmRelease
	// to apply: ConfigMap
	// to apply: Deployment
}
