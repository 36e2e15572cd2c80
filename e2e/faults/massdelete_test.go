package faults_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestMassDeletionAfterInventoryLoss is issue 18's first data loss: the
// inventory Secret of a unit of 50 objects is deleted by hand, then a commit
// empties the unit. The prune guard used to count only the stored inventory
// (empty), while the lost-inventory search rebuilt the old set from the
// cluster and pruned all of it. Now the guard judges against what the unit
// owns in the cluster, recovered objects included:
//
//   - an empty build after the loss is refused (PruneFailed,
//     apply.ErrPruneRefused, 50 of 50), by the same Reconciler and by a
//     fresh one (a restarted process, which knows the unit from its
//     record only), nothing deleted;
//   - a commit removing 10 files after the loss is refused by a unit with
//     MaxPruneShare 0.1 (10 of 50 > 10%);
//   - without the budget, the same commit prunes exactly those 10 (the
//     recovered inventory), and Options.ApprovePrune is asked about exactly
//     those 10; objects with copied labels are never touched.
func TestMassDeletionAfterInventoryLoss(t *testing.T) {
	c := sharedCluster(t)
	const objects, removed = 50, 10
	name := unique("mass-delete")
	ns := name
	unit := reconcile.Unit{Name: "app", Path: "app", Prune: true}
	e := newEnv(t, c, name, configMaps("app", ns, objects, "1"), unit)
	e.plantSentinels(ns)
	e.plantForeign("app", ns, "foreign")
	r := e.reconciler(nil, reconcile.Options{})
	if s := e.run(r); !s.Compliant() {
		t.Fatal(s)
	}
	e.check()
	uids := e.uidsOf(ns, objects)

	deleteInventory := func() {
		t.Helper()
		if err := e.kube.CoreV1().Secrets(e.conf.Namespace).Delete(t.Context(), e.inventoryPage(), metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete the inventory: %v", err)
		}
	}
	// refused runs r after the inventory was deleted and asserts that the
	// prune was refused with want deletions of the unit's 50 objects,
	// nothing deleted or changed, and the unit's objects recorded again.
	refused := func(r *reconcile.Reconciler, want int) {
		t.Helper()
		deleteInventory()
		before := e.snapshot()
		e.events.reset()
		u := unitStatus(t, e.run(r), "app")
		if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonPruneFailed || u.Counts.Deleted != 0 {
			t.Errorf("after losing the inventory: %s (%s) %s %q, want NotReady (PruneFailed) with nothing pruned", u.Phase, u.Reason, u.Counts, u.Message)
		}
		if !e.events.errorIs("app", apply.ErrPruneRefused) {
			t.Errorf("no event error matches apply.ErrPruneRefused: %v", e.events.errs("app"))
		}
		var pr *apply.PruneRefusedError
		for _, err := range e.events.errs("app") {
			if errors.As(err, &pr) {
				break
			}
		}
		if pr == nil || pr.Deletions != want || pr.Owned != objects {
			t.Errorf("PruneRefusedError = %+v, want %d deletions of %d owned (the recovered inventory)", pr, want, objects)
		} else {
			t.Logf("refused: %v", pr)
		}
		if e.events.find("app", func(ev reconcile.Event) bool {
			return ev.Type == reconcile.EventObject && ev.Action == string(apply.Deleted)
		}) {
			t.Error("an object event says deleted")
		}
		e.objectsUnchanged(before)
		// The refused run recorded the objects it found again: invariant 1
		// holds (every labelled object is in the new inventory).
		if n := e.loadInventory("app").Len(); n != objects {
			t.Errorf("the inventory after the refused run lists %d objects, want the %d recovered", n, objects)
		}
		e.check()
	}

	t.Log("inventory deleted, then a kustomization with no resources: refused")
	e.commit(gitserver.CommitOptions{Files: map[string]string{"app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"}, Message: "empty"})
	refused(r, objects)

	t.Log("the same after a restart (a fresh Reconciler knows the unit from its record)")
	refused(e.reconciler(nil, reconcile.Options{}), objects)

	t.Log("inventory deleted, then a commit removing 10 of 50 files, MaxPruneShare 0.1: refused")
	var del []string
	var gone []inventory.ID
	for i := objects - removed; i < objects; i++ {
		del = append(del, fmt.Sprintf("app/cm-%03d.yaml", i))
		gone = append(gone, inventoryID(ns, fmt.Sprintf("cm-%03d", i)))
	}
	e.commit(gitserver.CommitOptions{Delete: append(slices.Clone(del), "app/kustomization.yaml"), Message: "remove 10"})
	e.conf.Units[0].MaxPruneShare = 0.1
	refused(e.reconciler(nil, reconcile.Options{}), removed)

	t.Log("the same without the budget, approved by the hook: exactly those 10 pruned")
	e.conf.Units[0].MaxPruneShare = 0
	var mu sync.Mutex
	var asked []inventory.ID
	r = e.reconciler(nil, reconcile.Options{ApprovePrune: func(_ context.Context, unit string, d []inventory.Entry) error {
		mu.Lock()
		defer mu.Unlock()
		for _, en := range d {
			asked = append(asked, en.ID())
		}
		return nil
	}})
	deleteInventory()
	e.events.reset()
	u := unitStatus(t, e.run(r), "app")
	if u.Phase != reconcile.PhaseReady || u.Counts.Deleted != removed {
		t.Errorf("after losing the inventory: %s (%s) %s %q, want Ready with %d pruned", u.Phase, u.Reason, u.Counts, u.Message, removed)
	}
	sortIDs(asked)
	sortIDs(gone)
	if !slices.Equal(asked, gone) {
		t.Errorf("ApprovePrune was asked about %v, want %v", asked, gone)
	}
	var deleted []inventory.ID
	e.events.find("app", func(ev reconcile.Event) bool {
		if ev.Type == reconcile.EventObject && ev.Stage == reconcile.StagePrune && ev.Action == string(apply.Deleted) {
			deleted = append(deleted, ev.Object)
		}
		return false
	})
	sortIDs(deleted)
	if !slices.Equal(deleted, gone) {
		t.Errorf("pruned %v, want exactly %v", deleted, gone)
	}
	for i := range objects {
		cmName := fmt.Sprintf("cm-%03d", i)
		cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(t.Context(), cmName, metav1.GetOptions{})
		switch {
		case i >= objects-removed && !apierrors.IsNotFound(err):
			t.Errorf("%s left Git but still exists (%v)", cmName, err)
		case i < objects-removed && err != nil:
			t.Errorf("%s is in Git: %v", cmName, err)
		case i < objects-removed && cm.UID != uids[cmName]:
			t.Errorf("%s was recreated", cmName)
		}
	}
	e.check()
	e.converge(r)
}

// uidsOf returns the UIDs of ConfigMaps cm-000... in ns.
func (e *env) uidsOf(ns string, n int) map[string]types.UID {
	e.t.Helper()
	out := map[string]types.UID{}
	for i := range n {
		name := fmt.Sprintf("cm-%03d", i)
		cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(e.t.Context(), name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		out[name] = cm.UID
	}
	return out
}

// objectsUnchanged is [env.unchanged] for the objects only: no labelled
// object was created, changed or deleted since before (the inventory may
// have been written).
func (e *env) objectsUnchanged(before snapshot) {
	e.t.Helper()
	after := e.snapshot()
	bad := 0
	for id, o := range before.objects {
		a, ok := after.objects[id]
		switch {
		case !ok:
			e.t.Errorf("%s was deleted (pruned?)", id)
		case a.uid != o.uid:
			e.t.Errorf("%s was recreated", id)
		case a.resourceVersion != o.resourceVersion:
			e.t.Errorf("%s was changed (applied?)", id)
		case a.deleting:
			e.t.Errorf("%s is being deleted", id)
		default:
			continue
		}
		bad++
	}
	for id := range after.objects {
		if _, ok := before.objects[id]; !ok {
			e.t.Errorf("%s was created (applied?)", id)
			bad++
		}
	}
	if bad == 0 {
		e.t.Logf("nothing applied, nothing pruned: %d objects unchanged", len(before.objects))
	}
}

func sortIDs(ids []inventory.ID) {
	slices.SortFunc(ids, func(a, b inventory.ID) int {
		if a.String() < b.String() {
			return -1
		}
		if a.String() > b.String() {
			return 1
		}
		return 0
	})
}
