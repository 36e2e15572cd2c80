package object

import (
	"cmp"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CoreGroup is how [Key.String] writes the core (empty) API group.
const CoreGroup = "core"

// Key identifies an object: two objects with equal keys are the same object
// on the API server, whatever their API versions. Key is comparable and can
// be used as a map key.
type Key struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// KeyOf returns the key of u. An apiVersion that does not parse gives an
// empty group.
func KeyOf(u *unstructured.Unstructured) Key {
	gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
	return Key{
		Group:     gv.Group,
		Kind:      u.GetKind(),
		Namespace: u.GetNamespace(),
		Name:      u.GetName(),
	}
}

// GroupKind returns the group and kind of k.
func (k Key) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: k.Group, Kind: k.Kind}
}

// String renders k as "group/Kind/namespace/name" (see the package
// documentation): "core" stands for the core group and cluster-scoped objects
// have an empty namespace segment.
func (k Key) String() string {
	g := k.Group
	if g == "" {
		g = CoreGroup
	}
	return g + "/" + k.Kind + "/" + k.Namespace + "/" + k.Name
}

// ParseKey parses the form written by [Key.String].
func ParseKey(s string) (Key, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[3] == "" {
		return Key{}, fmt.Errorf("object key %q: want group/Kind/namespace/name", s)
	}
	g := parts[0]
	if g == CoreGroup {
		g = ""
	}
	return Key{Group: g, Kind: parts[1], Namespace: parts[2], Name: parts[3]}, nil
}

// Compare orders keys by group, kind, namespace and name.
func Compare(a, b Key) int {
	if c := cmp.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}
