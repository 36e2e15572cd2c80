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
	dependents := map[string][]string{}
	for name, st := range r.units {
		for _, dep := range st.spec.DependsOn {
			dependents[dep] = append(dependents[dep], name)
		}
	}
	due := map[string]time.Time{}
	now := time.Now()
	for _, name := range r.order {
		due[name] = now
	}
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
		for _, name := range r.order {
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
				before[n] = r.units[n].status()
			}
			wg.Go(func() {
				r.runRound(ctx, batch, remove)
				mu.Lock()
				defer mu.Unlock()
				for _, n := range batch {
					running[n] = false
					after := r.units[n].status()
					next := r.units[n].spec.Interval
					if after.Phase != PhaseReady {
						next = r.units[n].spec.RetryInterval
					}
					due[n] = time.Now().Add(next)
					b := before[n]
					if after.Phase == PhaseReady && (b.Phase != PhaseReady || b.LastAppliedRevision != after.LastAppliedRevision) {
						for _, d := range dependents[n] {
							if !slices.Contains(batch, d) { // those in the batch ran after it
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
		for _, name := range r.order {
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
