package object

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func TestKeyOfAndString(t *testing.T) {
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"apps", obj("apps/v1", "Deployment", "prod", "web"), "apps/Deployment/prod/web"},
		{"core", obj("v1", "Service", "prod", "web"), "core/Service/prod/web"},
		{"cluster-scoped", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "admin"), "rbac.authorization.k8s.io/ClusterRole//admin"},
		{"version not in identity", obj("apps/v1beta2", "Deployment", "prod", "web"), "apps/Deployment/prod/web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := KeyOf(tt.obj)
			if got := k.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseKey(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if back != k {
				t.Fatalf("ParseKey(%q) = %#v, want %#v", tt.want, back, k)
			}
		})
	}
	if KeyOf(obj("apps/v1", "Deployment", "a", "b")) != KeyOf(obj("apps/v1beta1", "Deployment", "a", "b")) {
		t.Fatal("keys differing only in version must be equal")
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, s := range []string{"", "a/b/c", "a/b/c/d/e", "/Kind/ns/name", "core//ns/name", "core/Kind/ns/"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded, want error", s)
		}
	}
}

func TestCompare(t *testing.T) {
	a := Key{Group: "apps", Kind: "Deployment", Namespace: "a", Name: "x"}
	tests := []struct {
		b    Key
		want int
	}{
		{a, 0},
		{Key{Group: "batch", Kind: "Deployment", Namespace: "a", Name: "x"}, -1},
		{Key{Group: "apps", Kind: "DaemonSet", Namespace: "a", Name: "x"}, 1},
		{Key{Group: "apps", Kind: "Deployment", Namespace: "b", Name: "x"}, -1},
		{Key{Group: "apps", Kind: "Deployment", Namespace: "a", Name: "w"}, 1},
	}
	for _, tt := range tests {
		if got := Compare(a, tt.b); got != tt.want {
			t.Errorf("Compare(%v, %v) = %d, want %d", a, tt.b, got, tt.want)
		}
	}
}
