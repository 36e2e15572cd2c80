package object

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string
		check func(t *testing.T, got []string)
	}{
		{
			name: "multi-document with empty and comment-only documents",
			in: `---
# leading comment only
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ns
---

---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
---   
`,
			want: []string{"core/ConfigMap/ns/a", "apps/Deployment/ns/web"},
		},
		{
			name: "v1 List is expanded",
			in: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: List
  items:
  - {apiVersion: v1, kind: Secret, metadata: {name: b}}
`,
			want: []string{"core/ConfigMap//a", "core/Secret//b"},
		},
		{
			name: "typed list items inherit apiVersion and kind",
			in: `apiVersion: v1
kind: ConfigMapList
items:
- metadata: {name: a}
`,
			want: []string{"core/ConfigMap//a"},
		},
		{
			name: "object with an items field but no List kind is not expanded",
			in: `apiVersion: example.com/v1
kind: Basket
metadata: {name: b}
items: [1, 2]
`,
			want: []string{"example.com/Basket//b"},
		},
		{
			name: "JSON",
			in:   `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}`,
			want: []string{"core/ConfigMap//j"},
		},
		{name: "empty", in: "", want: nil},
		{name: "only separators", in: "---\n---\n", want: nil},
		{name: "BOM", in: "\xef\xbb\xbfapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", want: []string{"core/ConfigMap//a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Decode([]byte(tt.in), "in.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, KeyOf(o).String())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeKeepsIntegers(t *testing.T) {
	objs, err := Decode([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 3}
spec: {replicas: 2, ratio: 0.5}
`), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := objs[0].Object
	if g, ok := o["metadata"].(map[string]any)["generation"].(int64); !ok || g != 3 {
		t.Fatalf("generation = %#v, want int64(3)", o["metadata"].(map[string]any)["generation"])
	}
	spec := o["spec"].(map[string]any)
	if _, ok := spec["replicas"].(int64); !ok {
		t.Fatalf("replicas = %T, want int64", spec["replicas"])
	}
	if _, ok := spec["ratio"].(float64); !ok {
		t.Fatalf("ratio = %T, want float64", spec["ratio"])
	}
	if objs[0].GetGeneration() != 3 {
		t.Fatal("GetGeneration")
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine int
		wantMsg  string
	}{
		{
			name: "syntax error in second document",
			in: `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
 bad: indentation
`,
			wantLine: 8, // the YAML parser reports the line of the enclosing mapping entry
		},
		{name: "missing kind", in: "---\napiVersion: v1\nmetadata: {name: a}\n", wantLine: 2, wantMsg: "no kind"},
		{name: "missing apiVersion", in: "kind: ConfigMap\nmetadata: {name: a}\n", wantLine: 1, wantMsg: "no apiVersion"},
		{name: "scalar document", in: "just a string\n", wantLine: 1, wantMsg: "not an object"},
		{name: "sequence document", in: "- a\n- b\n", wantLine: 1, wantMsg: "not an object"},
		{name: "list with scalar item", in: "apiVersion: v1\nkind: List\nitems: [1]\n", wantLine: 1, wantMsg: "not an object"},
		{name: "tab indentation", in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n", wantLine: 4},
		{name: "unterminated quote", in: "apiVersion: v1\nkind: \"ConfigMap\nmetadata: {}\n"},
		{
			name: "billion laughs",
			in: `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Decode([]byte(tt.in), "bad.yaml")
			if err == nil {
				t.Fatalf("Decode succeeded with %d objects, want error", len(objs))
			}
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			if de.Source != "bad.yaml" || !strings.HasPrefix(err.Error(), "bad.yaml:") {
				t.Fatalf("error %q does not name the source", err)
			}
			if tt.wantLine != 0 && de.Line != tt.wantLine {
				t.Fatalf("line = %d, want %d (%v)", de.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  replicas: 2\n"
	objs, err := Decode([]byte(in), "in")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(objs)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("Encode:\n%s\nwant:\n%s", out, in)
	}
}

func TestCheckAliases(t *testing.T) {
	bomb := `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	tests := []struct {
		name string
		in   string
		bad  bool
	}{
		{"bomb", bomb, true},
		{"bomb in a later document", "a: 1\n---\n" + bomb, true},
		{"modest anchors", "base: &base {cpu: 1, mem: 2}\nx: *base\ny: *base\n", false},
		{"no aliases", "url: http://x/?a=1&b=2\ncron: '* * * * *'\n", false},
		{"not YAML", "&&& ***\n\t:", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAliases([]byte(tt.in), "x.yaml")
			if (err != nil) != tt.bad {
				t.Fatalf("CheckAliases = %v, want error %v", err, tt.bad)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v is not ErrMalformed", err)
			}
		})
	}
}
