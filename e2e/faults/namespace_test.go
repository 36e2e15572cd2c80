package faults_test

import (
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// startSim starts a simulated cluster for one test: unlike the bare API
// server, its controller manager finalizes deleted namespaces.
func startSim(t *testing.T) *localcluster.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a simulated cluster; -short skips the slow end-to-end tests")
	}
	return gitopstest.StartSimCluster(t)
}

// deleteNamespaceAndWait deletes a namespace out of band and waits until the
// namespace controller has removed it and its contents.
func deleteNamespaceAndWait(t *testing.T, e *env, name string) {
	t.Helper()
	ctx := t.Context()
	if err := e.kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete namespace %s: %v", name, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := e.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s still there after 2 minutes (%v)", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestNamespaceDeletedOutOfBand deletes, behind the reconciler's back, a
// namespace a unit applied (with the unit's objects in it). The next
// reconcile after it is gone must recreate it with its contents; a
// reconcile while it is still terminating must not lose track of anything.
// Objects of the unit in another namespace, and the sentinels there, are
// not touched.
func TestNamespaceDeletedOutOfBand(t *testing.T) {
	sim := startSim(t)
	tests := []struct {
		name string
		// whileTerminating reconciles once right after the delete, before
		// the namespace is gone.
		whileTerminating bool
	}{
		{name: "gone before the reconcile"},
		{name: "reconciled while terminating, then gone", whileTerminating: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("nsdel-%d", i))
			doomed, survivor := name+"-doomed", name+"-survivor"
			files := merge(configMaps("app", doomed, 5, "1"), map[string]string{
				"app/ns.yaml":    nsYAML(doomed),
				"app/other.yaml": cmYAML(survivor, "other", "1"),
			})
			e := newEnv(t, sim, name, files, reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(survivor)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatalf("before the delete: %s", s)
			}
			old, err := e.kube.CoreV1().Namespaces().Get(t.Context(), doomed, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			other, err := e.kube.CoreV1().ConfigMaps(survivor).Get(t.Context(), "other", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}

			if tt.whileTerminating {
				if err := e.kube.CoreV1().Namespaces().Delete(t.Context(), doomed, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				e.events.reset()
				u := unitStatus(t, e.run(r), "app")
				t.Logf("while terminating: %s (%s) %s", u.Phase, u.Reason, u.Message)
				// It used to say Ready ("7 unchanged"): applying an object
				// being deleted changes nothing and cannot stop the delete.
				if u.Phase == reconcile.PhaseReady {
					t.Errorf("while the namespace terminates: %s (%s), want not Ready", u.Phase, u.Reason)
				}
				if !e.events.errorIs("app", apply.ErrBeingDeleted) {
					t.Errorf("no event error matches apply.ErrBeingDeleted: %v", e.events.errs("app"))
				}
				e.check()
				deleteNamespaceAndWait(t, e, doomed)
			} else {
				deleteNamespaceAndWait(t, e, doomed)
			}
			e.check()
			e.converge(r)

			ns, err := e.kube.CoreV1().Namespaces().Get(t.Context(), doomed, metav1.GetOptions{})
			if err != nil || ns.UID == old.UID {
				t.Fatalf("namespace %s not recreated: %v", doomed, err)
			}
			for i := range 5 {
				if v, err := e.configMapValue(doomed, fmt.Sprintf("cm-%03d", i)); v != "1" {
					t.Errorf("cm-%03d not recreated: %q %v", i, v, err)
				}
			}
			now, err := e.kube.CoreV1().ConfigMaps(survivor).Get(t.Context(), "other", metav1.GetOptions{})
			if err != nil || now.UID != other.UID {
				t.Errorf("the unit's object in the other namespace was deleted or recreated: %v", err)
			}
		})
	}
}
