package apply

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// The inventory stores ManifestHash values: the canonical encoding must stay
// byte for byte what encoding/json writes, or every object of every stored
// inventory would count as changed after an upgrade.
func TestCanonicalJSONMatchesEncodingJSON(t *testing.T) {
	type named map[string]any
	tests := map[string]any{
		"object": map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "shop", "labels": map[string]any{"b": "2", "a": "1"}},
			"spec":     map[string]any{"replicas": int64(3), "paused": false, "template": nil, "list": []any{int64(-1), "x", true, nil, []any{}, map[string]any{}}},
		},
		"escapes":           map[string]any{"html": "<a href=\"x\">&</a>", "ctl": "tab\tnl\nnul\x00", "bs": `a\b`},
		"unicode":           map[string]any{"é": "ünïcode ✓", "sep": "line\u2028para\u2029", "bad": "\xff\xfe"},
		"key order":         map[string]any{"b": int64(1), "B": int64(2), "a": int64(3), "": int64(4), "aa": int64(5), "é": int64(6)},
		"floats":            map[string]any{"f": 1.5, "big": 1e21, "small": 1e-7, "neg": math.Copysign(0, -1), "int": float64(2)},
		"other Go types":    map[string]any{"int": 7, "i32": int32(-3), "strings": []string{"a", "<"}, "named": named{"z": 1, "a": 2}, "raw": json.RawMessage(`{"b":1,"a":2}`)},
		"nil containers":    map[string]any{"m": map[string]any(nil), "l": []any(nil), "s": []string(nil)},
		"extreme integers":  map[string]any{"max": int64(math.MaxInt64), "min": int64(math.MinInt64)},
		"top-level nil map": map[string]any(nil),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendCanonicalJSON(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("canonical JSON differs from encoding/json:\n got %s\nwant %s", got, want)
			}
		})
	}
	if _, err := appendCanonicalJSON(nil, map[string]any{"nan": math.NaN()}); err == nil {
		t.Error("NaN encoded without error; encoding/json refuses it")
	}
}

// FuzzCanonicalJSON decodes JSON the way unstructured objects are decoded
// (integers as int64) and checks the canonical encoding against
// encoding/json's.
func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"<v>&"}}`))
	f.Add([]byte(`{"b":[1,2.5,"\u2028",null,true,{"z":{},"a":[]}],"a":"\ud800"}`))
	f.Add([]byte(`{"n":12345678901234567890,"e":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if utiljson.Unmarshal(data, &v) != nil {
			return
		}
		want, wantErr := json.Marshal(v)
		got, err := appendCanonicalJSON(nil, v)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, encoding/json's %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("canonical JSON differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}
