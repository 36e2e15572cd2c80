package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/internal/object"
	"github.com/gitopskit/gitopskit/inventory"
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
		if !known && mapper != nil {
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

// admit is the one admission of every unit, kustomize or Helm: the
// configuration's tenancy, gitopskit's own records (no unit may apply,
// adopt or prune an object that holds records or carries their labels), and
// the ownership of each object within the configuration.
func (rd *round) admit(ctx context.Context, unit string, objs []*unstructured.Unstructured, id *identity) error {
	r := rd.r
	if err := checkTenancy(unit, r.conf.Tenancy, objs, id.cluster.RESTMapper()); err != nil {
		return err
	}
	if err := r.checkRecords(unit, objs); err != nil {
		return err
	}
	ids := make([]inventory.ID, 0, len(objs))
	for _, o := range objs {
		ids = append(ids, object.KeyOf(o))
	}
	return rd.claim(ctx, unit, ids)
}

// checkRecords refuses objects that are, or look like, gitopskit's records:
// an inventory or the status record of any configuration (by label), or any
// Secret or ConfigMap in the configuration's namespace named like one of
// its records.
func (r *Reconciler) checkRecords(unit string, objs []*unstructured.Unstructured) error {
	var bad []string
	for _, o := range objs {
		key := object.KeyOf(o).String()
		l := o.GetLabels()
		gk := o.GroupVersionKind().GroupKind()
		isData := gk.Group == "" && (gk.Kind == "Secret" || gk.Kind == "ConfigMap")
		switch {
		case l[inventory.LabelApplySetID] != "" || l[LabelConfiguration] != "" || l[inventory.LabelLedger] != "":
			bad = append(bad, key+": carries the labels of gitopskit's records")
		case isData && o.GetNamespace() == r.conf.Namespace && r.isRecordName(o.GetName()):
			bad = append(bad, key+": is named like one of the configuration's records")
		case o.GetAnnotations()[inventory.AnnotationApplySetTooling] != "":
			bad = append(bad, key+": carries the annotations of an ApplySet parent")
		}
	}
	if len(bad) > 0 {
		return &PolicyError{Unit: unit, Objects: bad}
	}
	return nil
}

// isRecordName reports whether name is the name of one of the
// configuration's records: its status record, a page of its inventory
// ledger, or the name a unit's inventory had before the ledger, of a unit
// in the configuration or in the records.
func (r *Reconciler) isRecordName(name string) bool {
	if name == r.recordName() || (r.ledger != nil && r.ledger.IsPageName(name)) {
		return true
	}
	unit, ok := strings.CutPrefix(name, r.conf.Name+"-")
	if !ok {
		return false
	}
	if r.unit(unit) != nil {
		return true
	}
	r.recMu.Lock()
	defer r.recMu.Unlock()
	if _, ok := r.dormant[unit]; ok {
		return true
	}
	_, ok = r.removed[unit]
	return ok
}

// admitKey carries a Helm unit's admission to helmrelease's Admit hook.
type admitKey struct{}

type admission func(ctx context.Context, objs []*unstructured.Unstructured) error

// admitFromContext is the Admit hook of every Helm reconciler: it runs the
// admission the unit put in the context, and refuses when there is none.
func admitFromContext(ctx context.Context, objs []*unstructured.Unstructured) error {
	a, ok := ctx.Value(admitKey{}).(admission)
	if !ok {
		return errors.New("reconcile: no admission for this release")
	}
	return a(ctx, objs)
}
