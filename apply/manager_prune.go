package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/inventory"
)

// Prune deletes the objects that left the desired set: the stale objects of
// a successful apply (see [ChangeSet.Stale]). It is the step after
// [Manager.Apply] and refuses with [ErrApplyFailed] the change set of an
// apply that failed, and with [ErrNoInventory] one without inventory.
//
// An object is deleted only if it still exists with the unit's ownership
// label (so an object another unit or a person took over or recreated is
// left alone) and is not annotated [AnnotationPrune]: [Disabled]. Objects
// other than Namespaces and CRDs go first, then CRDs, then Namespaces, each
// after the previous group's deletes were accepted. Objects that were
// deleted, are gone or are no longer ours leave the inventory; an object
// whose delete failed stays in it, and Prune returns an [*Error].
//
// Before deleting anything Prune stores what the apply saved, when the
// inventory's storage keeps saves pending ([inventory.Committer]), and
// stops with the [*inventory.ConflictError] of an inventory that someone
// else changed meanwhile.
//
// For a dry-run apply's change set, Prune reports what it would delete
// (server-side dry-run deletes) and saves nothing.
func (m *Manager) Prune(ctx context.Context, applied *ChangeSet, opts PruneOptions) (*ChangeSet, error) {
	if applied == nil {
		return nil, ErrApplyFailed
	}
	if applied.storage == nil {
		return nil, ErrNoInventory
	}
	if !applied.applied && !applied.DryRun {
		return nil, ErrApplyFailed
	}
	if len(applied.Failures()) > 0 {
		return nil, ErrApplyFailed
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultPruneOptions().Concurrency
	}
	owner := applied.storage.Owner()
	stale := applied.Stale()
	if err := guardPrune(ctx, applied, stale, opts); err != nil {
		return nil, err
	}
	if c, ok := applied.storage.(inventory.Committer); ok && len(stale) > 0 && !applied.DryRun {
		// The apply's save may still be pending: stored first, so that
		// no prune acts on an inventory someone else changed meanwhile.
		if err := c.Commit(ctx); err != nil {
			return nil, fmt.Errorf("apply: prune: %w", err)
		}
	}
	cs := &ChangeSet{DryRun: applied.DryRun, storage: applied.storage, Changes: make([]Change, len(stale))}
	groups := [3][]int{}
	for i, e := range stale {
		cs.Changes[i] = Change{Object: e}
		switch gk := e.GroupVersionKind().GroupKind(); {
		case gk.Group == "" && gk.Kind == "Namespace":
			groups[2] = append(groups[2], i)
		case gk == crdGK:
			groups[1] = append(groups[1], i)
		default:
			groups[0] = append(groups[0], i)
		}
	}
	order := slices.Concat(groups[0], groups[1], groups[2])
	for _, g := range groups {
		forEach(ctx, len(g), opts.Concurrency, func(ctx context.Context, i int) {
			m.pruneOne(ctx, &cs.Changes[g[i]], owner, applied.DryRun)
		})
	}
	// Report in deletion order.
	ordered := make([]Change, 0, len(order))
	for _, i := range order {
		ordered = append(ordered, cs.Changes[i])
	}
	cs.Changes = ordered

	next := applied.Inventory()
	keep := map[inventory.ID]bool{}
	for _, c := range cs.Changes {
		if c.Action == Failed {
			keep[c.Object.ID()] = true
		}
	}
	staleIDs := map[inventory.ID]bool{}
	for _, e := range stale {
		staleIDs[e.ID()] = true
	}
	next.Entries = slices.DeleteFunc(next.Entries, func(e inventory.Entry) bool {
		return staleIDs[e.ID()] && !keep[e.ID()]
	})
	if !applied.DryRun && len(next.Entries) != len(applied.next.Entries) {
		if err := applied.storage.Save(ctx, &next); err != nil {
			// The stored inventory is still the applied one: say so.
			cs.next = applied.next
			return cs, fmt.Errorf("apply: save inventory after prune: %w", err)
		}
	}
	cs.next = next
	cs.stale = nil
	for _, e := range next.Entries {
		if keep[e.ID()] {
			cs.stale = append(cs.stale, e)
		}
	}
	if failures := cs.Failures(); len(failures) > 0 {
		return cs, &Error{Failed: failures}
	}
	cs.applied = !applied.DryRun
	return cs, nil
}

// guardPrune refuses a prune that would empty the unit, exceed the share,
// or that the caller's hook refuses.
func guardPrune(ctx context.Context, applied *ChangeSet, stale []inventory.Entry, opts PruneOptions) error {
	if len(stale) == 0 {
		return nil
	}
	owned := max(applied.owned, len(stale))
	refuse := func(reason string, err error) error {
		return &PruneRefusedError{Deletions: len(stale), Owned: owned, Reason: reason, Err: err}
	}
	if len(applied.next.Entries) == len(stale) && !opts.AllowEmpty && !applied.deleteAll {
		return refuse("the desired set is empty (allow it with AllowEmpty)", nil)
	}
	if opts.MaxShare > 0 && len(stale) > 1 && float64(len(stale)) > opts.MaxShare*float64(owned) {
		return refuse(fmt.Sprintf("more than %.0f%% of them (raise MaxShare to allow it)", 100*opts.MaxShare), nil)
	}
	if opts.Approve != nil && !applied.DryRun {
		if err := opts.Approve(ctx, slices.Clone(stale)); err != nil {
			return refuse("not approved", err)
		}
	}
	return nil
}

// pruneOne deletes one stale object if it is still ours.
func (m *Manager) pruneOne(ctx context.Context, c *Change, owner inventory.Owner, dryRun bool) {
	e := c.Object
	mapping, err := m.cluster.Mapping(e.GroupVersionKind())
	if meta.IsNoMatchError(err) {
		c.Action, c.Reason = Skipped, "kind no longer served; nothing to delete"
		return
	}
	if err != nil {
		c.Action, c.Err = Failed, fmt.Errorf("map %s: %w", e, err)
		return
	}
	ns := e.Namespace
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		ns = ""
	}
	live, err := m.meta.Resource(mapping.Resource).Namespace(ns).Get(ctx, e.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Action, c.Reason = Skipped, "already gone"
		return
	case err != nil:
		c.Action, c.Err = Failed, fmt.Errorf("get %s: %w", e, err)
		return
	case !owner.Owns(live.Labels):
		c.Action, c.Reason = Skipped, "no longer labelled as this unit's; left in place"
		return
	case !m.appliedOwnershipLabel(live.ManagedFields):
		// Labels alone are no proof: someone copied them (an operator,
		// a person), as the lost-inventory search also requires.
		c.Action, c.Reason = Skipped, "labelled as this unit's, but not by our field manager; left in place"
		return
	case live.Annotations[AnnotationPrune] == Disabled:
		c.Action, c.Reason = Skipped, "pruning disabled by annotation; left in place"
		return
	case live.DeletionTimestamp != nil:
		c.Action, c.Reason = Deleted, "already being deleted"
		return
	}
	uid := live.UID
	bg := metav1.DeletePropagationBackground
	dopts := metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}}
	if dryRun {
		dopts.DryRun = []string{metav1.DryRunAll}
	}
	err = m.meta.Resource(mapping.Resource).Namespace(ns).Delete(ctx, e.Name, dopts)
	var status apierrors.APIStatus
	switch {
	case apierrors.IsNotFound(err):
		c.Action, c.Reason = Skipped, "already gone"
	case apierrors.IsConflict(err) && errors.As(err, &status):
		c.Action, c.Reason = Skipped, "replaced by another object since it was checked; left in place"
	case err != nil:
		c.Action, c.Err = Failed, fmt.Errorf("delete %s: %w", e, err)
	case dryRun:
		c.Action, c.Reason = Deleted, "would be deleted"
	default:
		c.Action, c.Reason = Deleted, "pruned"
	}
}
