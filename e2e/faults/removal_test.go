package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestUnitRemovedMidApply: a configuration of two units, "keep" (3
// ConfigMaps, reconciled before) and "gone" (100 ConfigMaps, new). The first
// run that applies "gone" is cancelled through its context after 40 of its
// applies; then a configuration without "gone" is run (by a new
// Reconciler, as after a restart with the edited configuration). The
// objects "gone" managed to apply are deleted when it pruned and orphaned
// (left in place without its ownership labels) when it did not; its
// inventory is deleted; "keep"'s objects and everything else are untouched
// (same UID and resourceVersion); the invariants hold and the new
// configuration converges.
//
// (TestUnitKilledInFirstRun is the same with the process killed
// instead of the run cancelled.)
func TestUnitRemovedMidApply(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name   string
		prune  bool
		killed bool
	}{
		{name: "prune: objects deleted", prune: true},
		{name: "no prune: objects orphaned", prune: false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unitRemovedMidApply(t, c, unique(fmt.Sprintf("removed-%d", i)), tt.prune, tt.killed)
		})
	}
}

// unitRemovedMidApply is TestUnitRemovedMidApply's case: the configuration
// name, whether unit gone prunes, and whether the process is killed (every
// request after the stop fails) rather than the run cancelled.
func unitRemovedMidApply(t *testing.T, c *localcluster.Cluster, name string, prune, killed bool) {
	const objects, cancelAt = 100, 40
	ctx := t.Context()
	ns, keepNS := name+"-gone", name+"-keep"
	e := newEnv(t, c, name, merge(configMaps("keep", keepNS, 3, "1"), configMaps("gone", ns, objects, "1")),
		reconcile.Unit{Name: "keep", Path: "keep", Prune: true})
	e.plantSentinels(ns, keepNS)
	if s := e.run(e.reconciler(nil, reconcile.Options{})); !s.Compliant() {
		t.Fatal(s)
	}
	keep := e.snapshot()

	t.Logf("unit gone added; its first run is stopped after %d of its %d applies", cancelAt, objects)
	e.conf.Units = append(e.conf.Units, reconcile.Unit{Name: "gone", Path: "gone", Prune: prune})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var applies atomic.Int32
	var dead atomic.Bool
	var once sync.Once
	cfg := wrapConfig(c.Config, func(r *http.Request, next func() (*http.Response, error)) (*http.Response, error) {
		if dead.Load() {
			return nil, errors.New("injected: the process is gone")
		}
		if isApply(r) && strings.Contains(r.URL.Path, "/namespaces/"+ns+"/") && applies.Add(1) == cancelAt {
			once.Do(func() {
				t.Logf("stopping the run at %s %s", r.Method, r.URL.Path)
				if killed {
					dead.Store(true)
				}
				cancel()
			})
		}
		return next()
	})
	r := e.reconciler(cfg, reconcile.Options{})
	s, err := r.Run(runCtx)
	logStatus(t, s)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if u := unitStatus(t, s, "gone"); u.Phase == reconcile.PhaseReady {
		t.Errorf("unit gone Ready although its run was stopped: %+v", u)
	}
	created := e.labelled(e.owner("gone"))
	t.Logf("gone applied %d objects before the stop; its inventory lists %d", len(created), e.loadInventory("gone").Len())
	if len(created) == 0 {
		t.Fatal("the stop came before anything was applied")
	}
	e.check()
	liveGone := map[string]types.UID{}
	for id, o := range created {
		liveGone[id.Name] = o.uid
	}

	t.Log("the configuration without gone")
	e.conf.Units = e.conf.Units[:1]
	r = e.reconciler(nil, reconcile.Options{})
	e.events.reset()
	if s := e.run(r); !s.Compliant() {
		t.Errorf("without gone: %s", s)
	}
	for id := range e.labelled(e.owner("gone")) {
		t.Errorf("%s still carries the labels of the removed unit gone", id)
	}
	for cmName, uid := range liveGone {
		cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(ctx, cmName, metav1.GetOptions{})
		switch {
		case prune && !apierrors.IsNotFound(err) && (err != nil || cm.DeletionTimestamp == nil):
			t.Errorf("%s of the removed unit gone (which pruned) still exists: %v", cmName, err)
		case !prune && err != nil:
			t.Errorf("%s of the removed unit gone (which did not prune) was deleted: %v", cmName, err)
		case !prune && cm.UID != uid:
			t.Errorf("%s of the removed unit gone was recreated", cmName)
		}
	}
	if e.hasInventory("gone") {
		t.Error("the removed unit's inventory still exists")
	}
	if !e.events.reached("gone", reconcile.StageRemove) {
		t.Error("no event of the removal of unit gone")
	}
	e.objectsUnchangedOf(keep)
	e.check()
	e.converge(r)
}

// objectsUnchangedOf asserts that the labelled objects of before are still
// there, unchanged (other objects may have come and gone).
func (e *env) objectsUnchangedOf(before snapshot) {
	e.t.Helper()
	after := map[inventory.ID]liveObject{}
	for _, u := range e.conf.Units {
		for id, o := range e.labelled(e.owner(u.Name)) {
			after[id] = o
		}
	}
	for id, o := range before.objects {
		a, ok := after[id]
		switch {
		case !ok:
			e.t.Errorf("%s was deleted or lost its labels", id)
		case a.uid != o.uid:
			e.t.Errorf("%s was recreated", id)
		case a.resourceVersion != o.resourceVersion:
			e.t.Errorf("%s was changed", id)
		}
	}
}
