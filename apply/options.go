package apply

import (
	"time"

	"github.com/gitopskit/gitopskit/inventory"
)

// Policy says which existing objects an apply may take over.
type Policy string

const (
	// AdoptIfNoInventory takes over objects that belong to no unit and
	// refuses objects that belong to another unit. The default.
	AdoptIfNoInventory Policy = "AdoptIfNoInventory"
	// MustMatch only changes objects that already belong to this unit (or
	// do not exist yet).
	MustMatch Policy = "MustMatch"
	// AdoptAll takes over any object, even one another unit owns.
	AdoptAll Policy = "AdoptAll"
)

// ApplyOptions configure one [Manager.Apply].
type ApplyOptions struct {
	// Inventory, when set, makes the apply a unit's apply: every object
	// gets the unit's ownership labels, the adoption policy is enforced,
	// objects whose manifest hash and live resourceVersion match the
	// inventory are skipped without a request, and the inventory is written
	// before new objects are created and after the apply. Without it, the
	// apply applies every object and records nothing.
	Inventory inventory.Storage
	// Policy says which existing objects may be taken over.
	// Default [AdoptIfNoInventory].
	Policy Policy
	// Force takes over fields other managers own, and deletes and
	// recreates objects whose immutable fields change. Per object:
	// [AnnotationForce].
	Force bool
	// TakeOverConflicts puts back fields that another field manager took
	// (a kubectl edit, say) instead of failing with a [*FieldConflictError]:
	// the apply is retried with force and the change's reason names the
	// fields and managers it took them from, so drift is corrected but never
	// silently. GitOps reconcilers, where Git wins, set it; unlike Force it
	// never deletes and recreates objects.
	TakeOverConflicts bool
	// DryRun computes the change set (with drift) without changing
	// anything: server-side dry-run applies, no inventory write.
	DryRun bool
	// ReportDrift fetches each object that is applied (not the ones the
	// inventory shows unchanged) to report which fields the apply changed.
	// Costs one GET per such object. Always on in a dry run.
	ReportDrift bool
	// Ignore rules remove fields from what is applied and from the drift
	// report, for fields another controller manages.
	Ignore []IgnoreRule
	// DefaultNamespace is given to namespaced objects that have no
	// namespace, as kubectl apply --namespace does; objects with a
	// namespace keep theirs. Scope comes from discovery, or from the CRDs in
	// the set for their own kinds. Empty: a namespaced object without a
	// namespace fails.
	DefaultNamespace string
	// Concurrency bounds the requests in flight within a stage. Default 8.
	Concurrency int
	// WaitTimeout bounds the wait for CRDs to be Established and for an
	// object being recreated to be gone. Default 1 minute.
	WaitTimeout time.Duration
}

// DefaultApplyOptions returns the options Apply uses for zero fields.
func DefaultApplyOptions() ApplyOptions {
	return ApplyOptions{Policy: AdoptIfNoInventory, Concurrency: 8, WaitTimeout: time.Minute}
}

func (o ApplyOptions) withDefaults() ApplyOptions {
	def := DefaultApplyOptions()
	if o.Policy == "" {
		o.Policy = def.Policy
	}
	if o.Concurrency <= 0 {
		o.Concurrency = def.Concurrency
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = def.WaitTimeout
	}
	return o
}

// PruneOptions configure one [Manager.Prune].
type PruneOptions struct {
	// Concurrency bounds the requests in flight. Default 8.
	Concurrency int
}

// DefaultPruneOptions returns the options Prune uses for zero fields.
func DefaultPruneOptions() PruneOptions { return PruneOptions{Concurrency: 8} }
