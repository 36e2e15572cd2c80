package object

import (
	"errors"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
	f.Add([]byte("---\n---\napiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Secret, metadata: {name: s}}]\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap"}`))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"))
	f.Add([]byte("kind: X\n\tbad"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode(data, "fuzz.yaml")
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			return
		}
		for _, o := range objs {
			if o.GetKind() == "" || o.GetAPIVersion() == "" {
				t.Fatalf("decoded object without kind or apiVersion: %v", o.Object)
			}
		}
		// What Decode accepts, Encode writes and Decode reads back the same.
		out, err := Encode(objs)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		again, err := Decode(out, "again.yaml")
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out)
		}
		if len(again) != len(objs) {
			t.Fatalf("re-decode gave %d objects, want %d", len(again), len(objs))
		}
	})
}
