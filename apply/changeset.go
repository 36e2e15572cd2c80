package apply

import (
	"fmt"
	"strings"

	"github.com/gitopskit/gitopskit/inventory"
)

// Action is what happened to an object.
type Action string

// The actions, in the order [ChangeSet.Summary] lists them.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
	// Orphaned: left in the cluster without the unit's ownership labels
	// ([Manager.DeleteUnit] with [OrphanObjects]).
	Orphaned Action = "orphaned"
	Skipped  Action = "skipped"
	Failed   Action = "failed"
)

var actionOrder = []Action{Created, Configured, Unchanged, Deleted, Orphaned, Skipped, Failed}

// Change is the outcome for one object.
type Change struct {
	// Object identifies the object; after an apply its Hash and
	// ResourceVersion are what the inventory records.
	Object inventory.Entry
	Action Action
	// Reason says why, in a few words ("hash and resourceVersion match the
	// inventory", "reconcile disabled by annotation", ...).
	Reason string
	// Drift lists the fields that differed between the live object and
	// the applied one: always in a dry run, and in a real apply when
	// [ApplyOptions.ReportDrift] is set. Secret values are masked.
	Drift []FieldDiff
	// Err is set when Action is [Failed].
	Err error
}

// String returns "Kind/namespace/name action (reason)".
func (c Change) String() string {
	s := c.Object.String() + " " + string(c.Action)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Err != nil {
		s += ": " + c.Err.Error()
	}
	return s
}

// ChangeSet is the result of [Manager.Apply] or [Manager.Prune].
type ChangeSet struct {
	// Changes has one entry per object, in the order the objects were
	// given (for a prune: the order they were deleted in).
	Changes []Change
	// DryRun says nothing was changed in the cluster.
	DryRun bool

	// Set by Apply for Prune.
	storage inventory.Storage
	next    inventory.Inventory
	stale   []inventory.Entry
	applied bool
	// deleteAll: a DeleteUnit, which empties the unit on purpose.
	deleteAll bool
	// owned is the number of objects the unit owned before the apply (its
	// inventory, or what a lost inventory's search found).
	owned int
}

// ReasonTookOver starts the reason of a change whose apply took fields back
// from other field managers ([ApplyOptions.TakeOverConflicts]); the rest of
// the reason names the fields and managers.
const ReasonTookOver = "took over field(s) from other managers"

// ReasonWouldTakeOver starts the reason of a dry-run change whose apply
// would take fields back from other field managers.
const ReasonWouldTakeOver = "would take over field(s) from other managers"

// Count returns the number of changes with the action. A nil ChangeSet
// has none, so callers need no guard after a failed call.
func (cs *ChangeSet) Count(a Action) int {
	if cs == nil {
		return 0
	}
	n := 0
	for _, c := range cs.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Failures returns the failed changes.
func (cs *ChangeSet) Failures() []Change {
	if cs == nil {
		return nil
	}
	var out []Change
	for _, c := range cs.Changes {
		if c.Action == Failed {
			out = append(out, c)
		}
	}
	return out
}

// Summary returns a one-line account such as "2 created, 1 configured, 997
// unchanged", listing only the actions that occurred, or "no objects".
func (cs *ChangeSet) Summary() string {
	var parts []string
	for _, a := range actionOrder {
		if n := cs.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	if len(parts) == 0 {
		return "no objects"
	}
	s := strings.Join(parts, ", ")
	if cs.DryRun {
		s += " (dry run)"
	}
	return s
}

// Inventory returns the inventory recorded after the apply: the applied
// objects with their hashes and resourceVersions, plus the stale objects not
// pruned yet.
func (cs *ChangeSet) Inventory() inventory.Inventory {
	return inventory.Inventory{Entries: append([]inventory.Entry(nil), cs.next.Entries...), ResourceVersion: cs.next.ResourceVersion}
}

// Stale returns the objects the previous inventory held that the apply no
// longer wants: what [Manager.Prune] will delete.
func (cs *ChangeSet) Stale() []inventory.Entry { return append([]inventory.Entry(nil), cs.stale...) }
