package faults_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/internal/demo"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// The fuzz targets here cover what the library packages' own do not
// (object decoding: internal/object FuzzDecode; kustomization generation:
// build FuzzGenerateKustomization; dependency levels: depgraph FuzzLevels;
// inventory decoding of arbitrary bytes: inventory FuzzUnmarshal). Their
// seeds come from the seed scenario's repository (internal/demo). Run one
// with
//
//	go test -run '^$' -fuzz '^FuzzInventoryRoundTrip$' -fuzztime 10s ./e2e/faults

// demoObjects builds the seed scenario's units.
func demoObjects(tb testing.TB) []*unstructured.Unstructured {
	tb.Helper()
	dir := tb.TempDir()
	for p, content := range demo.Files() {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var objs []*unstructured.Unstructured
	for _, u := range demo.Units() {
		built, err := build.Kustomize(tb.Context(), dir, u.Path, build.KustomizeOptions{})
		if err != nil {
			tb.Fatalf("build the demo unit %s: %v", u.Name, err)
		}
		objs = append(objs, built...)
	}
	return objs
}

// entriesSpec writes entries as the line format FuzzInventoryRoundTrip
// parses: one entry per line, seven fields separated by "|".
func entriesSpec(entries []inventory.Entry) string {
	var b strings.Builder
	for i, e := range entries {
		fields := []string{e.Group, e.Version, e.Kind, e.Namespace, e.Name, "sha256:" + strings.Repeat("ab", i%5), ""}
		if i%2 == 0 {
			fields[6] = "12345"
		}
		b.WriteString(strings.Join(fields, "|") + "\n")
	}
	return b.String()
}

func parseEntries(spec string) inventory.Inventory {
	var inv inventory.Inventory
	for line := range strings.Lines(spec) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "|")
		f = append(f, make([]string, 7)...)
		inv.Entries = append(inv.Entries, inventory.Entry{Group: f[0], Version: f[1], Kind: f[2], Namespace: f[3], Name: f[4], Hash: f[5], ResourceVersion: f[6]})
	}
	return inv
}

// FuzzInventoryRoundTrip: any inventory Marshal writes, Unmarshal reads back
// exactly (sorted), and the bytes do not depend on the entries' order, even
// with duplicate entries (Sort's order is total since the fuzzer found it
// was not).
// Strings are limited to valid UTF-8: Kubernetes names, kinds and groups
// always are, and encoding/json replaces invalid bytes.
func FuzzInventoryRoundTrip(f *testing.F) {
	var entries []inventory.Entry
	for _, o := range demoObjects(f) {
		entries = append(entries, inventory.EntryFor(o))
	}
	f.Add(entriesSpec(entries))
	f.Add(entriesSpec(entries[:1]))
	f.Add("")
	f.Add("|||||||\n||||||\n")
	f.Add("apps|v1|Deployment|a|web|h|1\napps|v1beta1|Deployment|a|web|h|2\napps|v1|Deployment|a|web|h|1\n")
	f.Add("g|v|K|ns|\"quoted\\name|<html>&|\u2028\n")
	f.Fuzz(func(t *testing.T, spec string) {
		if !utf8.ValidString(spec) {
			return
		}
		inv := parseEntries(spec)
		data, err := inventory.Marshal(inv)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got, err := inventory.Unmarshal(data)
		if err != nil {
			t.Fatalf("Unmarshal of Marshal's output: %v", err)
		}
		want := inventory.Inventory{Entries: slices.Clone(inv.Entries)}
		want.Sort()
		if !inventory.Equal(got, want) && (len(got.Entries) != 0 || len(want.Entries) != 0) {
			t.Fatalf("round trip changed the inventory:\n got %v\nwant %v", got.Entries, want.Entries)
		}
		reversed := inventory.Inventory{Entries: slices.Clone(inv.Entries)}
		slices.Reverse(reversed.Entries)
		again, err := inventory.Marshal(reversed)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("Marshal depends on the entries' order (err %v)", err)
		}
	})
}

// FuzzInventoryDecode feeds Unmarshal well-formed gzip holding arbitrary
// JSON, which inventory's FuzzUnmarshal (arbitrary bytes, rarely valid gzip)
// seldom reaches: it must never panic, fail only with inventory.ErrCorrupt,
// and what it accepts must survive a Marshal round trip.
func FuzzInventoryDecode(f *testing.F) {
	var entries []inventory.Entry
	for _, o := range demoObjects(f) {
		entries = append(entries, inventory.EntryFor(o))
	}
	data, err := inventory.Marshal(inventory.Inventory{Entries: entries})
	if err != nil {
		f.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		f.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"format":1,"groups":[]}`))
	f.Add([]byte(`{"format":1,"groups":[{"v":"v1","k":"ConfigMap","o":[["a"],["b","h"],[]]}]}`))
	f.Add([]byte(`{"format":1,"groups":null}`))
	f.Add([]byte(`{"format":2,"groups":[]}`))
	f.Add([]byte(`{"format":1,"groups":[{"o":[["a","b","c","d"]]}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(payload)
		_ = zw.Close()
		inv, err := inventory.Unmarshal(buf.Bytes())
		if err != nil {
			if !errors.Is(err, inventory.ErrCorrupt) {
				t.Fatalf("error %v is not inventory.ErrCorrupt", err)
			}
			return
		}
		for _, e := range inv.Entries {
			if !utf8.ValidString(e.Group + e.Version + e.Kind + e.Namespace + e.Name + e.Hash + e.ResourceVersion) {
				return // encoding/json would replace the invalid bytes
			}
		}
		out, err := inventory.Marshal(inv)
		if err != nil {
			t.Fatalf("Marshal of what Unmarshal accepted: %v", err)
		}
		back, err := inventory.Unmarshal(out)
		if err != nil {
			t.Fatalf("Unmarshal of Marshal's output: %v", err)
		}
		inv.Sort()
		if !inventory.Equal(back, inv) && (len(back.Entries) != 0 || len(inv.Entries) != 0) {
			t.Fatalf("round trip changed the inventory:\n got %v\nwant %v", back.Entries, inv.Entries)
		}
	})
}

// FuzzConfiguration: reconcile.New on any set of units and dependencies
// ("name:dep,dep;name:..." ) never panics, refuses only with a
// *reconcile.ConfigError, reports real cycles and real missing dependencies,
// and accepts a configuration only if every unit comes after its
// dependencies in the order it reconciles them.
func FuzzConfiguration(f *testing.F) {
	var seed []string
	for _, u := range demo.Units() {
		seed = append(seed, u.Name+":"+strings.Join(u.DependsOn, ","))
	}
	f.Add(strings.Join(seed, ";"))
	f.Add("a:b;b:c;c:a")
	f.Add("a:a")
	f.Add("a:;b:a,nope")
	f.Add("a:;a:")
	f.Add("A_B:")
	f.Add("")
	f.Add("x:;y:x,x;z:y,x")
	kube, err := cluster.New(&rest.Config{Host: "https://127.0.0.1:1"}, cluster.Options{}) // never contacted by New
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		if len(spec) > 2000 {
			return
		}
		deps := map[string][]string{}
		var units []reconcile.Unit
		for part := range strings.SplitSeq(spec, ";") {
			name, list, _ := strings.Cut(part, ":")
			u := reconcile.Unit{Name: name}
			if list != "" {
				u.DependsOn = strings.Split(list, ",")
			}
			units = append(units, u)
			deps[name] = u.DependsOn
		}
		conf := reconcile.Configuration{
			Name:    "fuzz",
			Sources: []reconcile.Source{{Name: "repo", URL: "https://127.0.0.1:1/repo.git"}},
			Units:   units,
		}
		r, err := reconcile.New(kube, conf, reconcile.Options{})
		if err != nil {
			var ce *reconcile.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, reconcile.ErrInvalidConfiguration) {
				t.Fatalf("error %v (%T) is not a *reconcile.ConfigError", err, err)
			}
			var cycle *depgraph.CycleError[string]
			if errors.As(err, &cycle) {
				if len(cycle.Cycle) == 0 {
					t.Fatal("empty cycle")
				}
				for i, n := range cycle.Cycle {
					next := cycle.Cycle[(i+1)%len(cycle.Cycle)]
					if !slices.Contains(deps[n], next) {
						t.Fatalf("reported cycle %v: %s does not depend on %s", cycle.Cycle, n, next)
					}
				}
			}
			var missing *depgraph.MissingDependencyError[string]
			if errors.As(err, &missing) {
				if _, ok := deps[missing.Node]; !ok {
					t.Fatalf("missing dependency reported for unknown unit %q", missing.Node)
				}
				for _, m := range missing.Missing {
					if _, ok := deps[m]; ok || !slices.Contains(deps[missing.Node], m) {
						t.Fatalf("%s is reported missing for %s: %v", m, missing.Node, deps)
					}
				}
			}
			return
		}
		defer r.Close()
		order := map[string]int{}
		for i, u := range r.Status().Units {
			if _, dup := order[u.Name]; dup {
				t.Fatalf("unit %s listed twice", u.Name)
			}
			order[u.Name] = i
		}
		if len(order) != len(deps) {
			t.Fatalf("status lists %d units, the configuration has %d", len(order), len(deps))
		}
		for name, ds := range deps {
			for _, d := range ds {
				if order[d] >= order[name] {
					t.Fatalf("%s runs before its dependency %s", name, d)
				}
			}
		}
	})
}

// FuzzKustomizeBuild builds a unit made of a fuzzed kustomization and a
// fuzzed resource file, in an artifact whose parent directory holds a file
// that must never be read. A build never panics; a successful one gives
// complete objects (apiVersion, kind, name), the same bytes twice, and
// nothing from outside the artifact.
func FuzzKustomizeBuild(f *testing.F) {
	files := demo.Files()
	for _, k := range []string{"apps/dev/kustomization.yaml", "apps/prd/kustomization.yaml", "infra/kustomization.yaml", "apps/base/kustomization.yaml"} {
		f.Add(files[k], []byte(files["apps/base/deployment.yaml"]))
	}
	f.Add("resources: [r.yaml]\nnamePrefix: x-\nnamespace: team-a\ncommonLabels: {a: b}\n", []byte(files["apps/base/service.yaml"]))
	f.Add("", []byte(files["infra/servicemonitor-crd.yaml"]))
	f.Add("resources: [r.yaml, ../../secret.yaml]\n", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
	f.Add("resources: [.]\n", []byte{})
	f.Add("resources: [https://example.com/x.yaml]\n", []byte{})
	f.Add("patches:\n- patch: |-\n    - op: replace\n      path: /metadata/name\n      value: b\n  target: {kind: ConfigMap}\nresources: [r.yaml]\n", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
	f.Add("configMapGenerator:\n- name: g\n  literals: [a=b]\n", []byte{})
	f.Add("resources: [r.yaml]\n", []byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"))
	f.Fuzz(func(t *testing.T, kustomization string, resource []byte) {
		outside := t.TempDir()
		dir := filepath.Join(outside, "artifact")
		app := filepath.Join(dir, "app")
		if err := os.MkdirAll(app, 0o755); err != nil {
			t.Fatal(err)
		}
		secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: outside-the-unit}\nstringData: {password: must-not-leak}\n"
		if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
		if kustomization != "" {
			if err := os.WriteFile(filepath.Join(app, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(app, "r.yaml"), resource, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := build.KustomizeOptions{Limits: build.Limits{MaxFileSize: 1 << 16, MaxTotalSize: 1 << 20}}
		objs, err := build.Kustomize(t.Context(), dir, "app", opts)
		if err != nil {
			return
		}
		first, err := json.Marshal(objs)
		if err != nil {
			t.Fatalf("marshal the build: %v", err)
		}
		if strings.Contains(string(first), "outside-the-unit") || strings.Contains(string(first), "must-not-leak") {
			t.Fatalf("the build read a file outside the unit's tree:\n%s", first)
		}
		for _, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
				t.Fatalf("incomplete object: %v", o.Object)
			}
		}
		again, err := build.Kustomize(t.Context(), dir, "app", opts)
		if err != nil {
			t.Fatalf("the same build failed the second time: %v", err)
		}
		second, _ := json.Marshal(again)
		if !bytes.Equal(first, second) {
			t.Fatalf("the build is not deterministic:\n%s\n%s", first, second)
		}
	})
}
