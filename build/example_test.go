package build_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/build"
)

// writeFiles writes files under a new temporary directory.
func writeFiles(files map[string]string) string {
	dir, err := os.MkdirTemp("", "build-example-")
	if err != nil {
		panic(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	return dir
}

func ExampleKustomize() {
	artifact := writeFiles(map[string]string{
		"apps/base/kustomization.yaml": "resources: [app.yaml]\n",
		"apps/base/app.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  cluster: ${cluster}
  replicas: "${replicas:=1}"
`,
		"apps/prod/kustomization.yaml": "resources: [../base]\nnamespace: prod\n",
	})
	defer os.RemoveAll(artifact)

	objs, err := build.Kustomize(context.Background(), artifact, "apps/prod", build.KustomizeOptions{
		CommonLabels: map[string]string{"team": "web"},
		Substitute:   map[string]string{"cluster": "eu-1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := build.EncodeYAML(objs)
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: v1
	// data:
	//   cluster: eu-1
	//   replicas: "1"
	// kind: ConfigMap
	// metadata:
	//   labels:
	//     team: web
	//   name: app
	//   namespace: prod
}

func ExampleKustomize_refused() {
	artifact := writeFiles(map[string]string{
		"app/kustomization.yaml": "resources: [../../etc/passwd]\n",
	})
	defer os.RemoveAll(artifact)

	_, err := build.Kustomize(context.Background(), artifact, "app", build.KustomizeOptions{})
	var escape *build.PathEscapeError
	if errors.As(err, &escape) {
		fmt.Println("refused:", escape.Path)
	}
	// Output:
	// refused: ../etc/passwd
}

func ExampleHelmTemplate() {
	chart := writeFiles(map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
		"values.yaml": "message: hi\n",
		"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  message: {{ .Values.message | quote }}
`,
	})
	defer os.RemoveAll(chart)

	objs, err := build.HelmTemplate(context.Background(), chart, build.HelmOptions{
		ReleaseName: "greeting",
		Namespace:   "demo",
		Values:      map[string]any{"message": "hello"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		msg, _, _ := unstructured.NestedString(o.Object, "data", "message")
		fmt.Println(o.GetKind(), o.GetNamespace(), o.GetName(), msg)
	}
	// Output:
	// ConfigMap demo greeting hello
}

func ExampleCache() {
	artifact := writeFiles(map[string]string{
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
	})
	defer os.RemoveAll(artifact)

	cache := build.NewCache(128)
	opts := build.KustomizeOptions{Cache: cache, ArtifactDigest: "sha256:0123abcd"}
	for range 3 {
		if _, err := build.Kustomize(context.Background(), artifact, "app", opts); err != nil {
			fmt.Println(err)
			return
		}
	}
	s := cache.Stats()
	fmt.Println("builds:", s.Misses, "hits:", s.Hits)
	// Output:
	// builds: 1 hits: 2
}

func ExampleGenerateKustomization() {
	artifact := writeFiles(map[string]string{
		"plain/a.yaml":                        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"plain/db/b.yaml":                     "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n",
		"plain/notes.txt":                     "not a manifest",
		"plain/kustomized/kustomization.yaml": "resources: []\n",
	})
	defer os.RemoveAll(artifact)

	k, err := build.GenerateKustomization(artifact, "plain", build.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(k))
	// Output:
	// apiVersion: kustomize.config.k8s.io/v1beta1
	// kind: Kustomization
	// metadata:
	//   name: gitopskit-generated
	// resources:
	// - a.yaml
	// - db/b.yaml
	// - kustomized
}

// EncodeYAML writes objects as one multi-document YAML stream, the same bytes
// for the same objects: handy for golden files and diffs.
func ExampleEncodeYAML() {
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": "apps"},
		"data":     map[string]any{"color": "blue"},
	}}
	out, err := build.EncodeYAML([]*unstructured.Unstructured{cm})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: v1
	// data:
	//   color: blue
	// kind: ConfigMap
	// metadata:
	//   name: settings
	//   namespace: apps
}
