package reconcile

import (
	"context"
	"slices"
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
// intervals. Units that are due together run as one round of the same
// engine as [Reconciler.Run] (shared fetches, LISTs and watches, bounded
// workers); a unit still running is not started again, and a unit is never
// reconciled twice at the same time, even when Run is called concurrently.
func (r *Reconciler) Start(ctx context.Context) error {
	due := map[string]time.Time{} // units not in it are due now
	var (
		mu      sync.Mutex
		running = map[string]bool{}
		wg      sync.WaitGroup
		wake    = make(chan struct{}, 1)
	)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	first := true
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-timer.C:
		case <-wake:
		}
		mu.Lock()
		now := time.Now()
		var batch []string
		for _, name := range r.unitOrder() {
			if !running[name] && !due[name].After(now) {
				batch = append(batch, name)
				running[name] = true
			}
		}
		mu.Unlock()
		if len(batch) > 0 {
			remove := first
			first = false
			before := map[string]UnitStatus{}
			for _, n := range batch {
				before[n] = r.unit(n).status()
			}
			wg.Go(func() {
				ran := r.runRound(ctx, batch, remove)
				dependents := r.dependents()
				mu.Lock()
				defer mu.Unlock()
				for _, n := range batch {
					running[n] = false
				}
				for _, n := range ran {
					st := r.unit(n)
					if st == nil {
						delete(due, n) // removed
						continue
					}
					after, spec := st.status(), st.specOf()
					next := spec.Interval
					if after.Phase != PhaseReady {
						next = spec.RetryInterval
					}
					due[n] = time.Now().Add(next)
					b, ok := before[n]
					if after.Phase == PhaseReady && (!ok || b.Phase != PhaseReady || b.LastAppliedRevision != after.LastAppliedRevision) {
						for _, d := range dependents[n] {
							if !slices.Contains(ran, d) { // those in the round ran after it
								due[d] = time.Now()
							}
						}
					}
				}
				poke()
			})
		}
		mu.Lock()
		next := time.Time{}
		for _, name := range r.unitOrder() {
			if running[name] {
				continue
			}
			if next.IsZero() || due[name].Before(next) {
				next = due[name]
			}
		}
		mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// dependents maps each unit to the units that depend on it.
func (r *Reconciler) dependents() map[string][]string {
	r.graphMu.RLock()
	defer r.graphMu.RUnlock()
	out := map[string][]string{}
	for name, st := range r.units {
		for _, dep := range st.spec.DependsOn {
			out[dep] = append(out[dep], name)
		}
	}
	return out
}
