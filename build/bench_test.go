package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// writeOverlay1000 writes a base of n objects (Deployments, Services and
// ConfigMaps in files of 10) and an overlay that patches, renames and
// relabels them, like a large real unit.
func writeOverlay1000(b testing.TB, dir string, n int) {
	files := map[string]string{}
	var res []string
	for f := 0; f < n/10; f++ {
		var docs []string
		for i := 0; i < 10; i++ {
			id := f*10 + i
			switch id % 3 {
			case 0:
				docs = append(docs, deployment(fmt.Sprintf("app-%d", id), 1))
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
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKustomize1000 builds a 1,000-object overlay through the confined
// filesystem (the Kustomize function, including decoding, validation and
// sorting).
func BenchmarkKustomize1000(b *testing.B) {
	dir := b.TempDir()
	writeOverlay1000(b, dir, 1000)
	b.ReportAllocs()
	for b.Loop() {
		objs, err := Kustomize(b.Context(), dir, "overlay", KustomizeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != 1000 {
			b.Fatalf("%d objects", len(objs))
		}
	}
}

// BenchmarkKustomize1000MemCopy is the alternative design for comparison:
// copy the artifact into kustomize's in-memory filesystem, then run krusty
// on it (no validation, conversion or sorting).
func BenchmarkKustomize1000MemCopy(b *testing.B) {
	dir := b.TempDir()
	writeOverlay1000(b, dir, 1000)
	b.ReportAllocs()
	for b.Loop() {
		mem := filesys.MakeFsInMemory()
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			return mem.WriteFile("/artifact/"+filepath.ToSlash(rel), data)
		})
		if err != nil {
			b.Fatal(err)
		}
		k := krusty.MakeKustomizer(&krusty.Options{LoadRestrictions: types.LoadRestrictionsNone, PluginConfig: types.DisabledPluginConfig()})
		rm, err := k.Run(mem, "/artifact/overlay")
		if err != nil {
			b.Fatal(err)
		}
		if rm.Size() != 1000 {
			b.Fatalf("%d objects", rm.Size())
		}
	}
}

// BenchmarkKustomize1000CacheHit measures a cache hit: a deep copy of the
// 1,000 objects.
func BenchmarkKustomize1000CacheHit(b *testing.B) {
	dir := b.TempDir()
	writeOverlay1000(b, dir, 1000)
	opts := KustomizeOptions{Cache: NewCache(1), ArtifactDigest: "sha256:bench"}
	if _, err := Kustomize(b.Context(), dir, "overlay", opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Kustomize(b.Context(), dir, "overlay", opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKustomizeParallel8 builds 8 different 100-object units, serially
// and from 8 goroutines.
func BenchmarkKustomizeParallel8(b *testing.B) {
	dirs := make([]string, 8)
	for i := range dirs {
		dirs[i] = b.TempDir()
		writeOverlay1000(b, dirs[i], 100)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			for _, d := range dirs {
				if _, err := Kustomize(b.Context(), d, "overlay", KustomizeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for _, d := range dirs {
				wg.Go(func() {
					if _, err := Kustomize(b.Context(), d, "overlay", KustomizeOptions{}); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		}
	})
}

// BenchmarkKustomizeRefuseManyObjects measures the refusal of 20,000 tiny
// objects in one List (the whole document is parsed once, kustomize never
// transforms them).
func BenchmarkKustomizeRefuseManyObjects(b *testing.B) {
	var s strings.Builder
	s.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range 20000 {
		fmt.Fprintf(&s, "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c%d}}\n", i)
	}
	dir := writeTree(b, map[string]string{"app/list.yaml": s.String()})
	for b.Loop() {
		if _, err := Kustomize(b.Context(), dir, "app", KustomizeOptions{}); !errors.Is(err, ErrTooLarge) {
			b.Fatal(err)
		}
	}
}
