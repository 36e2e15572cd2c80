package jsonpointer

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"/spec/replicas", []string{"spec", "replicas"}, true},
		{"/metadata/annotations/example.com~1owner~0x", []string{"metadata", "annotations", "example.com/owner~x"}, true},
		{"/a/0/b", []string{"a", "0", "b"}, true},
		{"/a~01", []string{"a~1"}, true},
		{"", nil, false},
		{"/", nil, false},
		{"spec/replicas", nil, false},
		{"/a~2", nil, false},
		{"/a~", nil, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("Parse(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			var back string
			for _, tok := range got {
				back += "/" + Escape(tok)
			}
			if back != tc.in {
				t.Errorf("Escape round trip of %q: %q", tc.in, back)
			}
		}
	}
}

func TestRemove(t *testing.T) {
	var v map[string]any
	if err := json.Unmarshal([]byte(`{"spec":{"replicas":3,"containers":[{"name":"a","image":"x"},{"name":"b"}]},"metadata":{"annotations":{"a/b":"1","keep":"2"}}}`), &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/spec/replicas", "/spec/containers/0/image", "/spec/containers/1", "/metadata/annotations/a~1b", "/no/such/field", "/spec/containers/9/name", "/spec/containers/x/name"} {
		tokens, err := Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		Remove(v, tokens)
	}
	got, _ := json.Marshal(v)
	const want = `{"metadata":{"annotations":{"keep":"2"}},"spec":{"containers":[{"name":"a"},{"name":"b"}]}}`
	if string(got) != want {
		t.Errorf("after Remove:\n got %s\nwant %s", got, want)
	}
}
