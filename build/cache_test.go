package build

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

func TestCache(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"})
	cache := NewCache(2)
	opts := KustomizeOptions{Cache: cache, ArtifactDigest: "sha256:1"}

	first, err := Kustomize(t.Context(), dir, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	// Change the files without changing the digest: the cache trusts the digest.
	if err := os.WriteFile(filepath.Join(dir, "app", "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: changed}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first[0].SetName("mutated by the caller")
	second, err := Kustomize(t.Context(), dir, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	if second[0].GetName() != "a" {
		t.Fatalf("cache hit returned %q: the caller's mutation leaked or the cache missed", second[0].GetName())
	}
	if s := cache.Stats(); s.Hits != 1 || s.Misses != 1 || s.Entries != 1 {
		t.Fatalf("stats = %+v", s)
	}

	// Another digest, path or option is another entry.
	for _, o := range []KustomizeOptions{
		{Cache: cache, ArtifactDigest: "sha256:2"},
		{Cache: cache, ArtifactDigest: "sha256:2", TargetNamespace: "x"},
	} {
		objs, err := Kustomize(t.Context(), dir, "app", o)
		if err != nil {
			t.Fatal(err)
		}
		if objs[0].GetName() != "changed" {
			t.Fatalf("got %q, want a fresh build", objs[0].GetName())
		}
	}
	if s := cache.Stats(); s.Misses != 3 || s.Entries != 2 {
		t.Fatalf("stats = %+v, want 3 misses and 2 entries (LRU bound)", s)
	}
	// The first entry was evicted.
	objs, err := Kustomize(t.Context(), dir, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].GetName() != "changed" {
		t.Fatal("evicted entry still served")
	}

	// No digest: no caching.
	before := cache.Stats()
	if _, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{Cache: cache}); err != nil {
		t.Fatal(err)
	}
	if cache.Stats() != before {
		t.Fatal("a build without a digest used the cache")
	}
	cache.Purge()
	if cache.Stats().Entries != 0 {
		t.Fatal("Purge left entries")
	}
}

func TestCacheConcurrent(t *testing.T) {
	dir, units := concurrencyArtifact(t)
	cache := NewCache(0)
	var wg sync.WaitGroup
	results := make([][]byte, 8)
	for i := range results {
		wg.Go(func() {
			objs, err := Kustomize(t.Context(), dir, units[0], KustomizeOptions{Cache: cache, ArtifactDigest: "d"})
			if err != nil {
				t.Error(err)
				return
			}
			objs[0].SetName("mine") // callers own what they get
			results[i], _ = EncodeYAML(objs)
		})
	}
	wg.Wait()
	for i := range results {
		if !bytes.Equal(results[i], results[0]) {
			t.Fatal("concurrent cache users got different results")
		}
	}
	if s := cache.Stats(); s.Misses != 1 || s.Hits != 7 {
		t.Fatalf("stats = %+v, want one build shared by all", s)
	}
}

// TestCacheHitEqualsBuild: a hit, decoded from what the cache keeps, is the
// object a build returns, numbers included (integers beyond float64's
// precision, floats, nested lists).
func TestCacheHitEqualsBuild(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}\n" +
		"spec:\n  count: 3\n  big: 9007199254740993\n  ratio: 0.5\n  negative: -7\n  flag: true\n  none: null\n" +
		"  nested: [{a: [1, 2.25, \"3\"]}, [], {}]\n  text: \"\\u00e9\\u2028<&>\"\n"})
	opts := KustomizeOptions{Cache: NewCache(0), ArtifactDigest: "sha256:numbers"}
	built, err := Kustomize(t.Context(), dir, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	hit, err := Kustomize(t.Context(), dir, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := opts.Cache.Stats(); s.Hits != 1 {
		t.Fatalf("stats = %+v, want one hit", s)
	}
	if !reflect.DeepEqual(built, hit) {
		t.Errorf("a cache hit differs from the build:\nbuilt %#v\nhit   %#v", built[0].Object, hit[0].Object)
	}
}
