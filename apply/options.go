package apply

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/cluster"
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

// LostInventoryPolicy says whether an apply with no stored inventory
// searches the cluster for the objects the unit applied before.
type LostInventoryPolicy string

const (
	// SearchIfEmpty searches (one LIST per listable resource, see
	// [Manager.FindOwned]) whenever no inventory is stored (Load returns
	// no entries and no ResourceVersion) and no [ApplyOptions.Recover] is
	// set; an inventory stored empty is a unit that applied nothing. The
	// default: right for a single unit whose history the caller does not
	// know.
	SearchIfEmpty LostInventoryPolicy = "SearchIfEmpty"
	// NoSearch trusts an empty inventory: for callers that know the unit is
	// new.
	NoSearch LostInventoryPolicy = "NoSearch"
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
	// Preceding, in a dry run, are objects that will exist before this set
	// is applied but do not exist yet: the CustomResourceDefinitions and
	// Namespaces that units planned before this one would create (a CRD a
	// dependency's chart installs, a namespace an earlier unit makes).
	// Objects of the kinds those CRDs define, or in those Namespaces, are
	// reported as created instead of failing a dry run the API server
	// cannot do yet, as for the CRDs and Namespaces of the set itself.
	// Other objects are ignored, and so is Preceding when not DryRun.
	Preceding []*unstructured.Unstructured
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
	// Reads, when set, shares the metadata LISTs of the apply with other
	// applies of the same run (one LIST per resource, namespace and
	// identity serves them all). Keep one per run: it does not see changes
	// made after its LISTs.
	Reads *cluster.Reads
	// LostInventory says what an apply with no stored inventory does to
	// find what the unit applied before. Default [SearchIfEmpty].
	LostInventory LostInventoryPolicy
	// Recover, when set, is called instead of the search when no
	// inventory is stored, and returns the objects the unit owned before:
	// for callers that know whether the unit existed and search for many
	// units in one pass (see [Manager.FindOwned]). An error fails the apply
	// before anything is changed.
	Recover func(ctx context.Context) ([]inventory.Entry, error)
	// WaitTimeout bounds the wait for CRDs to be Established and for an
	// object being recreated to be gone. Default 1 minute.
	WaitTimeout time.Duration

	// prefetched holds the LISTs Apply started early; set by Apply.
	prefetched *prefetched
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
	if o.LostInventory == "" {
		o.LostInventory = SearchIfEmpty
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
	// AllowEmpty lets a prune delete every object of a unit whose desired
	// set is empty. Without it such a prune is refused with a
	// [*PruneRefusedError]: a commit that deletes a unit's files by
	// accident, or a build that came back empty, must not wipe the unit.
	// The guard counts what the unit owns in the cluster, including objects
	// a lost inventory's search found.
	AllowEmpty bool
	// MaxShare, between 0 and 1, refuses a prune that would delete more
	// than this share of the objects the unit owned before the apply (and
	// more than one object): a commit renaming every object counts as
	// deleting all of them. 0 means no limit.
	MaxShare float64
	// Approve, when set, is called with the objects a prune would delete
	// (never with an empty list) before any is deleted; an error refuses
	// the prune and is wrapped in the [*PruneRefusedError]. A dry-run
	// prune does not call it.
	Approve func(ctx context.Context, deletions []inventory.Entry) error
}

// DefaultPruneOptions returns the options Prune uses for zero fields.
func DefaultPruneOptions() PruneOptions { return PruneOptions{Concurrency: 8} }
