package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/source"
)

// kustomizeCLIVersion is the kustomize CLI whose go.mod requires
// sigs.k8s.io/kustomize/api v0.21.2, the version gitopskit builds with.
const kustomizeCLIVersion = "v5.8.2"

const (
	scKustomize = "6. kustomize build, 1,000-object overlay"
)

const (
	kzInProcess = "gitopskit build.Kustomize"
	kzCacheHit  = "gitopskit build.Kustomize, cache hit"
	kzCLI       = "kustomize build (CLI)"
	kzKubectl   = "kubectl kustomize"
)

// writeOverlay writes the overlay of build's own benchmark: a base of n
// objects (Deployments, Services, ConfigMaps in files of 10) and an overlay
// that sets a namespace, a name prefix, labels, an image tag and a JSON 6902
// patch on every Deployment.
func writeOverlay(dir string, n int) error {
	files := map[string]string{}
	var res []string
	for f := 0; f < n/10; f++ {
		var docs []string
		for i := range 10 {
			id := f*10 + i
			switch id % 3 {
			case 0:
				docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%d}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-%d}}
  template:
    metadata: {labels: {app: app-%d}}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        ports: [{containerPort: 80}]
`, id, id, id))
			case 1:
				docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d}\nspec:\n  selector: {app: app-%d}\n  ports: [{port: 80}]\n", id, id-1))
			default:
				docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {key: value-%d}\n", id, id))
			}
		}
		name := fmt.Sprintf("res-%03d.yaml", f)
		files["base/"+name] = strings.Join(docs, "---\n")
		res = append(res, name)
	}
	files["base/kustomization.yaml"] = "resources:\n- " + strings.Join(res, "\n- ") + "\n"
	files["overlay/kustomization.yaml"] = `resources: [../base]
namespace: prod
namePrefix: prod-
labels: [{pairs: {env: prod}}]
images: [{name: nginx, newTag: "1.27"}]
patches:
- target: {kind: Deployment}
  patch: |
    - op: replace
      path: /spec/replicas
      value: 3
`
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// countDocs counts the objects in a YAML stream.
func countDocs(y string) int {
	n := 0
	for _, line := range strings.Split(y, "\n") {
		if strings.HasPrefix(line, "kind: ") {
			n++
		}
	}
	return n
}

func (b *bench) kustomizeScenario(ctx context.Context) error {
	const n = 1000
	dir := filepath.Join(b.work, "kustomize")
	if err := writeOverlay(dir, n); err != nil {
		return err
	}
	digest, _, err := source.DirDigest(dir)
	if err != nil {
		return err
	}
	cache := build.NewCache(0)
	cliBin, err := filepath.Abs(b.cfg.kustBin)
	if err != nil {
		return err
	}
	b.res.notes[kzInProcess] = "build.Kustomize(artifact, \"overlay\", KustomizeOptions{}): krusty in process, confined FS, decode + validate + sort"
	b.res.notes[kzCacheHit] = "the same with KustomizeOptions{Cache, ArtifactDigest} after one build: a deep copy of the cached objects"
	b.res.notes[kzCLI] = "`kustomize build overlay` (" + kustomizeCLIVersion + ", kustomize/api v0.21.2), built from the module proxy into bench/bin"
	b.res.notes[kzKubectl] = "`kubectl kustomize overlay` with " + toolVersion(ctx, b.cfg.kubectl, "version", "--client")

	type variant struct {
		name string
		run  func() (sample, error)
	}
	inProc := func(useCache bool) func() (sample, error) {
		return func() (sample, error) {
			opts := build.KustomizeOptions{}
			if useCache {
				opts.Cache, opts.ArtifactDigest = cache, digest
			}
			var got int
			s, err := measureInProcess(func() error {
				objs, err := build.Kustomize(ctx, dir, "overlay", opts)
				got = len(objs)
				return err
			})
			if err == nil && got != n {
				err = fmt.Errorf("build.Kustomize gave %d objects, want %d", got, n)
			}
			return s, err
		}
	}
	external := func(bin string, args ...string) func() (sample, error) {
		return func() (sample, error) {
			res, err := runCmd(ctx, dir, nil, bin, args...)
			if err != nil {
				return sample{}, err
			}
			if got := countDocs(res.stdout); got != n {
				return sample{}, fmt.Errorf("%s gave %d objects, want %d", bin, got, n)
			}
			return sample{dur: res.dur, peakMem: res.maxRSS, extProc: true}, nil
		}
	}
	variants := []variant{
		{kzInProcess, inProc(false)},
		{kzCLI, external(cliBin, "build", "overlay")},
		{kzKubectl, external(b.cfg.kubectl, "kustomize", "overlay")},
	}
	// Fill the cache once (not measured).
	if _, err := build.Kustomize(ctx, dir, "overlay", build.KustomizeOptions{Cache: cache, ArtifactDigest: digest}); err != nil {
		return err
	}
	variants = append(variants, variant{kzCacheHit, inProc(true)})
	b.res.order("kustomize", kzInProcess, kzCacheHit, kzCLI, kzKubectl)
	for r := range b.cfg.warmup + b.cfg.reps {
		keep := r >= b.cfg.warmup
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			s, err := v.run()
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			tag := "warm-up"
			if keep {
				tag = "kept"
				b.res.add(scKustomize, v.name, n, s)
			}
			log.Printf("%-40s %8.3fs (%s)", v.name, s.dur.Seconds(), tag)
		}
	}
	if st := cache.Stats(); st.Hits == 0 {
		return fmt.Errorf("build cache: no hits (%+v)", st)
	}
	return nil
}
