package reconcile

import (
	"time"

	"github.com/gitopskit/gitopskit/inventory"
)

// Stage is a step of a unit's reconcile.
type Stage string

// The stages, in the order a reconcile goes through them.
const (
	StageFetch  Stage = "fetch"
	StageBuild  Stage = "build"
	StagePolicy Stage = "policy"
	StageApply  Stage = "apply"
	StagePrune  Stage = "prune"
	StageHealth Stage = "health"
	// StageHelm is a Helm unit's release action (install, upgrade, ...).
	StageHelm Stage = "helm"
	// StageRemove is the removal of a unit that left the configuration.
	StageRemove Stage = "remove"
	// StageDone carries the unit's new status.
	StageDone Stage = "done"
)

// EventType says what an [Event] reports.
type EventType string

// The event types. Callers branch on them, never on messages.
const (
	// EventProgress: a stage started or finished; Message says what.
	EventProgress EventType = "Progress"
	// EventObject: one object's outcome in a stage; Object is set, and
	// Action says what happened: an [apply.Action] ("created",
	// "configured", "unchanged", "deleted", "orphaned", "skipped",
	// "failed") in the apply, prune and remove stages, a health status
	// ("Current", "InProgress", "Failed", "NotFound") in the health stage.
	EventObject EventType = "Object"
	// EventFailed: the stage failed; Err is set.
	EventFailed EventType = "Failed"
	// EventDone: the unit's reconcile ended; Status is set.
	EventDone EventType = "Done"
)

// Event reports progress. Handlers receive them synchronously from the
// goroutine reconciling the unit, so they must be quick; units run in
// parallel, so a handler must be safe for concurrent use. A unit's events
// arrive in the order they happened.
type Event struct {
	Time  time.Time
	Type  EventType
	Unit  string
	Stage Stage
	// Revision is the source revision the unit works on, when known.
	Revision string
	// Object identifies the object of an [EventObject].
	Object inventory.ID
	// Action is what happened to Object; see [EventObject].
	Action string
	// Message says what is happening or happened.
	Message string
	// Err is set on [EventFailed] and on failed objects.
	Err error
	// Status is set on [EventDone].
	Status *UnitStatus
}

// EventHandler receives events.
type EventHandler func(Event)
