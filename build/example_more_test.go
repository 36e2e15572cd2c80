package build_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/build"
)

// The default bounds on what one build reads and produces, and a tighter
// limit for untrusted repositories.
func ExampleDefaultLimits() {
	l := build.DefaultLimits()
	fmt.Println(l.MaxFileSize>>20, "MiB per file,", l.MaxTotalSize>>20, "MiB per build,", l.MaxObjects, "objects")

	artifact := writeFiles(map[string]string{
		"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
	})
	defer os.RemoveAll(artifact)
	strict := build.DefaultLimits()
	strict.MaxObjects = 1
	_, err := build.Kustomize(context.Background(), artifact, "app", build.KustomizeOptions{Limits: strict})
	var tooMany *build.TooManyObjectsError
	fmt.Println(errors.As(err, &tooMany), errors.Is(err, build.ErrTooLarge))
	// Output:
	// 16 MiB per file, 256 MiB per build, 10000 objects
	// true true
}

// One cache per program, shared by every unit's builds; results are keyed by
// artifact digest, path and options.
func ExampleNewCache() {
	artifact := writeFiles(map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
	})
	defer os.RemoveAll(artifact)

	cache := build.NewCache(0) // DefaultCacheEntries
	for _, digest := range []string{"sha256:aaaa", "sha256:bbbb", "sha256:aaaa"} {
		opts := build.KustomizeOptions{Cache: cache, ArtifactDigest: digest}
		if _, err := build.Kustomize(context.Background(), artifact, "app", opts); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Printf("%+v\n", cache.Stats())
	// Output: {Hits:1 Misses:2 Entries:2}
}

// Cache counters, e.g. to export as metrics.
func ExampleCache_Stats() {
	artifact := writeFiles(map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
	})
	defer os.RemoveAll(artifact)

	cache := build.NewCache(16)
	opts := build.KustomizeOptions{Cache: cache, ArtifactDigest: "sha256:0123abcd"}
	build.Kustomize(context.Background(), artifact, "app", opts)
	build.Kustomize(context.Background(), artifact, "app", opts)
	s := cache.Stats()
	fmt.Println("hits:", s.Hits, "misses:", s.Misses, "entries:", s.Entries)
	// Output: hits: 1 misses: 1 entries: 1
}

// Drop every cached result, e.g. after changing what builds depend on
// outside the artifact; the next build of each unit runs again.
func ExampleCache_Purge() {
	artifact := writeFiles(map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
	})
	defer os.RemoveAll(artifact)

	cache := build.NewCache(16)
	opts := build.KustomizeOptions{Cache: cache, ArtifactDigest: "sha256:0123abcd"}
	build.Kustomize(context.Background(), artifact, "app", opts)

	cache.Purge()
	fmt.Println("entries:", cache.Stats().Entries)
	build.Kustomize(context.Background(), artifact, "app", opts)
	fmt.Println("misses:", cache.Stats().Misses)
	// Output:
	// entries: 0
	// misses: 2
}

// Kustomize's images and patches applied to objects that come from no
// kustomization, such as the manifests Helm rendered (Flux's post
// renderers).
func ExampleTransform() {
	manifests := []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        image: example.com/app:1.0
`)
	out, err := build.Transform(context.Background(), manifests, build.TransformOptions{
		Images:  []build.Image{{Name: "example.com/app", NewTag: "1.1"}},
		Patches: []build.Patch{{Patch: "- op: add\n  path: /spec/replicas\n  value: 3\n", Target: &build.Selector{Kind: "Deployment"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// apiVersion: apps/v1
	// kind: Deployment
	// metadata:
	//   name: web
	// spec:
	//   replicas: 3
	//   template:
	//     spec:
	//       containers:
	//       - image: example.com/app:1.1
	//         name: app
}

// A selector as kustomize and Flux write them (in patches, or in a
// HelmRelease's drift ignore rules): kinds and names are anchored regular
// expressions, labels a label selector.
func ExampleSelector_Compile() {
	m, err := build.Selector{Kind: "Deployment|StatefulSet", LabelSelector: "autoscaled=true"}.Compile()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range []struct{ kind, autoscaled string }{{"Deployment", "true"}, {"StatefulSet", "false"}, {"DaemonSet", "true"}} {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion("apps/v1")
		obj.SetKind(o.kind)
		obj.SetName("web")
		obj.SetLabels(map[string]string{"autoscaled": o.autoscaled})
		fmt.Println(o.kind, o.autoscaled, m.Matches(obj))
	}
	// Output:
	// Deployment true true
	// StatefulSet false false
	// DaemonSet true false
}
