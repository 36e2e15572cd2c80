package inventory_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/inventory"
)

func TestApplySetID(t *testing.T) {
	tests := []struct {
		name, namespace, kind, group, want string
	}{
		// Computed independently: base64url(sha256("<name>.<namespace>.<kind>.<group>")).
		{"web", "apps", "Secret", "", "applyset-R-DTMhsR-wNnD3SvElWn9nny_xClwC0_bvNfvb6aJQ0-v1"},
		{"my-set", "default", "ConfigMap", "", "applyset-DaObTxGT41gT7jz9wyulA3kuIrhUKfuOcjAfLI6wcmQ-v1"},
	}
	for _, tt := range tests {
		if got := inventory.ApplySetID(tt.name, tt.namespace, tt.kind, tt.group); got != tt.want {
			t.Errorf("ApplySetID(%s, %s, %s, %q) = %s, want %s", tt.name, tt.namespace, tt.kind, tt.group, got, tt.want)
		}
		if n := len(tt.want); n > 63 {
			t.Errorf("ID %s is %d characters, too long for a label value", tt.want, n)
		}
	}
}

func TestNewOwnerValidates(t *testing.T) {
	for _, tt := range []struct{ name, ns string }{{"", "ns"}, {"unit", ""}, {"bad name!", "ns"}} {
		if _, err := inventory.NewOwner(tt.name, tt.ns, inventory.ParentSecret); err == nil {
			t.Errorf("NewOwner(%q, %q) accepted", tt.name, tt.ns)
		}
		if _, err := inventory.NewOwnerForParent(schema.GroupKind{Group: "demo.gitopskit.io", Kind: "GitOpsUnit"}, tt.name, tt.ns); err == nil {
			t.Errorf("NewOwnerForParent(%q, %q) accepted", tt.name, tt.ns)
		}
	}
	if _, err := inventory.NewOwnerForParent(schema.GroupKind{Group: "demo.gitopskit.io"}, "unit", "ns"); err == nil {
		t.Error("NewOwnerForParent accepted a parent without a kind")
	}
	// NewOwner is NewOwnerForParent for core parents.
	a, _ := inventory.NewOwner("unit", "ns", inventory.ParentConfigMap)
	b, _ := inventory.NewOwnerForParent(schema.GroupKind{Kind: "ConfigMap"}, "unit", "ns")
	if a != b {
		t.Errorf("NewOwner = %+v, NewOwnerForParent = %+v", a, b)
	}
}

// hash returns a 22-character hash like those package apply writes
// (random-looking, so it does not compress).
func hash(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// bigInventory returns n entries with realistic names, hashes and
// resourceVersions.
func bigInventory(n int) inventory.Inventory {
	kinds := []struct{ group, version, kind string }{{"", "v1", "ConfigMap"}, {"", "v1", "Service"}, {"apps", "v1", "Deployment"}, {"", "v1", "Secret"}}
	var inv inventory.Inventory
	for i := range n {
		k := kinds[i%len(kinds)]
		inv.Entries = append(inv.Entries, inventory.Entry{
			Group: k.group, Version: k.version, Kind: k.kind,
			Namespace: fmt.Sprintf("team-%02d", i%20), Name: fmt.Sprintf("service-component-%05d", i),
			// 22-character hashes as package apply writes them.
			Hash:            hash(i),
			ResourceVersion: fmt.Sprint(1_000_000 + i*7),
		})
		if i%2 == 0 { // as package apply writes them; older records have none
			inv.Entries[i].Fingerprint = strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 36)
		}
	}
	return inv
}

func TestMarshalRoundTrip10000(t *testing.T) {
	inv := bigInventory(10_000)
	data, err := inventory.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 entries: %d bytes compressed", len(data))
	if len(data) >= 1<<20 {
		t.Fatalf("10,000 entries take %d bytes, want well under 1 MiB", len(data))
	}
	back, err := inventory.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	want := inventory.Inventory{Entries: slices.Clone(inv.Entries)}
	want.Sort()
	if !inventory.Equal(back, want) {
		t.Fatal("round trip changed the entries")
	}
	again, err := inventory.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(data, again) {
		t.Fatal("Marshal is not deterministic")
	}
}

// Inventories written before fingerprints ([name, hash, resourceVersion]
// triples) still load.
func TestUnmarshalWithoutFingerprints(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(`{"format":1,"groups":[{"v":"v1","k":"ConfigMap","ns":"a","o":[["x","h","7"]]}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Unmarshal(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "x", Hash: "h", ResourceVersion: "7"}
	if len(inv.Entries) != 1 || inv.Entries[0] != want {
		t.Fatalf("got %+v, want %+v", inv.Entries, want)
	}
}

func TestUnmarshalCorrupt(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not gzip"), {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff}} {
		if _, err := inventory.Unmarshal(data); !errors.Is(err, inventory.ErrCorrupt) {
			t.Errorf("Unmarshal(%q): %v, want ErrCorrupt", data, err)
		}
	}
}

func TestDiffIgnoresVersion(t *testing.T) {
	prev := inventory.Inventory{Entries: []inventory.Entry{
		{Group: "apps", Version: "v1beta2", Kind: "Deployment", Namespace: "a", Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "old"},
	}}
	cur := inventory.Inventory{Entries: []inventory.Entry{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "a", Name: "web"}}}
	stale := inventory.Diff(prev, cur)
	if len(stale) != 1 || stale[0].Name != "old" {
		t.Fatalf("stale: %v", stale)
	}
}

func FuzzUnmarshal(f *testing.F) {
	data, _ := inventory.Marshal(bigInventory(3))
	f.Add(data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := inventory.Unmarshal(data)
		if err != nil {
			if !errors.Is(err, inventory.ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if _, err := inventory.Marshal(inv); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMarshalSmallIsStoredGzip: a small inventory is a gzip stream that
// any gzip reader reads, stored rather than compressed, and round-trips.
func TestMarshalSmallIsStoredGzip(t *testing.T) {
	for _, n := range []int{0, 1, 4, 100} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			inv := bigInventory(n)
			data, err := inventory.Marshal(inv)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var raw bytes.Buffer
			if _, err := raw.ReadFrom(zr); err != nil {
				t.Fatalf("not a valid gzip stream: %v", err)
			}
			if got, want := len(data), raw.Len()+23; got != want {
				t.Errorf("%d bytes for %d bytes of JSON, want %d (stored: header, block header, trailer)", got, raw.Len(), want)
			}
			back, err := inventory.Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			want := inventory.Inventory{Entries: slices.Clone(inv.Entries)}
			want.Sort()
			if !inventory.Equal(back, want) {
				t.Fatal("round trip changed the entries")
			}
		})
	}
}
