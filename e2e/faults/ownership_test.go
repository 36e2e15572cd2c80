package faults_test

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestForeignObjectWithCopiedLabels: someone copies a unit's ownership
// labels onto ConfigMaps of their own (the classic operator case), in the
// unit's namespace and elsewhere. They are not in the unit's inventory, so
// nothing may ever delete or change them: not a reconcile, not a prune of
// objects that left Git, not a plan, not an allowed empty build that prunes
// everything, not the removal of the unit from the configuration.
func TestForeignObjectWithCopiedLabels(t *testing.T) {
	c := sharedCluster(t)
	name := unique("copied")
	ns, elsewhere := name, name+"-elsewhere"
	e := newEnv(t, c, name, map[string]string{
		"app/a.yaml": cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1"),
		"other/cm.yaml": cmYAML(ns, "other", "1"),
	}, reconcile.Unit{Name: "app", Path: "app", Prune: true, AllowEmpty: true})
	e.plantSentinels(ns)
	e.plantForeign("app", ns, "foreign")
	e.plantForeign("app", elsewhere, "foreign")
	r := e.reconciler(nil, reconcile.Options{})

	t.Log("reconcile")
	if s := e.run(r); !s.Compliant() {
		t.Fatal(s)
	}
	e.check()

	t.Log("b leaves Git: the plan and the reconcile prune b only")
	e.commit(gitserver.CommitOptions{Delete: []string{"app/b.yaml"}})
	plan, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range plan.Units[0].Prune.Changes {
		if ch.Action == apply.Deleted && ch.Object.Name != "b" {
			t.Errorf("the plan would delete %s", ch.Object)
		}
	}
	if u := unitStatus(t, e.run(r), "app"); u.Counts.Deleted != 1 {
		t.Errorf("pruned %d objects, want 1 (b)", u.Counts.Deleted)
	}
	e.check()

	t.Log("every manifest leaves Git (allowed): a is pruned, nothing else")
	e.commit(gitserver.CommitOptions{Delete: []string{"app/a.yaml"}, Files: map[string]string{"app/README.md": "empty"}})
	if u := unitStatus(t, e.run(r), "app"); u.Phase != reconcile.PhaseReady || u.Counts.Deleted != 1 {
		t.Errorf("allowed empty build: %s (%s) %s, want Ready with 1 pruned", u.Phase, u.Reason, u.Counts)
	}
	e.check()
	e.converge(r)

	t.Log("the unit leaves the configuration")
	e.commit(gitserver.CommitOptions{Files: map[string]string{"app/a.yaml": cmYAML(ns, "a", "1")}})
	if s := e.run(r); !s.Compliant() {
		t.Fatal(s)
	}
	e.conf.Units = []reconcile.Unit{{Name: "other", Path: "other", Prune: true}}
	r2 := e.reconciler(nil, reconcile.Options{})
	if s := e.run(r2); !s.Compliant() {
		t.Fatal(s)
	}
	for id := range e.labelled(e.owner("app")) {
		if !e.foreign[id] {
			t.Errorf("%s is still labelled as the removed unit's", id)
		}
	}
	if _, err := e.configMapValue(ns, "a"); !apierrors.IsNotFound(err) {
		t.Errorf("a, applied by the removed unit (which pruned), still exists: %v", err)
	}
	if inv := e.loadInventory("app"); inv.Len() != 0 {
		t.Errorf("the removed unit's inventory still lists %v", inv.Entries)
	}
	e.check()
	e.converge(r2)
}

// TestInventoryTamperedWith changes a unit's records or objects behind its
// back. A deleted object, stripped ownership labels or a deleted inventory
// are repaired by the next reconcile. A corrupt inventory or one taken over
// by another tool stops the unit (typed errors) with nothing applied and
// nothing pruned, until the inventory is deleted.
func TestInventoryTamperedWith(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name   string
		tamper func(e *env, ns string) error
		// is, when set, says the unit must stop with an error matching it.
		is error
		as func(error) bool
	}{
		{
			name: "object deleted",
			tamper: func(e *env, ns string) error {
				return e.kube.CoreV1().ConfigMaps(ns).Delete(e.t.Context(), "a", metav1.DeleteOptions{})
			},
		},
		{
			name: "ownership labels stripped from an object",
			tamper: func(e *env, ns string) error {
				cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(e.t.Context(), "a", metav1.GetOptions{})
				if err != nil {
					return err
				}
				cm.Labels = nil
				_, err = e.kube.CoreV1().ConfigMaps(ns).Update(e.t.Context(), cm, metav1.UpdateOptions{FieldManager: "label-stripper"})
				return err
			},
		},
		{
			name: "inventory deleted",
			tamper: func(e *env, _ string) error {
				return e.kube.CoreV1().Secrets(e.conf.Namespace).Delete(e.t.Context(), e.inventoryPage(), metav1.DeleteOptions{})
			},
		},
		{
			name: "inventory corrupted",
			tamper: func(e *env, _ string) error {
				return e.updateInventorySecret(func(s *corev1.Secret) { s.Data[inventory.DataKey] = []byte("garbage") })
			},
			is: inventory.ErrCorrupt,
		},
		{
			name: "inventory taken over by another tool",
			tamper: func(e *env, _ string) error {
				return e.updateInventorySecret(func(s *corev1.Secret) { s.Annotations[inventory.AnnotationApplySetTooling] = "kubectl/v1.35" })
			},
			as: func(err error) bool {
				var fe *inventory.ForeignToolError
				return errors.As(err, &fe) && fe.Tooling == "kubectl/v1.35"
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("tamper-%d", i))
			ns := name
			e := newEnv(t, c, name, map[string]string{"app/a.yaml": cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1")},
				reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatal(s)
			}
			if err := tt.tamper(e, ns); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			e.commit(gitserver.CommitOptions{Files: map[string]string{"app/a.yaml": cmYAML(ns, "a", "2")}})
			if tt.is == nil && tt.as == nil {
				e.converge(r)
				if v, err := e.configMapValue(ns, "a"); v != "2" {
					t.Errorf("a = %q (%v), want 2", v, err)
				}
				return
			}
			before := e.snapshot()
			u := unitStatus(t, e.run(r), "app")
			if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonApplyFailed {
				t.Errorf("unit %s (%s), want NotReady (ApplyFailed)", u.Phase, u.Reason)
			}
			matched := false
			for _, err := range e.events.errs("app") {
				matched = matched || (tt.is != nil && errors.Is(err, tt.is)) || (tt.as != nil && tt.as(err))
			}
			if !matched {
				t.Errorf("no event error says why: %v", e.events.errs("app"))
			}
			e.unchanged(before)
			e.checkSentinels()
			// The way out: delete the damaged inventory; the next reconcile
			// records the unit's objects again.
			if err := e.kube.CoreV1().Secrets(e.conf.Namespace).Delete(t.Context(), e.inventoryPage(), metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			e.converge(r)
		})
	}
}

func (e *env) updateInventorySecret(change func(*corev1.Secret)) error {
	ctx := e.t.Context()
	s, err := e.kube.CoreV1().Secrets(e.conf.Namespace).Get(ctx, e.inventoryPage(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	change(s)
	_, err = e.kube.CoreV1().Secrets(e.conf.Namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: "tamperer"})
	return err
}
