package inventory

import (
	"cmp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/internal/object"
)

// Entry is one object in an inventory: its identity, the hash of the
// manifest that was applied and the resourceVersion the API server returned
// for it.
type Entry struct {
	Group     string `json:"g,omitempty"`
	Version   string `json:"v"`
	Kind      string `json:"k"`
	Namespace string `json:"ns,omitempty"`
	Name      string `json:"n"`
	// Hash identifies the applied manifest (see package apply). Empty when
	// the object was recorded before it was applied.
	Hash string `json:"h,omitempty"`
	// ResourceVersion is the object's resourceVersion in the API server's
	// answer to our apply. Empty when unknown.
	ResourceVersion string `json:"rv,omitempty"`
	// Fingerprint digests the fields the apply left owned by our field
	// manager (see package cluster's Fingerprint): with it, an object
	// whose resourceVersion changed since the apply because of its status
	// (or of fields only others own) still counts as unchanged. Empty when
	// unknown.
	Fingerprint string `json:"fp,omitempty"`
}

// ID is the identity of an object across API versions: group, kind,
// namespace and name. Two entries with the same ID are the same object. It
// is the key type every gitopskit package shares.
type ID = object.Key

// ID returns the entry's identity.
func (e Entry) ID() ID { return ID{Group: e.Group, Kind: e.Kind, Namespace: e.Namespace, Name: e.Name} }

// GroupVersionKind returns the entry's group, version and kind.
func (e Entry) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: e.Group, Version: e.Version, Kind: e.Kind}
}

// String returns the entry's ID as "group/Kind/namespace/name" ("core" for
// the core group, an empty namespace for cluster-scoped objects).
func (e Entry) String() string { return e.ID().String() }

// EntryFor returns the entry identifying obj, without hash or resourceVersion.
func EntryFor(obj *unstructured.Unstructured) Entry {
	gvk := obj.GroupVersionKind()
	return Entry{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Inventory is the record of the objects a unit applied. It is a plain value:
// [Store] keeps it in the cluster, and a caller may as well keep it in its own
// object's status.
type Inventory struct {
	// Entries are the objects, sorted by [Inventory.Sort]'s order.
	Entries []Entry
	// ResourceVersion is the resourceVersion of the stored parent object
	// the inventory was loaded from or last saved to; empty when it was not
	// stored yet. [Store.Save] uses it for optimistic concurrency.
	ResourceVersion string
}

// compareEntries orders entries by ID, then API version, hash,
// resourceVersion and fingerprint: a total order, so that even duplicates sort the same
// whatever their input order.
func compareEntries(a, b Entry) int {
	return cmp.Or(object.Compare(a.ID(), b.ID()), strings.Compare(a.Version, b.Version),
		strings.Compare(a.Hash, b.Hash), strings.Compare(a.ResourceVersion, b.ResourceVersion),
		strings.Compare(a.Fingerprint, b.Fingerprint))
}

// Sort orders the entries by group, kind, namespace and name (then API
// version, hash, resourceVersion and fingerprint), so that equal inventories serialise to
// equal bytes.
func (inv *Inventory) Sort() { slices.SortFunc(inv.Entries, compareEntries) }

// Len returns the number of entries.
func (inv Inventory) Len() int { return len(inv.Entries) }

// Index returns the entries by ID. Later duplicates win.
func (inv Inventory) Index() map[ID]Entry {
	m := make(map[ID]Entry, len(inv.Entries))
	for _, e := range inv.Entries {
		m[e.ID()] = e
	}
	return m
}

// Get returns the entry with the given ID.
func (inv Inventory) Get(id ID) (Entry, bool) {
	for _, e := range inv.Entries {
		if e.ID() == id {
			return e, true
		}
	}
	return Entry{}, false
}

// Diff returns the entries of previous whose objects are not in current:
// what a unit applied before and no longer wants, the candidates for
// pruning. Objects are compared by [ID], so an object whose API version
// changed is not stale. The result keeps previous's order.
func Diff(previous, current Inventory) []Entry {
	cur := current.Index()
	var stale []Entry
	for _, e := range previous.Entries {
		if _, ok := cur[e.ID()]; !ok {
			stale = append(stale, e)
		}
	}
	return stale
}

// Equal reports whether two inventories hold the same entries (in order),
// ignoring ResourceVersion of the stored parent.
func Equal(a, b Inventory) bool { return slices.Equal(a.Entries, b.Entries) }

// GroupKinds returns the sorted, distinct group-kinds of the entries in the
// ApplySet notation "Kind.group" ("Service" for the core group).
func (inv Inventory) GroupKinds() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range inv.Entries {
		gk := schema.GroupKind{Group: e.Group, Kind: e.Kind}.String()
		if !seen[gk] {
			seen[gk] = true
			out = append(out, gk)
		}
	}
	slices.Sort(out)
	return out
}

// Namespaces returns the sorted, distinct namespaces of the namespaced
// entries.
func (inv Inventory) Namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range inv.Entries {
		if e.Namespace != "" && !seen[e.Namespace] {
			seen[e.Namespace] = true
			out = append(out, e.Namespace)
		}
	}
	slices.Sort(out)
	return out
}
