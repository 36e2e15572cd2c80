package inventory

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

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
	for _, v := range []string{name, namespace} {
		if v == "" {
			return Owner{}, fmt.Errorf("inventory: unit name and namespace are required")
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return Owner{}, fmt.Errorf("inventory: %q is not a valid label value: %v", v, errs)
		}
	}
	return Owner{Unit: name, Namespace: namespace, ID: ApplySetID(name, namespace, string(kind), "")}, nil
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
