package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/source"
)

// round is one pass over a set of units: what the units of the pass share
// (one fetch per source, one LIST and one WATCH per resource and namespace,
// one search for lost inventories, the objects each unit claims).
type round struct {
	r       *Reconciler
	dryRun  bool
	reads   *cluster.Reads
	watches *health.Watches

	fetchMu sync.Mutex
	fetched map[string]*fetchOnce

	sched *scheduler

	recoverOnce sync.Once
	recovered   map[string][]inventory.Entry
	recoverErr  error

	// planned are, in a dry run, the CRDs and Namespaces each unit would
	// create (see planCreates).
	plannedMu sync.Mutex
	planned   map[string][]*unstructured.Unstructured
}

type fetchOnce struct {
	once     sync.Once
	artifact *source.Artifact
	err      error
}

func (r *Reconciler) newRound(ctx context.Context, dryRun bool) *round {
	if r.ledger != nil {
		// What other writers stored since the last round; one LIST when
		// a unit first needs its inventory.
		if err := r.ledger.Refresh(ctx); err != nil {
			r.emit(Event{Type: EventFailed, Stage: StageApply, Message: "writing the inventories: " + err.Error(), Err: err})
		}
	}
	return &round{
		r: r, dryRun: dryRun, reads: cluster.NewReads(),
		watches: health.NewWatches(ctx, health.WatchesOptions{
			LabelSelector: inventory.LabelApplySetPartOf, Logger: r.opts.Logger}),
		fetched: map[string]*fetchOnce{},
	}
}

func (rd *round) close() { rd.watches.Close() }

// flushInventories writes what the units' inventories still hold
// unwritten (what the applies learned, what the prunes removed). A unit
// whose inventory someone else changed meanwhile (another reconciler of
// the same configuration) is NotReady with that conflict: the union of
// both was stored, and the next round reconciles it again.
func (rd *round) flushInventories(ctx context.Context) {
	r := rd.r
	if r.ledger == nil || rd.dryRun {
		return
	}
	err := r.ledger.Flush(context.WithoutCancel(ctx))
	if err == nil {
		return
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, err := range errs {
		var conflict *inventory.ConflictError
		name, isUnit := "", false
		if errors.As(err, &conflict) {
			name, isUnit = strings.CutPrefix(conflict.Name, r.conf.Name+"-")
		}
		st := r.unit(name)
		if !isUnit || st == nil {
			r.emit(Event{Type: EventFailed, Stage: StageDone, Message: "writing the inventories: " + err.Error(), Err: err})
			continue
		}
		s := st.status()
		s.Phase, s.Reason, s.Message = PhaseNotReady, ReasonApplyFailed, err.Error()
		st.setStatus(s)
		r.emit(Event{Type: EventFailed, Unit: name, Stage: StageApply, Message: err.Error(), Err: err})
	}
}

// fetch asks each source once per round whether it moved.
func (rd *round) fetch(ctx context.Context, name string) (*source.Artifact, error) {
	rd.fetchMu.Lock()
	f, ok := rd.fetched[name]
	if !ok {
		f = &fetchOnce{}
		rd.fetched[name] = f
	}
	rd.fetchMu.Unlock()
	f.once.Do(func() { f.artifact, f.err = rd.r.fetch(ctx, name) })
	return f.artifact, f.err
}

// recoverFor returns the objects a unit owned before, for a unit whose
// inventory is not stored: nothing for a unit the records do not know (a new
// unit), otherwise the result of one search per round for every unit the
// records know (one LIST per listable resource, whatever their number).
func (rd *round) recoverFor(unit string) func(ctx context.Context) ([]inventory.Entry, error) {
	return func(ctx context.Context) ([]inventory.Entry, error) {
		r := rd.r
		r.recMu.Lock()
		existed := r.existed[unit]
		r.recMu.Unlock()
		if !existed {
			return nil, nil // a new unit: nothing to search for
		}
		rd.recoverOnce.Do(func() {
			r.recMu.Lock()
			names := slices.Collect(maps.Keys(r.existed))
			r.recMu.Unlock()
			var owners []inventory.Owner
			for _, name := range names {
				if st := r.unit(name); st != nil {
					owners = append(owners, st.store.Owner())
				}
			}
			id, err := r.identityFor("")
			if err != nil {
				rd.recoverErr = err
				return
			}
			r.emit(Event{Type: EventProgress, Unit: unit, Stage: StageApply,
				Message: fmt.Sprintf("an inventory is missing: searching the cluster for the objects of %d unit(s) the records know", len(owners))})
			rd.recovered, rd.recoverErr = id.manager.FindOwned(ctx, owners, apply.FindOwnedOptions{
				Namespaces: r.tenantNamespaces(), Concurrency: r.opts.Concurrency})
		})
		if rd.recoverErr != nil {
			// A partial search could prune too little, never too much;
			// but a unit must not apply as if it were new when the search
			// failed, or what left Git meanwhile would never be pruned.
			return nil, rd.recoverErr
		}
		st := r.unit(unit)
		if st == nil {
			return nil, nil
		}
		return rd.recovered[st.store.Owner().ID], nil
	}
}

func (r *Reconciler) tenantNamespaces() []string {
	if r.conf.Tenancy == nil {
		return nil
	}
	return r.conf.Tenancy.Namespaces
}

// claim records that unit declares ids (replacing what it declared
// before) and returns an error naming both units for an object another unit
// of the configuration declares: ownership is decided before anything is
// applied, whatever the order the units run in. A unit that fails the claim
// claims nothing.
//
// The claims in memory start empty in a new Reconciler (a restarted
// process), where the unit whose build finishes first would claim an object
// another unit owns in the cluster. So an object the unit does not hold yet
// and its stored inventory does not list counts as claimed by the other
// unit whose stored inventory lists it. That costs one read of the unit's
// inventory while it gains objects and some unit that applied something
// holds no claims yet, and one read of each such unit's, once: its stored
// objects then stand in memory as its claims until its own claim replaces
// them.
func (rd *round) claim(ctx context.Context, unit string, ids []inventory.ID) error {
	r := rd.r
	r.claimMu.Lock()
	var gained []inventory.ID // not held by the unit in memory
	for _, id := range ids {
		if r.claims[id] != unit {
			gained = append(gained, id)
		}
	}
	r.claimMu.Unlock()
	if len(gained) > 0 {
		r.recMu.Lock()
		var others []string // units that may own objects and hold no claims in memory
		for other := range r.existed {
			if other != unit {
				others = append(others, other)
			}
		}
		r.recMu.Unlock()
		r.claimMu.Lock()
		others = slices.DeleteFunc(others, func(other string) bool {
			_, held := r.unitClaims[other]
			return held
		})
		r.claimMu.Unlock()
		// A load error leaves the decision to memory: the apply loads the
		// same inventory and reports what is wrong with it.
		if len(others) > 0 {
			if mine, err := rd.storedIDs(ctx, unit); err == nil && slices.ContainsFunc(gained, func(id inventory.ID) bool { return !mine[id] }) {
				for _, other := range others {
					stored, err := rd.storedIDs(ctx, other)
					if err != nil {
						continue
					}
					r.claimMu.Lock()
					if _, held := r.unitClaims[other]; !held {
						owned := make([]inventory.ID, 0, len(stored))
						for id := range stored {
							if _, ok := r.claims[id]; !ok {
								r.claims[id] = other
								owned = append(owned, id)
							}
						}
						r.unitClaims[other] = owned
					}
					r.claimMu.Unlock()
				}
			}
		}
	}
	r.claimMu.Lock()
	var contested map[string][]inventory.ID // other unit -> objects it claims
	for _, id := range ids {
		if other, ok := r.claims[id]; ok && other != unit {
			if contested == nil {
				contested = map[string][]inventory.ID{}
			}
			contested[other] = append(contested[other], id)
		}
	}
	r.claimMu.Unlock()
	// Who claimed first says nothing after a restart: the unit whose stored
	// inventory lists an object owns it, whatever the build order.
	var dup []string
	won := map[inventory.ID]bool{}
	for other, objs := range contested {
		mine, err1 := rd.storedIDs(ctx, unit)
		theirs, err2 := rd.storedIDs(ctx, other)
		for _, id := range objs {
			if err1 == nil && err2 == nil && mine[id] && !theirs[id] {
				won[id] = true
				continue
			}
			dup = append(dup, fmt.Sprintf("%s (also declared by unit %s)", id, other))
		}
	}
	if len(dup) > 0 {
		slices.Sort(dup)
		return &OwnershipConflictError{Unit: unit, Objects: dup}
	}
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	for _, id := range r.unitClaims[unit] {
		if r.claims[id] == unit {
			delete(r.claims, id)
		}
	}
	for _, id := range ids {
		if other, ok := r.claims[id]; ok && other != unit && !won[id] {
			// Claimed meanwhile by a unit that got here between the
			// check and now.
			return &OwnershipConflictError{Unit: unit, Objects: []string{fmt.Sprintf("%s (also declared by unit %s)", id, other)}}
		}
		r.claims[id] = unit
	}
	r.unitClaims[unit] = ids
	return nil
}

// storedIDs returns the objects the unit's stored inventory lists.
func (rd *round) storedIDs(ctx context.Context, unit string) (map[inventory.ID]bool, error) {
	st := rd.r.unit(unit)
	if st == nil {
		return nil, fmt.Errorf("unknown unit %s", unit)
	}
	inv, err := st.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[inventory.ID]bool, len(inv.Entries))
	for _, e := range inv.Entries {
		out[e.ID()] = true
	}
	return out, nil
}

// OwnershipConflictError says that two units of a configuration declare the
// same object. It wraps [ErrInvalidConfiguration]: it is a mistake in the
// configuration, not in the cluster.
type OwnershipConflictError struct {
	Unit    string
	Objects []string
}

func (e *OwnershipConflictError) Error() string {
	return fmt.Sprintf("unit %s declares %d object(s) another unit of the configuration declares: %s",
		e.Unit, len(e.Objects), strings.Join(e.Objects, "; "))
}

// Unwrap returns ErrInvalidConfiguration.
func (e *OwnershipConflictError) Unwrap() error { return ErrInvalidConfiguration }

// schedule reconciles the named units: each starts as soon as the unit
// that declared it and the units it depends on (those in the round) have
// finished, on one of at most Options.Workers workers. The units their
// builds declare join the round. It returns the names of the units it ran.
func (rd *round) schedule(ctx context.Context, names []string, do func(ctx context.Context, st *unitState)) []string {
	s := &scheduler{ctx: ctx, r: rd.r, do: do, workers: make(chan struct{}, rd.r.opts.Workers), done: map[string]chan struct{}{}}
	rd.sched = s
	s.add(names...)
	s.wg.Wait()
	return s.ran
}
