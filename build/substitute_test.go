package build

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"a": "A", "empty": "", "n": "3"}
	tests := []struct {
		in, want, undefined string
		strict              bool
	}{
		{in: "x ${a} y", want: "x A y"},
		{in: "${missing:=def}", want: "def"},
		{in: "${missing:-def}", want: "def"},
		{in: "${empty:=def}", want: "def"},
		{in: "${a:=def}", want: "A"},
		{in: "${missing}", want: ""},
		{in: "${missing}", strict: true, undefined: "missing"},
		{in: "${empty}", strict: true, want: ""},
		{in: "$${a} and $${missing}", strict: true, want: "${a} and ${missing}"},
		{in: "$a $$ $1 ${a.b} ${1x} ${a b} ${", strict: true, want: "$a $$ $1 ${a.b} ${1x} ${a b} ${"},
		{in: "${a}${n}${_x:=}", want: "A3"},
	}
	for _, tt := range tests {
		got, undefined := expandVars(tt.in, vars, tt.strict)
		if got != tt.want || undefined != tt.undefined {
			t.Errorf("expandVars(%q, strict=%v) = %q, %q; want %q, %q", tt.in, tt.strict, got, undefined, tt.want, tt.undefined)
		}
	}
}

func TestKustomizeSubstitution(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-${cluster}
  namespace: ${ns:=default-ns}
spec:
  replicas: ${replicas}
  template:
    spec:
      containers:
      - name: app
        image: nginx:${tag:=1.25}
        args: ["$${HOME}", "${undefined_ok:-fallback}"]
        env: [{name: N, value: "${replicas}"}]
`,
		"app/script.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  annotations:
    gitopskit.dev/substitute: disabled
data:
  run.sh: echo ${cluster} ${HOME}
`,
	})
	objs, err := Kustomize(t.Context(), dir, "app", KustomizeOptions{
		Substitute:       map[string]string{"cluster": "eu1", "replicas": "4"},
		StrictSubstitute: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := find(t, objs, "apps/Deployment/default-ns/web-eu1")
	if r, ok, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); !ok || r != 4 {
		t.Fatalf("replicas = %v (%T), want int64 4", d.Object["spec"].(map[string]any)["replicas"], d.Object["spec"].(map[string]any)["replicas"])
	}
	c, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	ctr := c[0].(map[string]any)
	if ctr["image"] != "nginx:1.25" {
		t.Errorf("image = %v", ctr["image"])
	}
	if args := ctr["args"].([]any); args[0] != "${HOME}" || args[1] != "fallback" {
		t.Errorf("args = %#v, want escape kept literally and default", args)
	}
	if env := ctr["env"].([]any)[0].(map[string]any); env["value"] != "4" {
		t.Errorf("env value = %#v, want the string \"4\"", env["value"])
	}
	cm := find(t, objs, "core/ConfigMap//script")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "run.sh"); v != "echo ${cluster} ${HOME}" {
		t.Errorf("opted-out object was substituted: %q", v)
	}

	// Strict mode names the variable and the object.
	_, err = Kustomize(t.Context(), dir, "app", KustomizeOptions{Substitute: map[string]string{"cluster": "eu1"}, StrictSubstitute: true})
	var se *SubstitutionError
	if !errors.As(err, &se) || !errors.Is(err, ErrUndefinedVariable) {
		t.Fatalf("err = %v, want *SubstitutionError", err)
	}
	if se.Variable != "replicas" || se.Object.String() != "apps/Deployment/${ns:=default-ns}/web-${cluster}" {
		t.Fatalf("SubstitutionError = %+v", se)
	}

	// Substitution that makes two objects the same is caught.
	_, err = Kustomize(t.Context(), writeTree(t, map[string]string{
		"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '${x}'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n",
	}), ".", KustomizeOptions{Substitute: map[string]string{"x": "same"}})
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("err = %v, want ErrDuplicate", err)
	}

	// Substitution that injects YAML structure is caught.
	_, err = Kustomize(t.Context(), writeTree(t, map[string]string{
		"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: '${x}'}\n",
	}), ".", KustomizeOptions{Substitute: map[string]string{"x": "v'\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: evil}\ndata: {k: 'v"}})
	if !errors.Is(err, ErrInvalidObject) && !errors.Is(err, ErrMalformedYAML) {
		t.Fatalf("err = %v, want an invalid-object or YAML error", err)
	}
}
