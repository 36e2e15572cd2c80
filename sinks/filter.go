package sinks

import (
	"slices"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Filter selects the events a [Dispatcher] delivers. Its conditions are
// and-ed; the zero Filter selects every event.
type Filter struct {
	// Types, when not empty, selects events of these types; {EventDone}
	// delivers one event per unit reconcile.
	Types []reconcile.EventType
	// Stages, when not empty, selects events of these stages.
	Stages []reconcile.Stage
	// Units, when not empty, selects events of these units.
	Units []string
	// FailuresOnly selects failures: Failed events, objects that failed
	// (an error set, or the "failed" action) and Done events of a unit
	// left NotReady.
	FailuresOnly bool
	// Match, when set, must also accept the event.
	Match func(reconcile.Event) bool
}

// Allows reports whether the filter selects e.
func (f Filter) Allows(e reconcile.Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false
	}
	if len(f.Stages) > 0 && !slices.Contains(f.Stages, e.Stage) {
		return false
	}
	if len(f.Units) > 0 && !slices.Contains(f.Units, e.Unit) {
		return false
	}
	if f.FailuresOnly && !isFailure(e) {
		return false
	}
	return f.Match == nil || f.Match(e)
}

func isFailure(e reconcile.Event) bool {
	switch e.Type {
	case reconcile.EventFailed:
		return true
	case reconcile.EventObject:
		return e.Err != nil || e.Action == "failed"
	case reconcile.EventDone:
		return e.Status != nil && e.Status.Phase == reconcile.PhaseNotReady
	}
	return false
}
