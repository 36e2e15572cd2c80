package apply

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gitopskit/gitopskit/inventory"
)

var (
	// ErrNoInventory is returned by [Manager.Prune] for a change set of an
	// apply that had no [ApplyOptions.Inventory]: there is nothing to
	// prune against.
	ErrNoInventory = errors.New("apply: no inventory")
	// ErrApplyFailed is returned by [Manager.Prune] for a change set of an
	// apply that failed or did not run: pruning then could delete objects
	// that are still wanted.
	ErrApplyFailed = errors.New("apply: the apply failed; not pruning")
	// ErrUnknownKind is matched (errors.Is) by the error of an object whose
	// kind the API server does not serve, even after the CRD stage.
	ErrUnknownKind = errors.New("unknown kind")
	// ErrBeingDeleted is matched (errors.Is) by the error of an object
	// that is being deleted (its namespace terminating, or finalizers
	// pending): the apply cannot stop the deletion, so the object is
	// reported failed, not unchanged, and is created again by an apply once
	// it is gone.
	ErrBeingDeleted = errors.New("object is being deleted")
	// ErrPruneRefused is matched by every [*PruneRefusedError].
	ErrPruneRefused = errors.New("prune refused")
)

// PruneRefusedError says why [Manager.Prune] deleted nothing: the desired
// set is empty ([PruneOptions.AllowEmpty]), the deletions exceed
// [PruneOptions.MaxShare], or [PruneOptions.Approve] said no.
type PruneRefusedError struct {
	// Deletions is the number of objects the prune would have deleted, of
	// Owned objects the unit owns.
	Deletions, Owned int
	// Reason says which guard refused.
	Reason string
	// Err is the Approve hook's error, if it refused.
	Err error
}

func (e *PruneRefusedError) Error() string {
	msg := fmt.Sprintf("apply: refusing to prune %d of the unit's %d objects: %s", e.Deletions, e.Owned, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrPruneRefused and the hook's error.
func (e *PruneRefusedError) Unwrap() []error { return []error{ErrPruneRefused, e.Err} }

// Error is returned by [Manager.Apply] and [Manager.Prune] when objects
// failed. Its Unwrap gives each object's error, so errors.As finds an
// [*ImmutableFieldError], [*OwnershipError] or [*FieldConflictError].
type Error struct {
	// Failed are the failed changes.
	Failed []Change
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d object(s) failed", len(e.Failed))
	for i, c := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %v", c.Object, c.Err)
	}
	return b.String()
}

// Unwrap returns the per-object errors.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, c := range e.Failed {
		errs = append(errs, c.Err)
	}
	return errs
}

// ImmutableFieldError says that applying an object would change fields the
// API server does not allow to change, and that the apply was not forced
// (neither [ApplyOptions.Force] nor [AnnotationForce]), so the object was
// not recreated.
type ImmutableFieldError struct {
	Object inventory.Entry
	// Fields are the immutable fields, as the API server names them
	// ("spec.selector").
	Fields []string
	Err    error
}

func (e *ImmutableFieldError) Error() string {
	return fmt.Sprintf("%s: immutable field(s) %s changed; set force to recreate the object", e.Object, strings.Join(e.Fields, ", "))
}

// Unwrap returns the API server's error.
func (e *ImmutableFieldError) Unwrap() error { return e.Err }

// OwnershipError says that an object exists and belongs to another unit (or,
// under [MustMatch], to no unit), and the adoption policy does not allow
// taking it over.
type OwnershipError struct {
	Object inventory.Entry
	// Owner is the ApplySet ID the live object is labelled with; empty
	// when it belongs to no unit.
	Owner  string
	Policy Policy
}

func (e *OwnershipError) Error() string {
	if e.Owner == "" {
		return fmt.Sprintf("%s exists and belongs to no unit; policy %s does not adopt it", e.Object, e.Policy)
	}
	return fmt.Sprintf("%s belongs to another unit (ApplySet %s); policy %s does not adopt it", e.Object, e.Owner, e.Policy)
}

// FieldConflictError says that other field managers own fields the apply
// sets to different values, and the apply was not forced.
type FieldConflictError struct {
	Object inventory.Entry
	// Conflicts are the API server's descriptions, naming field and manager
	// (`conflict with "kubectl-edit" using v1: .data.color`).
	Conflicts []string
	Err       error
}

func (e *FieldConflictError) Error() string {
	return fmt.Sprintf("%s: field conflicts (set force to take them over): %s", e.Object, strings.Join(e.Conflicts, "; "))
}

// Unwrap returns the API server's error.
func (e *FieldConflictError) Unwrap() error { return e.Err }
