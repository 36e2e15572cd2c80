package inventory

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ApplySetID computes the ID of the ApplySet whose parent is the object
// name/namespace of the given kind and group, as the kubectl ApplySet KEP
// (KEP-3659) defines it: "applyset-" + base64url(sha256(
// "<name>.<namespace>.<kind>.<group>")) without padding + "-v1".
func ApplySetID(name, namespace, kind, group string) string {
	sum := sha256.Sum256([]byte(name + "." + namespace + "." + kind + "." + group))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// Owner identifies the unit that owns objects: the unit's name and the
// namespace of its inventory, and the ID of its ApplySet.
type Owner struct {
	// Unit is the unit's name (the name of its inventory's parent object).
	Unit string
	// Namespace is the namespace of the unit's inventory.
	Namespace string
	// ID is the unit's ApplySet ID, the value of [LabelApplySetPartOf] on
	// every object the unit owns.
	ID string
}

// NewOwner returns the owner whose inventory is kept in the object
// name/namespace of the given kind ("Secret" or "ConfigMap"). Name and
// namespace must be valid label values.
func NewOwner(name, namespace string, kind ParentKind) (Owner, error) {
	return NewOwnerForParent(schema.GroupKind{Kind: string(kind)}, name, namespace)
}

// NewOwnerForParent returns the owner whose inventory is kept in the object
// name/namespace of any group and kind: a custom resource of the embedding
// program's own API, say, which keeps the inventory in its status (see
// [Storage]). The ApplySet ID is the one kubectl computes for that parent.
// Name and namespace must be valid label values.
func NewOwnerForParent(parent schema.GroupKind, name, namespace string) (Owner, error) {
	if parent.Kind == "" {
		return Owner{}, fmt.Errorf("inventory: the parent's kind is required")
	}
	for _, v := range []string{name, namespace} {
		if v == "" {
			return Owner{}, fmt.Errorf("inventory: unit name and namespace are required")
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return Owner{}, fmt.Errorf("inventory: %q is not a valid label value: %v", v, errs)
		}
	}
	return Owner{Unit: name, Namespace: namespace, ID: ApplySetID(name, namespace, parent.Kind, parent.Group)}, nil
}

// ParentMetadata returns the labels and annotations the kubectl ApplySet
// convention puts on a set's parent object, for the owner and its current
// inventory: the set's ID, the tooling ([ToolName]), the member group-kinds
// and the member namespaces other than the parent's. [Store] writes them on
// its Secret or ConfigMap; a [Storage] keeping the inventory in an object of
// its own sets them on that object, so that kubectl sees the set. (A custom
// resource parent's CRD also needs the label
// applyset.kubernetes.io/is-parent-type: "true".)
func ParentMetadata(owner Owner, inv Inventory) (labels, annotations map[string]string) {
	labels = map[string]string{LabelApplySetID: owner.ID}
	annotations = map[string]string{
		AnnotationApplySetTooling:    ToolName + "/" + ToolVersion,
		AnnotationApplySetGroupKinds: strings.Join(inv.GroupKinds(), ","),
	}
	var extra []string
	for _, ns := range inv.Namespaces() {
		if ns != owner.Namespace {
			extra = append(extra, ns)
		}
	}
	if len(extra) > 0 {
		annotations[AnnotationApplySetNamespaces] = strings.Join(extra, ",")
	}
	return labels, annotations
}

// Labels returns the ownership labels every object of the unit carries.
func (o Owner) Labels() map[string]string {
	return map[string]string{
		LabelUnit:           o.Unit,
		LabelUnitNamespace:  o.Namespace,
		LabelApplySetPartOf: o.ID,
	}
}

// Owns reports whether an object with the given labels belongs to the unit.
func (o Owner) Owns(labels map[string]string) bool {
	return o.ID != "" && labels[LabelApplySetPartOf] == o.ID
}

// OwnedByOther reports whether an object with the given labels belongs to
// another ApplySet, and which.
func (o Owner) OwnedByOther(labels map[string]string) (string, bool) {
	id := labels[LabelApplySetPartOf]
	return id, id != "" && id != o.ID
}
