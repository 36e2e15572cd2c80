package inventory

import (
	"errors"
	"fmt"
)

// ErrConflict is matched (errors.Is) by every [*ConflictError].
var ErrConflict = errors.New("inventory: conflict")

// ConflictError says that the stored inventory changed (or was created or
// deleted) since it was loaded: another writer got there first. Load it
// again and retry.
type ConflictError struct {
	// Namespace and Name of the parent object.
	Namespace, Name string
	Err             error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("inventory %s/%s changed since it was loaded: %v", e.Namespace, e.Name, e.Err)
}

// Unwrap returns the API error.
func (e *ConflictError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrConflict].
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ForeignToolError says that the inventory's parent object exists but is
// not an ApplySet managed by gitopskit: another tool (named in its tooling
// annotation) or no tool owns it. gitopskit never overwrites it.
type ForeignToolError struct {
	// Namespace, Name and Kind of the parent object.
	Namespace, Name, Kind string
	// Tooling is the parent's tooling annotation ("" when absent).
	Tooling string
	// Reason says what does not match.
	Reason string
}

func (e *ForeignToolError) Error() string {
	return fmt.Sprintf("inventory %s %s/%s is not ours (%s)", e.Kind, e.Namespace, e.Name, e.Reason)
}
