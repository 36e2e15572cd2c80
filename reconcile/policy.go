package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/internal/object"
)

// ErrPolicyViolation matches every [*PolicyError].
var ErrPolicyViolation = errors.New("policy violation")

// PolicyError lists the objects a tenant unit may not change. Nothing of the
// unit is applied when it is returned.
type PolicyError struct {
	Unit    string
	Objects []string // "group/Kind/namespace/name: reason"
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("unit %s: %d object(s) outside the configuration's tenancy: %s",
		e.Unit, len(e.Objects), strings.Join(e.Objects, "; "))
}

// Is reports whether target is ErrPolicyViolation.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicyViolation }

// checkTenancy refuses objects outside the tenancy's namespaces and
// cluster-scoped objects unless allowed. Scope comes from the RESTMapper,
// from CRDs in the same set, or from the built-in table; an object whose
// scope is unknown counts as namespaced when it has a namespace.
func checkTenancy(unit string, t *Tenancy, objs []*unstructured.Unstructured, mapper meta.RESTMapper) error {
	if t == nil {
		return nil
	}
	crdScope := map[schema.GroupKind]bool{} // true: cluster-scoped
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crdScope[schema.GroupKind{Group: group, Kind: kind}] = scope == string(apiextensionsv1.ClusterScoped)
		}
	}
	var bad []string
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		cluster, known := crdScope[gvk.GroupKind()]
		if !known {
			if m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				cluster, known = m.Scope.Name() == meta.RESTScopeNameRoot, true
			}
		}
		if !known {
			cluster = object.IsBuiltinClusterScoped(gvk.GroupKind()) || o.GetNamespace() == ""
		}
		key := object.KeyOf(o).String()
		switch {
		case cluster && !t.AllowClusterScoped:
			bad = append(bad, key+": cluster-scoped objects are not allowed")
		case !cluster && !slices.Contains(t.Namespaces, o.GetNamespace()):
			bad = append(bad, fmt.Sprintf("%s: namespace %q is not one of %v", key, o.GetNamespace(), t.Namespaces))
		}
	}
	if len(bad) > 0 {
		return &PolicyError{Unit: unit, Objects: bad}
	}
	return nil
}
