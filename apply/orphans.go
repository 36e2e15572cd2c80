package apply

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitopskit/gitopskit/internal/kube"
	"github.com/gitopskit/gitopskit/inventory"
)

// findApplied looks for the objects a unit applied when its inventory is
// empty: a first apply, or an inventory that was deleted or lost while the
// objects stayed. Without it, an object that left Git while the inventory
// was missing would keep the unit's labels and never be pruned.
//
// It lists, metadata only and selected by the unit's ApplySet label, every
// listable resource across the cluster: one LIST per resource. A caller not
// allowed to list a namespaced resource cluster-wide (a tenant) lists it in
// the given namespaces instead. Labels alone are no proof (operators copy
// labels): an object counts only if our field manager applied the ApplySet
// label, which managedFields record. Lists that fail are skipped: the search
// is a best effort, never a reason to fail the apply.
func (m *Manager) findApplied(ctx context.Context, owner inventory.Owner, namespaces []string, concurrency int) []inventory.Entry {
	resources, err := m.mapper.ListableResources()
	if err != nil {
		m.log.DebugContext(ctx, "no search for objects of a lost inventory", "error", err)
		return nil
	}
	sel := labels.SelectorFromSet(labels.Set{inventory.LabelApplySetPartOf: owner.ID}).String()
	var (
		mu    sync.Mutex
		found []inventory.Entry
	)
	list := func(ctx context.Context, r kube.ListableResource, namespace string) error {
		l, err := m.meta.Resource(r.Resource).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, o := range l.Items {
			if m.appliedOwnershipLabel(o.ManagedFields) {
				found = append(found, inventory.Entry{
					Group: r.Kind.Group, Version: r.Kind.Version, Kind: r.Kind.Kind,
					Namespace: o.Namespace, Name: o.Name,
				})
			}
		}
		return nil
	}
	skip := func(ctx context.Context, r kube.ListableResource, namespace string, err error) {
		if !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			m.log.DebugContext(ctx, "search for objects of a lost inventory: list failed", "resource", r.Resource.String(), "namespace", namespace, "error", err)
		}
	}
	forEach(ctx, len(resources), concurrency, func(ctx context.Context, i int) {
		r := resources[i]
		err := list(ctx, r, "")
		if err == nil {
			return
		}
		if !r.Namespaced || !apierrors.IsForbidden(err) {
			skip(ctx, r, "", err)
			return
		}
		for _, ns := range namespaces {
			if err := list(ctx, r, ns); err != nil {
				skip(ctx, r, ns, err)
			}
		}
	})
	inv := inventory.Inventory{Entries: found}
	inv.Sort()
	return slices.CompactFunc(inv.Entries, func(a, b inventory.Entry) bool { return a.ID() == b.ID() })
}

// appliedOwnershipLabel reports whether our field manager set the ApplySet
// membership label with a server-side apply.
func (m *Manager) appliedOwnershipLabel(fields []metav1.ManagedFieldsEntry) bool {
	for _, f := range fields {
		if f.Manager != m.opts.FieldManager || f.Operation != metav1.ManagedFieldsOperationApply || f.FieldsV1 == nil {
			continue
		}
		var set struct {
			Metadata struct {
				Labels map[string]json.RawMessage `json:"f:labels"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(f.FieldsV1.GetRawBytes(), &set) != nil {
			continue
		}
		if _, ok := set.Metadata.Labels["f:"+inventory.LabelApplySetPartOf]; ok {
			return true
		}
	}
	return false
}

// searchNamespaces returns the namespaces the items live in, and those
// they create, sorted.
func searchNamespaces(items []*item) []string {
	seen := map[string]bool{}
	for _, it := range items {
		e := it.entry
		switch {
		case e.Namespace != "":
			seen[e.Namespace] = true
		case e.Group == "" && e.Kind == "Namespace":
			seen[e.Name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}
