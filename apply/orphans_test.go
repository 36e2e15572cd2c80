package apply_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
)

// TestApplyLostInventory: the unit's inventory is deleted, and the next
// apply no longer wants a ConfigMap and a ClusterRole (a kind it applies no
// more). Apply finds both by label and field manager and reports them stale,
// so Prune deletes them; a ConfigMap someone else labelled as the unit's is
// neither listed nor deleted.
func TestApplyLostInventory(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "lost-inventory")
	ns := testNamespace(t, "lost-inventory")
	role := obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", ns+"-reader", map[string]any{
		"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"get"}}},
	})
	all := []*unstructured.Unstructured{configMap(ns, "keep", nil), configMap(ns, "gone", nil), role}
	cs := mustApply(t, m, all, apply.ApplyOptions{Inventory: store})
	if _, err := m.Prune(ctx, cs, apply.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	kc := clientset(t)
	copied := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "copied", Namespace: ns, Labels: store.Owner().Labels()}}
	if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, copied, metav1.CreateOptions{FieldManager: "label-copier"}); err != nil {
		t.Fatal(err)
	}
	if err := kc.CoreV1().Secrets(store.Owner().Namespace).Delete(ctx, "lost-inventory", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	cs = mustApply(t, m, all[:1], apply.ApplyOptions{Inventory: store})
	stale := map[string]bool{}
	for _, e := range cs.Stale() {
		stale[e.String()] = true
	}
	want := []string{"core/ConfigMap/" + ns + "/gone", "rbac.authorization.k8s.io/ClusterRole//" + ns + "-reader"}
	if len(stale) != len(want) || !stale[want[0]] || !stale[want[1]] {
		t.Fatalf("stale after losing the inventory: %v, want %v", cs.Stale(), want)
	}
	inv, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Len() != 3 {
		t.Errorf("inventory before the prune: %v, want keep and the two stale objects", inv.Entries)
	}
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pruned.Count(apply.Deleted); got != 2 {
		t.Errorf("pruned %d, want 2: %v", got, pruned.Changes)
	}
	if _, err := kc.RbacV1().ClusterRoles().Get(ctx, ns+"-reader", metav1.GetOptions{}); err == nil {
		t.Error("the ClusterRole that left the unit still exists")
	}
	if _, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, "copied", metav1.GetOptions{}); err != nil {
		t.Errorf("the ConfigMap with copied labels: %v", err)
	}
}
