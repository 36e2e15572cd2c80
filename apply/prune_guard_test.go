package apply_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/inventory"
)

// guardUnit applies n ConfigMaps named cm-0.. in namespace unit (the unit's
// name too) with an inventory, and returns the manager, the store and the
// objects.
func guardUnit(t *testing.T, unit string, n int) (*apply.Manager, *inventory.Store, []*unstructured.Unstructured) {
	t.Helper()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, unit)
	createNamespace(t, unit)
	var objs []*unstructured.Unstructured
	for i := range n {
		objs = append(objs, configMap(unit, fmt.Sprintf("cm-%d", i), map[string]any{"i": fmt.Sprint(i)}))
	}
	cs := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	if got := cs.Count(apply.Created); got != n {
		t.Fatalf("first apply: %s, want %d created", cs.Summary(), n)
	}
	return m, store, objs
}

// liveConfigMaps returns the names of the ConfigMaps left in namespace ns
// (the API server creates none in a bare cluster without controllers).
func liveConfigMaps(t *testing.T, ns string) []string {
	t.Helper()
	l, err := clientset(t).CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range l.Items {
		if cm.DeletionTimestamp == nil {
			names = append(names, cm.Name)
		}
	}
	slices.Sort(names)
	return names
}

// wantRefused checks that err is a *PruneRefusedError for deletions of
// owned objects, and that the prune reported no change.
func wantRefused(t *testing.T, pruned *apply.ChangeSet, err error, deletions, owned int) *apply.PruneRefusedError {
	t.Helper()
	var refused *apply.PruneRefusedError
	if !errors.As(err, &refused) || !errors.Is(err, apply.ErrPruneRefused) {
		t.Fatalf("prune: %v, want a *PruneRefusedError", err)
	}
	if refused.Deletions != deletions || refused.Owned != owned {
		t.Errorf("refused: %d deletions of %d owned, want %d of %d (%v)", refused.Deletions, refused.Owned, deletions, owned, err)
	}
	if pruned.Count(apply.Deleted) != 0 {
		t.Errorf("a refused prune reports deletions: %v", pruned.Changes)
	}
	return refused
}

// TestPruneRefusesEmptySet: a prune whose desired set is empty (a commit
// that deleted every file, a build that came back empty) deletes nothing
// unless AllowEmpty, with the inventory intact and with an inventory that
// was lost and whose objects the search recovered (issue 18: the search
// made them stale, and the prune deleted the whole unit).
func TestPruneRefusesEmptySet(t *testing.T) {
	ctx := t.Context()
	cms := []string{"cm-0", "cm-1", "cm-2"}

	t.Run("inventory intact", func(t *testing.T) {
		unit := gitopstest.UniqueName("guard-empty")
		m, store, _ := guardUnit(t, unit, 3)
		cs := mustApply(t, m, nil, apply.ApplyOptions{Inventory: store})
		if n := len(cs.Stale()); n != 3 {
			t.Fatalf("stale after an empty apply: %v, want the 3 objects", cs.Stale())
		}
		pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
		refused := wantRefused(t, pruned, err, 3, 3)
		if refused.Err != nil {
			t.Errorf("refused.Err = %v, want nil (no hook)", refused.Err)
		}
		if got := liveConfigMaps(t, unit); !slices.Equal(got, cms) {
			t.Fatalf("after a refused prune: %v, want %v", got, cms)
		}
		if inv, err := store.Load(ctx); err != nil || inv.Len() != 3 {
			t.Fatalf("inventory after a refused prune: %v, %v; want the 3 objects", inv.Entries, err)
		}
		// A dry run is refused too: it says what the real one would do.
		dry := mustApply(t, m, nil, apply.ApplyOptions{Inventory: store, DryRun: true})
		pruned, err = m.Prune(ctx, dry, apply.PruneOptions{})
		wantRefused(t, pruned, err, 3, 3)

		// Asked for, the unit is emptied.
		pruned, err = m.Prune(ctx, cs, apply.PruneOptions{AllowEmpty: true})
		if err != nil || pruned.Count(apply.Deleted) != 3 {
			t.Fatalf("prune with AllowEmpty: %v, %v; want 3 deleted", pruned, err)
		}
		if got := liveConfigMaps(t, unit); len(got) != 0 {
			t.Errorf("after a prune with AllowEmpty: %v left", got)
		}
		if inv, err := store.Load(ctx); err != nil || inv.Len() != 0 {
			t.Errorf("inventory after emptying the unit: %v, %v", inv.Entries, err)
		}
	})

	t.Run("inventory lost", func(t *testing.T) {
		unit := gitopstest.UniqueName("guard-lost")
		m, store, _ := guardUnit(t, unit, 3)
		if err := clientset(t).CoreV1().Secrets(store.Owner().Namespace).Delete(ctx, unit, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// The default LostInventory searches: it finds the 3 objects and,
		// none being desired, makes them stale.
		cs := mustApply(t, m, nil, apply.ApplyOptions{Inventory: store})
		var stale []string
		for _, e := range cs.Stale() {
			stale = append(stale, e.String())
		}
		want := []string{"core/ConfigMap/" + unit + "/cm-0", "core/ConfigMap/" + unit + "/cm-1", "core/ConfigMap/" + unit + "/cm-2"}
		if !slices.Equal(stale, want) {
			t.Fatalf("stale after losing the inventory: %v, want %v", stale, want)
		}
		pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
		wantRefused(t, pruned, err, 3, 3)
		if got := liveConfigMaps(t, unit); !slices.Equal(got, cms) {
			t.Fatalf("after a refused prune: %v, want %v", got, cms)
		}
		// The apply recorded what the search found: the next run is
		// guarded by the inventory, with no search.
		if inv, err := store.Load(ctx); err != nil || inv.Len() != 3 {
			t.Errorf("inventory after the refused prune: %v, %v; want the 3 recovered objects", inv.Entries, err)
		}
	})

	t.Run("inventory lost, no search", func(t *testing.T) {
		unit := gitopstest.UniqueName("guard-nosearch")
		m, store, _ := guardUnit(t, unit, 3)
		if err := clientset(t).CoreV1().Secrets(store.Owner().Namespace).Delete(ctx, unit, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		cs := mustApply(t, m, nil, apply.ApplyOptions{Inventory: store, LostInventory: apply.NoSearch})
		if len(cs.Stale()) != 0 {
			t.Fatalf("NoSearch found %v", cs.Stale())
		}
		pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
		if err != nil || len(pruned.Changes) != 0 {
			t.Fatalf("prune of nothing: %v, %v", pruned.Changes, err)
		}
		if got := liveConfigMaps(t, unit); !slices.Equal(got, cms) {
			t.Errorf("after NoSearch: %v, want %v", got, cms)
		}
	})

	t.Run("inventory lost, Recover hook", func(t *testing.T) {
		unit := gitopstest.UniqueName("guard-recover")
		m, store, objs := guardUnit(t, unit, 3)
		if err := clientset(t).CoreV1().Secrets(store.Owner().Namespace).Delete(ctx, unit, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// A failing hook fails the apply before anything is changed.
		boom := errors.New("search failed")
		_, err := m.Apply(ctx, objs[:1], apply.ApplyOptions{Inventory: store,
			Recover: func(context.Context) ([]inventory.Entry, error) { return nil, boom }})
		if !errors.Is(err, boom) {
			t.Fatalf("apply with a failing Recover: %v, want %v", err, boom)
		}
		if _, err := clientset(t).CoreV1().Secrets(store.Owner().Namespace).Get(ctx, unit, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a failed Recover saved the inventory: %v", err)
		}
		// The hook's answer, found by the caller's search, stands for the
		// lost inventory: the two objects left are stale.
		calls := 0
		recoverFn := func(ctx context.Context) ([]inventory.Entry, error) {
			calls++
			found, err := m.FindOwned(ctx, []inventory.Owner{store.Owner()}, apply.FindOwnedOptions{})
			return found[store.Owner().ID], err
		}
		cs := mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store, Recover: recoverFn})
		if calls != 1 || len(cs.Stale()) != 2 {
			t.Fatalf("Recover called %d times; stale %v, want cm-1 and cm-2", calls, cs.Stale())
		}
		pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
		if err != nil || pruned.Count(apply.Deleted) != 2 {
			t.Fatalf("prune: %v, %v; want 2 deleted", pruned, err)
		}
		if got := liveConfigMaps(t, unit); !slices.Equal(got, cms[:1]) {
			t.Errorf("after the prune: %v, want %v", got, cms[:1])
		}
		// With the inventory back, the hook is not called.
		mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store, Recover: recoverFn})
		if calls != 1 {
			t.Errorf("Recover called with an inventory")
		}
		// An inventory stored empty (a unit that applies nothing, such
		// as a Flux bootstrap's root) is not a lost one: no search.
		cs = mustApply(t, m, nil, apply.ApplyOptions{Inventory: store, Recover: recoverFn})
		if _, err := m.Prune(ctx, cs, apply.PruneOptions{AllowEmpty: true}); err != nil {
			t.Fatal(err)
		}
		if inv, err := store.Load(ctx); err != nil || len(inv.Entries) != 0 || inv.ResourceVersion == "" {
			t.Fatalf("inventory %+v, %v: want one stored empty", inv, err)
		}
		for range 2 {
			mustApply(t, m, nil, apply.ApplyOptions{Inventory: store, Recover: recoverFn})
		}
		if calls != 1 {
			t.Errorf("Recover called %d times, want 1: an inventory stored empty was searched for", calls)
		}
	})
}

// TestPruneMaxShare: a prune deleting more than MaxShare of what the unit
// owns is refused; one within it, or of a single object, is not.
func TestPruneMaxShare(t *testing.T) {
	ctx := t.Context()
	unit := gitopstest.UniqueName("guard-share")
	m, store, objs := guardUnit(t, unit, 4)
	cs := mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store})
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{MaxShare: 0.5})
	wantRefused(t, pruned, err, 3, 4)
	if got := liveConfigMaps(t, unit); len(got) != 4 {
		t.Fatalf("after a refused prune: %v, want the 4 ConfigMaps", got)
	}
	if inv, err := store.Load(ctx); err != nil || inv.Len() != 4 {
		t.Fatalf("inventory after a refused prune: %v, %v", inv.Entries, err)
	}

	// 3 of 4 is within 0.75.
	pruned, err = m.Prune(ctx, cs, apply.PruneOptions{MaxShare: 0.75})
	if err != nil || pruned.Count(apply.Deleted) != 3 {
		t.Fatalf("prune within MaxShare: %v, %v; want 3 deleted", pruned, err)
	}

	// One deletion is never refused by the share, even of 2 objects.
	mustApply(t, m, objs[:2], apply.ApplyOptions{Inventory: store})
	cs = mustApply(t, m, objs[1:2], apply.ApplyOptions{Inventory: store})
	pruned, err = m.Prune(ctx, cs, apply.PruneOptions{MaxShare: 0.1})
	if err != nil || pruned.Count(apply.Deleted) != 1 {
		t.Fatalf("prune of one object of 2 with MaxShare 0.1: %v, %v; want 1 deleted", pruned, err)
	}
	if got := liveConfigMaps(t, unit); !slices.Equal(got, []string{"cm-1"}) {
		t.Errorf("left: %v, want [cm-1]", got)
	}
}

// TestPruneApprove: the Approve hook sees the objects a prune would delete
// before any is deleted; its error refuses the prune and is wrapped, nil lets
// it go ahead. A dry run does not ask.
func TestPruneApprove(t *testing.T) {
	ctx := t.Context()
	unit := gitopstest.UniqueName("guard-approve")
	m, store, objs := guardUnit(t, unit, 3)
	cs := mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store})

	var asked [][]string
	approve := func(answer error) func(context.Context, []inventory.Entry) error {
		return func(_ context.Context, deletions []inventory.Entry) error {
			var names []string
			for _, e := range deletions {
				names = append(names, e.Name)
			}
			slices.Sort(names)
			asked = append(asked, names)
			// Nothing is deleted before the answer.
			if got := liveConfigMaps(t, unit); len(got) != 3 {
				t.Errorf("objects deleted before Approve answered: %v left", got)
			}
			return answer
		}
	}
	type denied struct{ error }
	no := denied{errors.New("change freeze until Monday")}
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{Approve: approve(no)})
	refused := wantRefused(t, pruned, err, 2, 3)
	var d denied
	if !errors.Is(err, no) || !errors.As(err, &d) || !errors.Is(refused.Err, no) {
		t.Errorf("refused by the hook: %v, want it to wrap the hook's error", err)
	}
	if len(asked) != 1 || !slices.Equal(asked[0], []string{"cm-1", "cm-2"}) {
		t.Fatalf("Approve asked %v, want once about [cm-1 cm-2]", asked)
	}
	if got := liveConfigMaps(t, unit); len(got) != 3 {
		t.Fatalf("after a refused prune: %v, want the 3 ConfigMaps", got)
	}

	// A dry run does not ask.
	dry := mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store, DryRun: true})
	pruned, err = m.Prune(ctx, dry, apply.PruneOptions{Approve: approve(no)})
	if err != nil || pruned.Count(apply.Deleted) != 2 || len(asked) != 1 {
		t.Fatalf("dry-run prune: %v, %v, asked %d times; want 2 would-be deletions and no question", pruned, err, len(asked))
	}

	pruned, err = m.Prune(ctx, cs, apply.PruneOptions{Approve: approve(nil)})
	if err != nil || pruned.Count(apply.Deleted) != 2 {
		t.Fatalf("approved prune: %v, %v; want 2 deleted", pruned, err)
	}
	if len(asked) != 2 {
		t.Errorf("Approve asked %d times, want 2", len(asked))
	}
	if got := liveConfigMaps(t, unit); !slices.Equal(got, []string{"cm-0"}) {
		t.Errorf("left: %v, want [cm-0]", got)
	}

	// A prune with nothing to delete does not ask.
	cs = mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store})
	if _, err := m.Prune(ctx, cs, apply.PruneOptions{Approve: approve(no)}); err != nil || len(asked) != 2 {
		t.Errorf("prune of nothing: %v, asked %d times; want no error and no question", err, len(asked))
	}
}
