package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// maxOwnersInSelector bounds the owners FindOwned names in its label
// selector.
const maxOwnersInSelector = 16

// FindOwnedOptions configure [Manager.FindOwned].
type FindOwnedOptions struct {
	// Namespaces are listed one by one for resources the identity may not
	// list across the cluster (a tenant).
	Namespaces []string
	// Concurrency bounds the LISTs in flight. Default 8.
	Concurrency int
}

// FindOwned looks for the objects that units applied, for units whose
// inventory was lost (deleted, or never saved after a crash): without it an
// object that left Git while the inventory was missing would keep the
// unit's labels and never be pruned.
//
// It costs one metadata LIST per listable resource, whatever the number of
// owners, selected by the owners' ApplySet labels (falling back to one LIST
// per namespace of opts.Namespaces for resources the identity may not list
// cluster-wide). Labels alone are no proof (operators copy labels): an
// object counts only if our field manager applied the ownership label, as
// its managedFields record. The result maps each owner's ID to its objects,
// sorted. LISTs that fail are reported in the error, joined, together with
// what the others found: the caller decides whether a partial answer is
// good enough.
func (m *Manager) FindOwned(ctx context.Context, owners []inventory.Owner, opts FindOwnedOptions) (map[string][]inventory.Entry, error) {
	if len(owners) == 0 {
		return map[string][]inventory.Entry{}, nil
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	resources, err := m.cluster.ListableResources()
	if err != nil {
		return nil, fmt.Errorf("apply: search for lost inventories: %w", err)
	}
	ids := make([]string, 0, len(owners))
	for _, o := range owners {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	// Name the owners in the selector while the URL stays short; for many
	// owners, select every ApplySet member and filter here.
	var req *labels.Requirement
	if len(ids) <= maxOwnersInSelector {
		req, err = labels.NewRequirement(inventory.LabelApplySetPartOf, selection.In, ids)
	} else {
		req, err = labels.NewRequirement(inventory.LabelApplySetPartOf, selection.Exists, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("apply: search for lost inventories: %w", err)
	}
	sel := labels.NewSelector().Add(*req).String()
	var (
		mu    sync.Mutex
		found = map[string][]inventory.Entry{}
		errs  []error
	)
	list := func(ctx context.Context, r cluster.Resource, namespace string) error {
		l, err := m.meta.Resource(r.Resource).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, o := range l.Items {
			id := o.Labels[inventory.LabelApplySetPartOf]
			if want[id] && m.appliedOwnershipLabel(o.ManagedFields) {
				found[id] = append(found[id], inventory.Entry{
					Group: r.Kind.Group, Version: r.Kind.Version, Kind: r.Kind.Kind,
					Namespace: o.Namespace, Name: o.Name,
				})
			}
		}
		return nil
	}
	skippable := func(err error) bool {
		return apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err)
	}
	forEach(ctx, len(resources), opts.Concurrency, func(ctx context.Context, i int) {
		r := resources[i]
		err := list(ctx, r, "")
		if err == nil || skippable(err) {
			return
		}
		if !apierrors.IsForbidden(err) {
			mu.Lock()
			errs = append(errs, fmt.Errorf("list %s: %w", r.Resource, err))
			mu.Unlock()
			return
		}
		if !r.Namespaced {
			return // not ours to find: the identity may not see it
		}
		for _, ns := range opts.Namespaces {
			if err := list(ctx, r, ns); err != nil && !skippable(err) && !apierrors.IsForbidden(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("list %s in %s: %w", r.Resource, ns, err))
				mu.Unlock()
			}
		}
	})
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	for id, entries := range found {
		inv := inventory.Inventory{Entries: entries}
		inv.Sort()
		found[id] = slices.CompactFunc(inv.Entries, func(a, b inventory.Entry) bool { return a.ID() == b.ID() })
	}
	if len(errs) > 0 {
		return found, fmt.Errorf("apply: search for lost inventories: %w", errors.Join(errs...))
	}
	return found, nil
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
