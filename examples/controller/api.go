package main

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/source"
)

// The API of this controller: gitops.example.com/v1alpha1 GitOpsUnit. The
// types, their deep copies and their registration are written by hand; a
// bigger API would generate them with controller-gen.

// GroupVersion is the API group and version of GitOpsUnit.
var GroupVersion = schema.GroupVersion{Group: "gitops.example.com", Version: "v1alpha1"}

// Kind is the kind of the custom resource.
const Kind = "GitOpsUnit"

var (
	schemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &GitOpsUnit{}, &GitOpsUnitList{})
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})
	// AddToScheme registers GitOpsUnit and GitOpsUnitList.
	AddToScheme = schemeBuilder.AddToScheme
)

// GitOpsUnit is a path of a Git repository, built with kustomize and kept
// applied to the cluster.
type GitOpsUnit struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitOpsUnitSpec   `json:"spec"`
	Status GitOpsUnitStatus `json:"status,omitempty"`
}

// GitOpsUnitSpec is what to apply and how.
type GitOpsUnitSpec struct {
	// URL of the Git repository (https://, http://, ssh:// or scp-like).
	URL string `json:"url"`
	// Ref is the branch, tag, semver range or commit; the default branch
	// when empty.
	Ref GitRef `json:"ref,omitempty"`
	// Path of the kustomization in the repository; the root when empty.
	Path string `json:"path,omitempty"`
	// Prune deletes objects that left Git, and all objects when the unit is
	// deleted. Without it they are left in place (orphaned on delete).
	Prune bool `json:"prune,omitempty"`
	// Wait waits for the objects to be ready before the unit is Ready.
	Wait bool `json:"wait,omitempty"`
	// Interval between reconciles. Default 5m.
	Interval metav1.Duration `json:"interval,omitempty"`
	// Timeout bounds one reconcile (fetch, build, apply, prune, wait) and
	// the removal of a deleted unit's objects. Default the interval.
	Timeout metav1.Duration `json:"timeout,omitempty"`
	// TargetNamespace sets the namespace of every namespaced object.
	TargetNamespace string `json:"targetNamespace,omitempty"`
	// Suspend stops reconciling; deleting a suspended unit leaves its
	// objects in place.
	Suspend bool `json:"suspend,omitempty"`
}

// GitRef names a revision. When several fields are set the first of commit,
// semver, tag and branch wins.
type GitRef struct {
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	SemVer string `json:"semver,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// GitOpsUnitStatus is what the controller observed and did.
type GitOpsUnitStatus struct {
	// ObservedGeneration is the generation of the spec last reconciled.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions hold the Ready condition.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastAttemptedRevision is the revision last fetched, e.g.
	// "main@sha1:<hex>".
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`
	// LastAppliedRevision is the revision last reconciled successfully.
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`
	// LastChange says what the last reconcile that changed the cluster
	// did, e.g. "2 created, 1 unchanged; 1 pruned".
	LastChange string `json:"lastChange,omitempty"`
	// Inventory lists the objects the unit applied. Only the inventory
	// storage (statusStorage) writes it.
	Inventory []InventoryEntry `json:"inventory,omitempty"`
}

// InventoryEntry is one applied object. Its fields are those of
// inventory.Entry, so the two convert into each other.
type InventoryEntry struct {
	Group           string `json:"group,omitempty"`
	Version         string `json:"version"`
	Kind            string `json:"kind"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name"`
	Hash            string `json:"hash,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Fingerprint     string `json:"fingerprint,omitempty"`
}

// GitOpsUnitList is a list of GitOpsUnits.
type GitOpsUnitList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitOpsUnit `json:"items"`
}

// ReadyCondition is the type of the condition saying whether the cluster
// complies with the unit's revision.
const ReadyCondition = "Ready"

// Defaults for empty durations.
const defaultInterval = 5 * time.Minute

// interval returns the spec's interval or the default.
func (s GitOpsUnitSpec) interval() time.Duration {
	if s.Interval.Duration > 0 {
		return s.Interval.Duration
	}
	return defaultInterval
}

// timeout returns the spec's timeout or the interval.
func (s GitOpsUnitSpec) timeout() time.Duration {
	if s.Timeout.Duration > 0 {
		return s.Timeout.Duration
	}
	return s.interval()
}

// sourceRef returns the ref in package source's terms.
func (r GitRef) sourceRef() source.Ref {
	return source.Ref{Branch: r.Branch, Tag: r.Tag, SemVer: r.SemVer, Commit: r.Commit}
}

// inventory returns the status inventory as the library's plain value.
func (s GitOpsUnitStatus) inventory() inventory.Inventory {
	inv := inventory.Inventory{Entries: make([]inventory.Entry, 0, len(s.Inventory))}
	for _, e := range s.Inventory {
		inv.Entries = append(inv.Entries, inventory.Entry(e))
	}
	return inv
}

// DeepCopyInto copies in into out.
func (in *GitOpsUnit) DeepCopyInto(out *GitOpsUnit) {
	*out = *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = in.Spec // only values
	in.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a deep copy.
func (in *GitOpsUnit) DeepCopy() *GitOpsUnit {
	if in == nil {
		return nil
	}
	out := new(GitOpsUnit)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *GitOpsUnit) DeepCopyObject() runtime.Object {
	if c := in.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies in into out.
func (in *GitOpsUnitStatus) DeepCopyInto(out *GitOpsUnitStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
	if in.Inventory != nil {
		out.Inventory = append([]InventoryEntry(nil), in.Inventory...)
	}
}

// DeepCopyInto copies in into out.
func (in *GitOpsUnitList) DeepCopyInto(out *GitOpsUnitList) {
	*out = *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]GitOpsUnit, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopyObject implements runtime.Object.
func (in *GitOpsUnitList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := new(GitOpsUnitList)
	in.DeepCopyInto(out)
	return out
}
