package reconcile

import (
	"context"
)

// Run reconciles every unit once. Each unit starts as soon as the units it
// depends on are done (no level barriers), on one of at most
// [Options.Workers] workers; its [Unit.Timeout] bounds each of its stages
// from when the stage starts, after a worker picked it up. Each source is asked once whether it moved, and the units share one
// LIST per resource and namespace and one watch per resource and namespace
// for their waits. A unit whose dependencies are not Ready (at the same
// revision, when they share its source) is left Pending with the reason.
// Units that left the configuration are removed first (see package doc).
//
// Run returns the resulting compliance state. Failures of units are part of
// the state, not errors; the error is non-nil only when ctx ended.
func (r *Reconciler) Run(ctx context.Context) (Status, error) {
	r.runRound(ctx, r.unitOrder(), true)
	return r.Status(), ctx.Err()
}

// runRound reconciles the named units (in dependency order) and the units
// their builds declare in one round, after removing the units that left the
// configuration when remove is set, and saves the record. It returns the
// names of the units it ran.
func (r *Reconciler) runRound(ctx context.Context, names []string, remove bool) []string {
	rd := r.newRound(ctx, false)
	defer rd.close()
	r.forgetNamespace() // one check per round: it may have been deleted since
	if err := r.ensureNamespace(ctx); err == nil {
		if _, err := r.loadRecord(ctx); err != nil {
			r.emit(Event{Type: EventFailed, Stage: StageRemove, Message: err.Error(), Err: err})
		} else {
			// Record every unit before any applies: a process killed
			// during a unit's first run must leave a record of it, or its
			// objects could never be removed with it.
			if err := r.saveRecord(ctx); err != nil {
				r.emit(Event{Type: EventFailed, Stage: StageDone, Message: err.Error(), Err: err})
			}
			if remove {
				r.removeUnits(ctx)
			}
		}
		defer func() {
			if err := r.saveRecord(context.WithoutCancel(ctx)); err != nil {
				r.emit(Event{Type: EventFailed, Stage: StageDone, Message: err.Error(), Err: err})
			}
		}()
	}
	// Before the record: a unit whose inventory conflicts is recorded
	// NotReady.
	defer rd.flushInventories(ctx)
	return rd.schedule(ctx, names, func(ctx context.Context, st *unitState) { rd.reconcileUnit(ctx, st) })
}
