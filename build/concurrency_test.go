package build

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// concurrencyArtifact has units that exercise the OpenAPI schema in every
// way kustomize does: namespace scoping of custom resources, strategic merge
// patches, and one unit whose kustomization sets the schema (openapi field),
// which must not disturb the others.
func concurrencyArtifact(t testing.TB) (string, []string) {
	files := map[string]string{
		"base/kustomization.yaml": "resources: [d.yaml, cr.yaml, svc.yaml]\n",
		"base/d.yaml":             deployment("web", 1),
		"base/cr.yaml":            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n",
		"base/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
		"schema/kustomization.yaml": `openapi:
  version: v1.21.2
resources: [../base]
namespace: schema
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec: {template: {spec: {containers: [{name: app, image: schema}]}}}
`,
	}
	var units []string
	for i := range 6 {
		u := fmt.Sprintf("unit%d", i)
		files[u+"/kustomization.yaml"] = fmt.Sprintf(`resources: [../base]
namespace: ns%d
namePrefix: u%d-
patches:
- patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: %d
      template: {spec: {containers: [{name: app, image: img%d}, {name: sidecar, image: side}]}}
`, i, i, i+1, i)
		units = append(units, u)
	}
	units = append(units, "schema", "base")
	return writeTree(t, files), units
}

// TestKustomizeConcurrent builds several units in parallel, several times,
// and compares each output with a serial build. Run it with -race.
func TestKustomizeConcurrent(t *testing.T) {
	dir, units := concurrencyArtifact(t)
	want := map[string][]byte{}
	for _, u := range units {
		objs, err := Kustomize(t.Context(), dir, u, KustomizeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		want[u], err = EncodeYAML(objs)
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for round := range 3 {
		for _, u := range units {
			wg.Go(func() {
				objs, err := Kustomize(t.Context(), dir, u, KustomizeOptions{})
				if err != nil {
					t.Errorf("round %d %s: %v", round, u, err)
					return
				}
				got, _ := EncodeYAML(objs)
				if !bytes.Equal(got, want[u]) {
					t.Errorf("round %d %s: concurrent output differs from serial:\n%s\nwant:\n%s", round, u, got, want[u])
				}
			})
		}
	}
	wg.Wait()
}

// TestKustomizeDeterministic checks that the same input gives byte-identical
// output, whatever the file order on disk.
func TestKustomizeDeterministic(t *testing.T) {
	dir, _ := concurrencyArtifact(t)
	var first []byte
	for i := range 3 {
		objs, err := Kustomize(t.Context(), dir, "unit1", KustomizeOptions{CommonLabels: map[string]string{"a": "1", "b": "2", "c": "3"}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := EncodeYAML(objs)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = out
		} else if !bytes.Equal(out, first) {
			t.Fatalf("build %d differs:\n%s\nwant:\n%s", i, out, first)
		}
	}
}
