package reconcile_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// Render a Flux repository at two commits with no cluster, and say what the
// second changes: the Kustomization in clusters/prod is followed, and the
// web Deployment's replica count changed.
func ExampleRender() {
	ctx := context.Background()
	git, err := gitserver.Start(ctx, gitserver.Options{}) // a Git server on 127.0.0.1
	if err != nil {
		fmt.Println(err)
		return
	}
	defer git.Close()
	repo, err := git.CreateRepo(ctx, "fleet")
	if err != nil {
		fmt.Println(err)
		return
	}
	deployment := func(replicas int) string {
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"+
			"spec: {replicas: %d, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, "+
			"spec: {containers: [{name: web, image: nginx}]}}}\n", replicas)
	}
	base, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{
		"clusters/prod/apps.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n" +
			"metadata: {name: apps, namespace: flux-system}\n" +
			"spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}\n",
		"apps/web.yaml": deployment(2),
	}})
	head, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"apps/web.yaml": deployment(3)}})

	conf, err := reconcile.LoadFlux(ctx, []byte(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: `+repo.HTTPURL()+`, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m, path: ./clusters/prod, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
`), reconcile.FluxOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	at := func(commit string) (*reconcile.Rendering, error) {
		return reconcile.Render(ctx, conf, reconcile.RenderOptions{Refs: map[string]source.Ref{"flux-system": {Commit: commit}}})
	}
	old, err := at(base)
	if err != nil {
		fmt.Println(err)
		return
	}
	niu, err := at(head)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range niu.Units {
		fmt.Printf("%s (declared by %q): %d object(s)\n", u.Name, u.DeclaredBy, len(u.Objects))
	}
	_ = reconcile.DiffRenderings(old, niu).WriteText(os.Stdout)
	// Output:
	// flux-system (declared by ""): 0 object(s)
	// apps (declared by "flux-system"): 1 object(s)
	// apps (changed)
	//   ~ apps/Deployment/shop/web
	//       spec.replicas
}
