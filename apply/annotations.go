package apply

// The field manager and the per-object annotations apply understands. They
// are defined here and nowhere else; the ownership and ApplySet labels are in
// package inventory (inventory.LabelUnit, inventory.LabelApplySetPartOf, ...).
const (
	// DefaultFieldManager is the server-side apply field manager gitopskit
	// applies with unless [ManagerOptions.FieldManager] names another.
	DefaultFieldManager = "gitopskit"

	// AnnotationReconcile set to [Disabled] on the desired or the live
	// object makes apply leave the object alone: it is reported as
	// skipped, kept in the inventory and not pruned.
	AnnotationReconcile = "gitopskit.io/reconcile"
	// AnnotationCreateOnly set to [Enabled] makes apply create the object
	// when it is absent and never change it afterwards.
	AnnotationCreateOnly = "gitopskit.io/create-only"
	// AnnotationForce set to [Enabled] forces this object's apply: field
	// conflicts with other managers are taken over, and a change to an
	// immutable field deletes and recreates the object, as
	// [ApplyOptions.Force] does for every object.
	AnnotationForce = "gitopskit.io/force"
	// AnnotationPrune set to [Disabled] on the live object keeps it in the
	// cluster when it leaves the desired set: prune drops it from the
	// inventory instead of deleting it.
	AnnotationPrune = "gitopskit.io/prune"

	// Enabled is the value that turns an annotation's behaviour on.
	Enabled = "enabled"
	// Disabled is the value that turns reconciliation or pruning off.
	Disabled = "disabled"
)
