package values

import (
	"reflect"
	"testing"
)

func TestDeepCopy(t *testing.T) {
	in := map[string]any{"a": map[string]any{"b": []any{1, map[string]any{"c": "d"}}}, "n": 3}
	out := DeepCopy(in)
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("copy differs: %v", out)
	}
	out["a"].(map[string]any)["b"].([]any)[1].(map[string]any)["c"] = "changed"
	if in["a"].(map[string]any)["b"].([]any)[1].(map[string]any)["c"] != "d" {
		t.Error("changing the copy changed the original")
	}
	if m := DeepCopy(nil); m == nil || len(m) != 0 {
		t.Errorf("DeepCopy(nil) = %v, want an empty map", m)
	}
}
