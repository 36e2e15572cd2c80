// Package apply makes a cluster match a set of objects with server-side
// apply, prunes what left the set, and says exactly what it did.
//
// # Applying
//
// A [Manager] (one per cluster; reuse it, it caches discovery) applies
// objects with [Manager.Apply] in stages: CRDs and Namespaces first (CRDs
// are then waited for until Established and the RESTMapper is refreshed, so
// custom resources of kinds that were unknown at the start resolve), then the
// other cluster-scoped objects, then the rest. Within a stage up to
// [ApplyOptions.Concurrency] requests run at once, and the clients are not
// throttled client-side unless the caller's rest.Config sets a limit.
//
// Every object is applied with the field manager [DefaultFieldManager] (or
// [ManagerOptions.FieldManager]). Conflicts with other field managers are
// errors ([*FieldConflictError]) unless [ApplyOptions.Force] or the
// [AnnotationForce] annotation asks to take the fields over; a change to an
// immutable field gives an [*ImmutableFieldError] naming the object and the
// field, or, when forced, deletes and recreates the object.
// [ApplyOptions.DryRun] computes the same [ChangeSet] with server-side
// dry-run requests and changes nothing; objects of a kind whose CRD, or in
// a namespace whose Namespace, the set itself or [ApplyOptions.Preceding]
// (what sets applied before it would create) holds are reported as created,
// since the API server cannot dry-run them yet.
//
// # Change sets and drift
//
// The [ChangeSet] says for every object whether it was created, configured,
// unchanged, deleted, skipped or failed, and why; [ChangeSet.Summary] is a
// one-line account. A dry run, or an apply with [ApplyOptions.ReportDrift],
// lists per object the fields that differed ([FieldDiff], Secret values
// masked). [IgnoreRule]s (JSON pointers plus a [Selector]) name fields that
// another controller manages: they are neither applied nor reported.
//
// # Units, inventory and the fast path
//
// With [ApplyOptions.Inventory] (an inventory.Storage such as
// *inventory.Store) an apply is a unit's apply:
//
//   - every object gets the unit's ownership labels (inventory.Owner);
//   - an object that belongs to another unit is refused with an
//     [*OwnershipError] unless the [Policy] allows adopting it;
//   - the inventory is written before any new object is created (listing
//     the new objects, so a crash never forgets an object we created) and
//     after the apply, recording per object the hash of the applied manifest
//     ([ManifestHash]) and the resourceVersion the server returned;
//   - before each stage, one metadata-only LIST per resource and namespace
//     (label-selected) gives every object's live resourceVersion. An object
//     whose manifest hash and live resourceVersion both match the inventory
//     has not changed in Git nor in the cluster and is reported unchanged
//     without any request. Everything else is applied, with exactly one
//     request per object, whose answer tells created (201) from configured
//     or unchanged (resourceVersion).
//
// So a first apply of N objects costs N server-side apply requests plus a
// LIST per resource and namespace, and a reconcile where nothing changed
// costs only the LISTs and the inventory read. Status changes made by
// controllers change the resourceVersion too: such objects are re-applied
// (a no-op on the server) once, and the new resourceVersion is recorded.
//
// # Pruning and removing a unit
//
// [Manager.Prune] is the step after a successful apply: it takes that
// apply's ChangeSet (and refuses a failed one with [ErrApplyFailed]),
// deletes the stale objects (in the previous inventory and not in the
// current set) that still carry the unit's labels and are not annotated
// [AnnotationPrune]: [Disabled], Namespaces last, and keeps in the inventory
// every object whose delete failed. [Manager.DeleteUnit] removes a whole
// unit, deleting or orphaning ([Orphaned]) its objects.
//
// An apply with no stored inventory (a first apply, or a lost inventory;
// not an inventory stored empty) first looks for what the unit applied before: a label-selected metadata
// LIST per listable resource, keeping objects whose ownership label our field
// manager applied (copied labels do not count). What it finds and no longer
// wants becomes stale, so nothing that left Git meanwhile is leaked.
//
// # Annotations
//
// The per-object annotations are defined in this package: [AnnotationReconcile]
// (skip), [AnnotationCreateOnly], [AnnotationForce] and [AnnotationPrune].
// The ownership and ApplySet labels are defined in package inventory.
//
// # Errors
//
// Apply and Prune return an [*Error] listing the failed objects; errors.As
// finds the per-object [*ImmutableFieldError], [*OwnershipError] and
// [*FieldConflictError], and errors.Is finds [ErrUnknownKind] and
// [ErrBeingDeleted].
package apply
