package build

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// manyConfigMaps returns one YAML stream of n tiny ConfigMaps.
func manyConfigMaps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\n", i)
	}
	return b.String()
}

func TestKustomizeMaxObjects(t *testing.T) {
	list := "apiVersion: v1\nkind: List\nitems:\n"
	for i := range 30 {
		list += fmt.Sprintf("- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: l%d}\n", i)
	}
	tests := []struct {
		name     string
		files    map[string]string
		limit    int
		wantPath string // the file named by the estimate; empty: the output count
		wantErr  bool
	}{
		{name: "under the limit", files: map[string]string{"app/many.yaml": manyConfigMaps(20)}, limit: 20},
		{
			name:     "estimated from one file, before kustomize transforms",
			files:    map[string]string{"app/many.yaml": manyConfigMaps(21)},
			limit:    20,
			wantPath: "app/many.yaml",
			wantErr:  true,
		},
		{
			name: "estimated across the files of a base and an overlay",
			files: map[string]string{
				"base/kustomization.yaml": "resources: [a.yaml]\n", "base/a.yaml": manyConfigMaps(15),
				"app/kustomization.yaml": "resources: [../base, b.yaml]\n", "app/b.yaml": strings.ReplaceAll(manyConfigMaps(10), "name: c", "name: b"),
			},
			limit:    20,
			wantPath: "app/b.yaml",
			wantErr:  true,
		},
		{
			name:     "a List's items are counted before kustomize transforms",
			files:    map[string]string{"app/list.yaml": list},
			limit:    20,
			wantPath: "app/list.yaml",
			wantErr:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			objs, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{Limits: Limits{MaxObjects: tt.limit}})
			if !tt.wantErr {
				if err != nil || len(objs) != tt.limit {
					t.Fatalf("got %d objects, %v; want %d", len(objs), err, tt.limit)
				}
				return
			}
			var te *TooManyObjectsError
			if !errors.As(err, &te) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want a *TooManyObjectsError", err)
			}
			if te.Path != tt.wantPath || te.Limit != tt.limit || te.Count <= tt.limit {
				t.Errorf("error = %+v, want path %q, limit %d, count over it", te, tt.wantPath, tt.limit)
			}
		})
	}
}

func TestHelmTemplateMaxObjects(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"chart/Chart.yaml":         "apiVersion: v2\nname: many\nversion: 0.1.0\n",
		"chart/templates/cms.yaml": "{{- range until 30 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{{ . }}\n{{- end }}\n",
	})
	_, err := HelmTemplate(t.Context(), filepath.Join(dir, "chart"), HelmOptions{ReleaseName: "many", Namespace: "default", Limits: Limits{MaxObjects: 20}})
	var te *TooManyObjectsError
	if !errors.As(err, &te) || te.Count != 30 || te.Path != "" {
		t.Fatalf("err = %v, want a *TooManyObjectsError counting 30 objects", err)
	}
}

// TestKustomizeReturnsAtDeadline: kustomize takes no context and, once the
// files are read, cannot be stopped; Kustomize must still return when its
// context ends instead of when kustomize is done (2,000 objects in one file
// take seconds to tens of seconds).
func TestKustomizeReturnsAtDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 2,000 objects in the background")
	}
	dir := writeTree(t, map[string]string{"app/many.yaml": manyConfigMaps(2000)})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Kustomize(ctx, dir, "app", KustomizeOptions{})
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	// Not a performance assertion: the build alone takes far longer.
	if elapsed > 3*time.Second {
		t.Errorf("returned %v after the start, long after its 300ms deadline", elapsed)
	}
}

// TestKustomizeObjectCountAnyStyle: the objects are counted as kustomize
// will see them, whatever the YAML style, before kustomize transforms
// anything: 20,000 tiny objects written as a List, nested Lists, flow
// mappings, with a quoted "kind" key or as JSON are refused with a
// *TooManyObjectsError naming the file, after a parse and not after
// kustomize's minutes of work.
func TestKustomizeObjectCountAnyStyle(t *testing.T) {
	const n = 20000
	gen := func(each func(b *strings.Builder, i int), head, tail string) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			each(&b, i)
		}
		b.WriteString(tail)
		return b.String()
	}
	styles := map[string]string{
		"List": gen(func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c%d}}\n", i)
		}, "apiVersion: v1\nkind: List\nitems:\n", ""),
		"typed List without item kinds": gen(func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "- metadata: {name: c%d}\n", i)
		}, "apiVersion: v1\nkind: ConfigMapList\nitems:\n", ""),
		"nested Lists": gen(func(b *strings.Builder, i int) {
			if i%100 == 0 {
				b.WriteString("- apiVersion: v1\n  kind: List\n  items:\n")
			}
			fmt.Fprintf(b, "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c%d}}\n", i)
		}, "apiVersion: v1\nkind: List\nitems:\n", ""),
		"flow mappings": gen(func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: c%d}}\n", i)
		}, "", ""),
		"quoted kind key": gen(func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "---\napiVersion: v1\n\"kind\": ConfigMap\nmetadata: {name: c%d}\n", i)
		}, "", ""),
		"indented kind": gen(func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "---\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c%d}\n", i)
		}, "", ""),
		"JSON List": gen(func(b *strings.Builder, i int) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(b, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c%d"}}`, i)
		}, `{"apiVersion":"v1","kind":"List","items":[`, "]}"),
	}
	for name, content := range styles {
		t.Run(name, func(t *testing.T) {
			file := "app/objects.yaml"
			if strings.HasPrefix(name, "JSON") {
				file = "app/objects.json"
			}
			dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources: [objects." + path.Ext(file)[1:] + "]\n", file: content})
			start := time.Now()
			_, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{})
			elapsed := time.Since(start)
			var te *TooManyObjectsError
			if !errors.As(err, &te) || te.Path != file || te.Count <= te.Limit || te.Limit != DefaultLimits().MaxObjects {
				t.Fatalf("err = %v (%+v), want a *TooManyObjectsError counting %d objects in %s", err, te, n, file)
			}
			t.Logf("refused %d objects (%d bytes) in %v", n, len(content), elapsed)
		})
	}
}
