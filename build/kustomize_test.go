package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestKustomizeOverlays(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/base/kustomization.yaml": "resources: [deploy.yaml, svc.yaml]\n",
		"apps/base/deploy.yaml":        deployment("web", 1),
		"apps/base/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
		"apps/dev/kustomization.yaml": `resources: [../base]
namespace: dev
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {replicas: 2}
`,
		"apps/prd/kustomization.yaml": `resources: [../base, ns.yaml]
namespace: prd
replicas: [{name: web, count: 5}]
`,
		"apps/prd/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: prd}\n",
	})
	tests := []struct {
		path     string
		wantKeys []string
		replicas int64
	}{
		{"apps/dev", []string{"core/Service/dev/web", "apps/Deployment/dev/web"}, 2},
		{"./apps/prd/", []string{"core/Namespace//prd", "core/Service/prd/web", "apps/Deployment/prd/web"}, 5},
		{"/apps/base", []string{"core/Service//web", "apps/Deployment//web"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			objs, err := Kustomize(t.Context(), dir, tt.path, KustomizeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(objs); !slices.Equal(got, tt.wantKeys) {
				t.Fatalf("keys = %q, want %q", got, tt.wantKeys)
			}
			d := find(t, objs, tt.wantKeys[len(tt.wantKeys)-1])
			r, _, _ := unstructuredInt(d.Object, "spec", "replicas")
			if r != tt.replicas {
				t.Fatalf("replicas = %d, want %d", r, tt.replicas)
			}
			for _, o := range objs {
				if _, ok := o.GetAnnotations()[originAnnotation]; ok {
					t.Fatalf("%s keeps the origin annotation", o.GetName())
				}
			}
		})
	}
}

func TestKustomizeOptions(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app/kustomization.yaml": "resources: [deploy.yaml, cm.yaml]\n",
		"app/deploy.yaml":        deployment("web", 1),
		"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {k: v}\n",
		"components/monitoring/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [sm.yaml]
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      template:
        metadata:
          annotations: {prometheus.io/scrape: "true"}
`,
		"components/monitoring/sm.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: web}\nspec: {}\n",
	})
	objs, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{
		TargetNamespace:   "team-a",
		NamePrefix:        "a-",
		NameSuffix:        "-v1",
		CommonLabels:      map[string]string{"team": "a"},
		CommonAnnotations: map[string]string{"owner": "platform"},
		Images:            []Image{{Name: "nginx", NewName: "registry.example.com/nginx", NewTag: "1.27"}},
		Components:        []string{"../components/monitoring"},
		Patches: []Patch{
			{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n"},
			{
				Patch:  `[{"op": "add", "path": "/data/extra", "value": "yes"}]`,
				Target: &Selector{Kind: "ConfigMap", Name: "cf.*"},
			},
			{
				Patch:  "- op: replace\n  path: /spec/template/spec/containers/0/name\n  value: main\n",
				Target: &Selector{Group: "apps", Version: "v1", Kind: "Deployment"},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"core/ConfigMap/team-a/a-cfg-v1", "apps/Deployment/team-a/a-web-v1", "monitoring.coreos.com/ServiceMonitor/team-a/a-web-v1"}
	if got := keys(objs); !slices.Equal(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	d := find(t, objs, want[1])
	if r, _, _ := unstructuredInt(d.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas = %d, want 3 (strategic merge patch)", r)
	}
	c, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	ctr := c[0].(map[string]any)
	if ctr["image"] != "registry.example.com/nginx:1.27" || ctr["name"] != "main" {
		t.Errorf("container = %v, want image override and JSON 6902 rename", ctr)
	}
	if d.GetLabels()["team"] != "a" || d.GetAnnotations()["owner"] != "platform" {
		t.Errorf("labels %v annotations %v", d.GetLabels(), d.GetAnnotations())
	}
	sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
	if _, ok := sel["team"]; ok {
		t.Error("CommonLabels must not change selectors")
	}
	ann, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
	if ann["prometheus.io/scrape"] != "true" {
		t.Errorf("component patch not applied: %v", ann)
	}
	cm := find(t, objs, want[0])
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "extra"); v != "yes" {
		t.Errorf("JSON 6902 patch with target not applied: %v", cm.Object["data"])
	}
}

// TestKustomizeIgnoreMissingComponents: a component the artifact lacks
// fails the build, unless IgnoreMissingComponents, which leaves it out and
// keeps the others; a component outside the artifact is refused either way.
func TestKustomizeIgnoreMissingComponents(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app/kustomization.yaml":              "resources: [cm.yaml]\n",
		"app/cm.yaml":                         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
		"components/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [cm.yaml]\n",
		"components/extra/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
	})
	components := []string{"../components/extra", "../components/gone"}
	if _, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{Components: components}); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("a missing component: err = %v, want the build to fail naming it", err)
	}
	objs, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{Components: components, IgnoreMissingComponents: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(objs), []string{"core/ConfigMap//cfg", "core/ConfigMap//extra"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
	_, err = Kustomize(t.Context(), dir, "app", KustomizeOptions{Components: []string{"../../outside"}, IgnoreMissingComponents: true})
	var escape *PathEscapeError
	if !errors.As(err, &escape) {
		t.Errorf("a component outside the artifact: err = %v, want a PathEscapeError", err)
	}
}

func TestKustomizeGenerated(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"plain/a.yaml":                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a2}\n",
		"plain/nested/b.yml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
		"plain/nested/deep/c.yaml":     "apiVersion: v1\nkind: Secret\nmetadata: {name: c}\n",
		"plain/nested/README.md":       "# not yaml\n",
		"plain/empty.yaml":             "# nothing here\n",
		"plain/.hidden/x.yaml":         "not: [valid\n",
		"plain/.sops.yaml":             "creation_rules: []\n",
		"plain/sub/kustomization.yaml": "resources: [d.yaml]\nnamePrefix: sub-\n",
		"plain/sub/d.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
		"plain/sub/ignored.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n",
	})
	gen, err := GenerateKustomization(dir, "plain", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	wantGen := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
metadata:
  name: gitopskit-generated
resources:
- a.yaml
- nested/b.yml
- nested/deep/c.yaml
- sub
`
	if string(gen) != wantGen {
		t.Fatalf("generated:\n%s\nwant:\n%s", gen, wantGen)
	}
	objs, err := Kustomize(t.Context(), dir, "plain", KustomizeOptions{TargetNamespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"core/ConfigMap/ns/a", "core/ConfigMap/ns/a2", "core/ConfigMap/ns/b", "core/ConfigMap/ns/sub-d", "core/Secret/ns/c"}
	if got := keys(objs); !slices.Equal(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "plain", "kustomization.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the generated kustomization was written into the artifact")
	}
	// An empty directory builds to nothing.
	empty := writeTree(t, map[string]string{"e/README.md": "x"})
	objs, err = Kustomize(t.Context(), empty, "e", KustomizeOptions{})
	if err != nil || len(objs) != 0 {
		t.Fatalf("empty directory: %d objects, %v", len(objs), err)
	}
}

func TestKustomizeSymlinksInsideRoot(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"shared/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
		"app/kustomization.yaml":       "resources: [cm.yaml, base]\n",
		"real-base/kustomization.yaml": "resources: [s.yaml]\n",
		"real-base/s.yaml":             "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
	})
	symlink(t, "../shared/cm.yaml", filepath.Join(dir, "app", "cm.yaml"))
	symlink(t, "../real-base", filepath.Join(dir, "app", "base"))
	symlink(t, "app", filepath.Join(dir, "app-link"))
	objs, err := Kustomize(t.Context(), dir, "app-link", KustomizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(objs), []string{"core/ConfigMap//shared", "core/Secret//s"}; !slices.Equal(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
}
