package reconcile

import (
	"context"
	"sync"
	"time"
)

// Start reconciles every unit on its own schedule until ctx ends, then
// waits for running reconciles to stop and returns nil.
//
// Each unit runs at once, then every [Unit.Interval] while it is Ready (which
// also puts drift back) and every [Unit.RetryInterval] while it is not. A
// unit that becomes Ready at a new revision wakes the units that depend on
// it, so a change flows down the dependency chain without waiting for their
// intervals. A unit is never reconciled twice at the same time, even when
// [Reconciler.Run] is called concurrently.
func (r *Reconciler) Start(ctx context.Context) error {
	wake := map[string]chan struct{}{}
	dependents := map[string][]string{}
	for name, st := range r.units {
		wake[name] = make(chan struct{}, 1)
		for _, dep := range st.spec.DependsOn {
			dependents[dep] = append(dependents[dep], name)
		}
	}
	if err := r.ensureNamespace(ctx); err == nil {
		r.removeUnits(ctx)
	}
	var wg sync.WaitGroup
	for name := range r.units {
		wg.Go(func() { r.loopUnit(ctx, name, wake, dependents[name]) })
	}
	wg.Wait()
	return nil
}

func (r *Reconciler) loopUnit(ctx context.Context, name string, wake map[string]chan struct{}, dependents []string) {
	st := r.units[name]
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-wake[name]:
			if !timer.Stop() {
				select { // drain a timer that fired meanwhile
				case <-timer.C:
				default:
				}
			}
		}
		before := st.status()
		after := r.runUnit(ctx, st, r.fetch)
		if ctx.Err() != nil {
			return
		}
		if err := r.saveRecord(ctx); err != nil {
			r.emit(Event{Unit: name, Stage: StageDone, Message: err.Error(), Err: err})
		}
		if after.Phase == PhaseReady && (before.Phase != PhaseReady || before.LastAppliedRevision != after.LastAppliedRevision) {
			for _, d := range dependents {
				select {
				case wake[d] <- struct{}{}:
				default: // already woken
				}
			}
		}
		next := st.spec.Interval
		if after.Phase != PhaseReady {
			next = st.spec.RetryInterval
		}
		timer.Reset(next)
	}
}
