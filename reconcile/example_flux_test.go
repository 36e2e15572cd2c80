package reconcile_test

import (
	"context"
	"fmt"
	"strings"

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
  decryption:
    provider: sops
`
	_, err := reconcile.LoadFlux(context.Background(), []byte(config), reconcile.FluxOptions{})
	fmt.Println(err)
	// Output:
	// flux configuration: document 2 (line 6, Kustomization cluster-config/apps): spec.decryption: unsupported field (a Flux field gitopskit does not support; SOPS decryption is not supported; keep Secrets out of Git or use a secrets operator)
}
