package reconcile

import "time"

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
	// StageDone carries the unit's new status.
	StageDone Stage = "done"
)

// Event reports progress. Handlers receive them synchronously from the
// goroutine reconciling the unit, so they must be quick; units of one
// dependency level run in parallel, so a handler must be safe for concurrent
// use.
type Event struct {
	Time     time.Time
	Unit     string
	Stage    Stage
	Revision string
	// Message says what is happening or happened.
	Message string
	// Err is set when the stage failed.
	Err error
	// Status is set on StageDone.
	Status *UnitStatus
}

// EventHandler receives events.
type EventHandler func(Event)
