package faults_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestConcurrentReconcilersRace runs two Reconcilers of the same
// configuration (two processes, say) on the same unit at the same time,
// round after round, with a commit before each round that adds, changes and
// removes objects. Optimistic concurrency on the inventory may make one of
// them fail a round, now and then both (seen once in CI under load: A's
// prune conflicted with B's saves, and B's deferred save, flushed at the
// end of its round after its apply and prune, with A's; the union was
// stored); no inventory update may be lost: after every round each
// labelled object is in the inventory, most rounds have a reconciler
// succeed, and at the end a run converges.
func TestConcurrentReconcilersRace(t *testing.T) {
	c := sharedCluster(t)
	name := unique("race")
	ns := name
	e := newEnv(t, c, name, configMaps("app", ns, 20, "0"), reconcile.Unit{Name: "app", Path: "app", Prune: true})
	e.plantSentinels(ns)
	a := e.reconciler(nil, reconcile.Options{Concurrency: 4})
	b := e.reconciler(nil, reconcile.Options{Concurrency: 4})
	conflicts, neither := 0, 0
	for round := 1; round <= 8; round++ {
		files := map[string]string{}
		for i := range 5 {
			n := fmt.Sprintf("r%02d-%d", round, i)
			files["app/"+n+".yaml"] = cmYAML(ns, n, "new")
		}
		files[fmt.Sprintf("app/cm-%03d.yaml", round)] = cmYAML(ns, fmt.Sprintf("cm-%03d", round), fmt.Sprint(round))
		e.commit(gitserver.CommitOptions{Files: files, Delete: []string{fmt.Sprintf("app/cm-%03d.yaml", 10+round)},
			Message: fmt.Sprintf("round %d", round)})
		e.events.reset()
		var wg sync.WaitGroup
		var sa, sb reconcile.Status
		wg.Go(func() { sa = e.run(a) })
		wg.Go(func() { sb = e.run(b) })
		wg.Wait()
		ua, ub := unitStatus(t, sa, "app"), unitStatus(t, sb, "app")
		if e.events.errorIs("app", inventory.ErrConflict) {
			conflicts++
		}
		t.Logf("round %d: A %s (%s), B %s (%s)", round, ua.Phase, ua.Reason, ub.Phase, ub.Reason)
		if ua.Phase != reconcile.PhaseReady && ub.Phase != reconcile.PhaseReady {
			neither++
			t.Logf("round %d: neither reconciler succeeded: %s / %s", round, ua.Message, ub.Message)
		}
		for _, u := range []reconcile.UnitStatus{ua, ub} {
			if u.Phase != reconcile.PhaseReady && !strings.Contains(u.Message, "changed since it was loaded") {
				t.Errorf("round %d: a reconciler failed for another reason than an inventory conflict: %s", round, u.Message)
			}
		}
		e.check()
	}
	t.Logf("%d of 8 rounds saw an inventory conflict", conflicts)
	if neither > 2 {
		t.Errorf("in %d of 8 rounds neither reconciler succeeded", neither)
	}
	e.converge(a)
	e.converge(b)
	if n := e.loadInventory("app").Len(); n != 20+8*5-8 {
		t.Errorf("inventory holds %d objects, want %d", n, 20+8*5-8)
	}
}

// TestConcurrentReconcilersConflict makes the race deterministic: reconciler
// B loads the inventory for its apply, then waits until A has reconciled the same revision
// completely. B's inventory write must be refused (inventory.ErrConflict,
// reported in its status), not overwrite A's; afterwards the invariants hold
// and either reconciler converges.
func TestConcurrentReconcilersConflict(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name string
		// prepare reconciles a first revision before the race.
		prepare bool
		next    func(ns string) gitserver.CommitOptions
	}{
		{name: "first apply of the unit"},
		{
			name: "new objects (conflict at the write-ahead record)", prepare: true,
			next: func(ns string) gitserver.CommitOptions {
				return gitserver.CommitOptions{Files: configMaps("app", ns, 15, "1")}
			},
		},
		{
			name: "changed objects only (conflict at the final save)", prepare: true,
			next: func(ns string) gitserver.CommitOptions {
				return gitserver.CommitOptions{Files: configMaps("app", ns, 10, "2")}
			},
		},
		{
			name: "removed objects (conflict before the prune)", prepare: true,
			next: func(ns string) gitserver.CommitOptions {
				return gitserver.CommitOptions{Delete: []string{"app/cm-008.yaml", "app/cm-009.yaml"}}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("conflict-%d", i))
			ns := name
			e := newEnv(t, c, name, configMaps("app", ns, 10, "1"), reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)
			var racing, armed atomic.Bool
			loaded, aDone := make(chan struct{}), make(chan struct{})
			var once sync.Once
			bCfg := wrapConfig(c.Config, func(r *http.Request, next func() (*http.Response, error)) (*http.Response, error) {
				if !armed.Load() || !isInventoryLoad(r, name) {
					return next()
				}
				resp, err := next()
				once.Do(func() {
					close(loaded)
					<-aDone // B holds what it loaded while A reconciles
				})
				return resp, err
			})
			a := e.reconciler(nil, reconcile.Options{})
			b := e.reconciler(bCfg, reconcile.Options{OnEvent: armAtApply(&racing, &armed)})
			if tt.prepare {
				if s := e.run(a); !s.Compliant() {
					t.Fatalf("before the race: %s", s)
				}
				e.commit(tt.next(ns))
			}

			racing.Store(true)
			var sb reconcile.Status
			var wg sync.WaitGroup
			wg.Go(func() { sb = e.run(b) })
			<-loaded
			sa := e.run(a)
			close(aDone)
			wg.Wait()
			racing.Store(false)
			armed.Store(false)

			ua, ub := unitStatus(t, sa, "app"), unitStatus(t, sb, "app")
			if ua.Phase != reconcile.PhaseReady {
				t.Errorf("A: %s (%s) %s, want Ready", ua.Phase, ua.Reason, ua.Message)
			}
			if ub.Phase != reconcile.PhaseNotReady || !strings.Contains(ub.Message, "changed since it was loaded") {
				t.Errorf("B: %s (%s) %s, want NotReady with an inventory conflict", ub.Phase, ub.Reason, ub.Message)
			}
			if !e.events.errorIs("app", inventory.ErrConflict) {
				t.Errorf("no event error matches inventory.ErrConflict: %v", e.events.errs("app"))
			}
			e.check()
			e.converge(b)
			e.converge(a)
		})
	}
}

// armAtApply returns an OnEvent function that, while racing is set, sets
// armed when the unit reaches the apply stage (events are delivered
// synchronously, before the apply loads the inventory). A hook on the
// inventory's load (isInventoryLoad) that waits for armed then holds the
// apply's load, not the reads of the same inventory at admission (claims
// are checked against the stored inventories).
func armAtApply(racing, armed *atomic.Bool) func(reconcile.Event) {
	return func(ev reconcile.Event) {
		if racing.Load() && ev.Stage == reconcile.StageApply {
			armed.Store(true)
		}
	}
}
