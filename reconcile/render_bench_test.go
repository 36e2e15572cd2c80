package reconcile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// renderBenchRepo is flux-benchmark's workload as a Flux repository: units
// Kustomizations in clusters/bench (one file), each of a folder with a
// Deployment scaled to 0, a ServiceAccount, a Service and an Ingress.
func renderBenchRepo(units int) map[string]string {
	files := map[string]string{}
	var ks strings.Builder
	for i := range units {
		name := fmt.Sprintf("u-%04d", i)
		fmt.Fprintf(&ks, "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: %s, namespace: bench}\n"+
			"spec: {interval: 10m, path: ./units/%s, prune: true, targetNamespace: bench, sourceRef: {kind: GitRepository, name: bench}}\n", name, name)
		files["units/"+name+"/app.yaml"] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 0
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec: {serviceAccountName: %[1]s, containers: [{name: app, image: ghcr.io/stefanprodan/podinfo:6.7.0}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec: {selector: {app: %[1]s}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %[1]s}
spec:
  rules:
    - host: %[1]s.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %[1]s, port: {number: 80}}}}]}
`, name)
	}
	files["clusters/bench/units.yaml"] = ks.String()
	return files
}

const renderBenchRoot = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: bench, namespace: bench}
spec: {interval: 1m, url: %s, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: bench, namespace: bench}
spec: {interval: 10m, path: ./clusters/bench, prune: true, sourceRef: {kind: GitRepository, name: bench}}
`

// BenchmarkRender renders the 1,000-unit repository offline: the whole
// tree in one Render (the root's build declares the 1,000 Kustomizations),
// against the same renders one unit at a time, as a per-unit tool (flux
// build ks, flux-local) does: each a Render of a configuration of that one
// Kustomization, with a shared clone cache ("one-at-a-time") or a fresh
// clone each ("one-at-a-time-fresh-clone", measured on the first 100 units
// and reported per 1,000).
//
//	go test ./reconcile -run '^$' -bench BenchmarkRender -benchtime 3x
func BenchmarkRender(b *testing.B) {
	const units = 1000
	srv := gitopstest.StartGitServer(b, gitserver.Options{})
	repo := gitopstest.NewGitRepo(b, srv, "render-bench")
	gitopstest.GitCommit(b, repo, gitserver.CommitOptions{Files: renderBenchRepo(units), Message: "1,000 units"})
	root := fmt.Sprintf(renderBenchRoot, repo.HTTPURL())
	conf, err := reconcile.LoadFlux(b.Context(), []byte(root), reconcile.FluxOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cache, err := source.NewCache(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	check := func(r *reconcile.Rendering, wantUnits, wantObjects int) {
		b.Helper()
		objects := 0
		for _, u := range r.Units {
			if u.Err != nil {
				b.Fatalf("unit %s: %v", u.Name, u.Err)
			}
			objects += len(u.Objects)
		}
		if len(r.Units) != wantUnits || objects != wantObjects {
			b.Fatalf("rendered %d units and %d objects, want %d and %d", len(r.Units), objects, wantUnits, wantObjects)
		}
	}
	b.Run("whole-tree", func(b *testing.B) {
		for b.Loop() {
			r, err := reconcile.Render(b.Context(), conf, reconcile.RenderOptions{SourceCache: cache})
			if err != nil {
				b.Fatal(err)
			}
			check(r, units+1, 4*units)
		}
		b.ReportMetric(float64(units), "units/op")
	})
	one := func(i int) reconcile.Configuration {
		name := fmt.Sprintf("u-%04d", i)
		c, err := reconcile.LoadFlux(b.Context(), []byte(strings.Replace(root, "path: ./clusters/bench", "path: ./units/"+name, 1)),
			reconcile.FluxOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Run("one-at-a-time", func(b *testing.B) {
		for b.Loop() {
			for i := range units {
				r, err := reconcile.Render(b.Context(), one(i), reconcile.RenderOptions{SourceCache: cache})
				if err != nil {
					b.Fatal(err)
				}
				check(r, 1, 4)
			}
		}
		b.ReportMetric(float64(units), "units/op")
	})
	b.Run("one-at-a-time-fresh-clone", func(b *testing.B) {
		const sample = 100
		for b.Loop() {
			for i := range sample {
				r, err := reconcile.Render(b.Context(), one(i), reconcile.RenderOptions{})
				if err != nil {
					b.Fatal(err)
				}
				check(r, 1, 4)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)*units/sample, "s-per-1000-units")
	})
}
