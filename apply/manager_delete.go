package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/inventory"
)

// DeletePolicy says what happens to a unit's objects when the unit goes.
type DeletePolicy string

const (
	// DeleteObjects deletes the unit's objects (as [Manager.Prune] would,
	// with the same ownership checks and order), then its inventory.
	DeleteObjects DeletePolicy = "Delete"
	// OrphanObjects leaves the objects in the cluster without the unit's
	// ownership labels, so that another unit may adopt them, and deletes
	// the inventory.
	OrphanObjects DeletePolicy = "Orphan"
)

// DeleteUnitOptions configure [Manager.DeleteUnit].
type DeleteUnitOptions struct {
	// Policy is [DeleteObjects] (the default) or [OrphanObjects].
	Policy DeletePolicy
	// Concurrency bounds the requests in flight. Default 8.
	Concurrency int
}

// DeleteUnit removes a whole unit: its objects (deleted or orphaned, see
// [DeletePolicy]) and then its inventory, if store is an
// [inventory.Deleter] (as [*inventory.Store] is). When an object cannot be deleted
// or orphaned it stays in the inventory, the inventory is kept, and
// DeleteUnit returns an [*Error].
func (m *Manager) DeleteUnit(ctx context.Context, store inventory.Storage, opts DeleteUnitOptions) (*ChangeSet, error) {
	if store == nil {
		return nil, ErrNoInventory
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultPruneOptions().Concurrency
	}
	inv, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	var cs *ChangeSet
	switch opts.Policy {
	case "", DeleteObjects:
		// Everything is stale: prune it all.
		all := &ChangeSet{storage: store, next: inv, stale: inv.Entries, applied: true, deleteAll: true}
		if cs, err = m.Prune(ctx, all, PruneOptions{Concurrency: opts.Concurrency}); err != nil {
			return cs, err
		}
	case OrphanObjects:
		cs = &ChangeSet{Changes: make([]Change, len(inv.Entries))}
		owner := store.Owner()
		forEach(ctx, len(inv.Entries), opts.Concurrency, func(ctx context.Context, i int) {
			cs.Changes[i] = m.orphan(ctx, inv.Entries[i], owner)
		})
		if failures := cs.Failures(); len(failures) > 0 {
			return cs, &Error{Failed: failures}
		}
	default:
		return nil, fmt.Errorf("apply: unknown delete policy %q", opts.Policy)
	}
	if d, ok := store.(inventory.Deleter); ok {
		cur, err := store.Load(ctx)
		if err != nil {
			return cs, fmt.Errorf("apply: %w", err)
		}
		if err := d.Delete(ctx, cur); err != nil {
			return cs, fmt.Errorf("apply: delete inventory: %w", err)
		}
	}
	return cs, nil
}

// orphan removes the unit's ownership labels from one object, if it still
// carries them.
func (m *Manager) orphan(ctx context.Context, e inventory.Entry, owner inventory.Owner) Change {
	c := Change{Object: e}
	mapping, err := m.cluster.Mapping(e.GroupVersionKind())
	if err != nil {
		c.Action, c.Reason = Skipped, "kind not served"
		return c
	}
	client := m.meta.Resource(mapping.Resource).Namespace(e.Namespace)
	live, err := client.Get(ctx, e.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Action, c.Reason = Skipped, "already gone"
		return c
	case err != nil:
		c.Action, c.Err = Failed, fmt.Errorf("get %s: %w", e, err)
		return c
	case !owner.Owns(live.Labels):
		c.Action, c.Reason = Skipped, "not labelled as this unit's"
		return c
	}
	labels := map[string]any{}
	for k := range owner.Labels() {
		labels[k] = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels, "resourceVersion": live.ResourceVersion}})
	_, err = client.Patch(ctx, e.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: m.opts.FieldManager})
	var status apierrors.APIStatus
	switch {
	case apierrors.IsConflict(err) && errors.As(err, &status):
		c.Action, c.Err = Failed, fmt.Errorf("orphan %s: changed while being orphaned: %w", e, err)
	case err != nil:
		c.Action, c.Err = Failed, fmt.Errorf("orphan %s: %w", e, err)
	default:
		c.Action, c.Reason = Orphaned, "ownership labels removed, object left in place"
	}
	return c
}
