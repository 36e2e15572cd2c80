package apply_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/inventory"
)

// unitObjects returns namespaces plus ConfigMaps, Services and Deployments
// in them: 2 + 3*2*perKind objects.
func unitObjects(prefix string, perKind int) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for n := range 2 {
		ns := fmt.Sprintf("%s-%d", prefix, n)
		objs = append(objs, namespace(ns))
		for i := range perKind {
			name := fmt.Sprintf("obj-%d", i)
			objs = append(objs, configMap(ns, name, map[string]any{"i": fmt.Sprint(i)}), service(ns, name), deployment(ns, name, nil))
		}
	}
	return objs
}

func TestApplyFirstNoopChange(t *testing.T) {
	ctx := t.Context()
	cnt := newCounter(testCluster(t).Config)
	cl := newCluster(t, cnt.config())
	m := newManager(t, cl)
	store := newStore(t, cl, "first-noop")
	prefix := gitopstest.UniqueName("first")
	objs := unitObjects(prefix, 5)
	opts := apply.ApplyOptions{Inventory: store}

	cnt.reset()
	cs := mustApply(t, m, objs, opts)
	if got := cs.Count(apply.Created); got != len(objs) {
		t.Fatalf("first apply: %d created, want %d: %s", got, len(objs), cs.Summary())
	}
	k := cnt.byKind()
	if k["apply"] != len(objs) || k["get"] > 1 {
		t.Errorf("first apply: %d SSA requests (want %d) and %d GETs (want <= 1, the inventory)\n%s", k["apply"], len(objs), k["get"], cnt.dump())
	}
	t.Logf("first apply requests: %v", k)

	// The inventory lists every object with hash and resourceVersion.
	inv, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Len() != len(objs) {
		t.Fatalf("inventory has %d entries, want %d", inv.Len(), len(objs))
	}
	for _, e := range inv.Entries {
		if e.Hash == "" || e.ResourceVersion == "" {
			t.Errorf("entry %s lacks hash or resourceVersion: %+v", e, e)
		}
	}
	// Every object carries the ownership labels.
	got, err := clientset(t).CoreV1().ConfigMaps(prefix+"-0").Get(ctx, "obj-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range store.Owner().Labels() {
		if got.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, got.Labels[k], v)
		}
	}

	// No-op: only LISTs (plus the inventory GET), nothing applied.
	cnt.reset()
	cs = mustApply(t, m, objs, opts)
	if got := cs.Count(apply.Unchanged); got != len(objs) {
		t.Fatalf("no-op: %s", cs.Summary())
	}
	k = cnt.byKind()
	if k["apply"] != 0 || k["get"] != 1 || k["list"] == 0 || k["list"]+k["get"] != len(cnt.reqs) {
		t.Errorf("no-op requests: %v, want only LISTs and the inventory GET\n%s", k, cnt.dump())
	}
	// One LIST per resource and namespace, whether started early (the
	// kinds the cluster serves) or at its stage.
	lists := map[string]bool{}
	for _, o := range objs {
		lists[o.GetKind()+"/"+o.GetNamespace()] = true
	}
	if k["list"] != len(lists) {
		t.Errorf("no-op: %d LISTs, want one per kind and namespace (%d)\n%s", k["list"], len(lists), cnt.dump())
	}
	t.Logf("no-op requests: %v (%s)", k, cs.Summary())

	// One changed field: one SSA request.
	changed := make([]*unstructured.Unstructured, len(objs))
	copy(changed, objs)
	changed[1] = configMap(prefix+"-0", "obj-0", map[string]any{"i": "changed"})
	cnt.reset()
	cs = mustApply(t, m, changed, opts)
	if cs.Count(apply.Configured) != 1 || cs.Count(apply.Unchanged) != len(objs)-1 {
		t.Fatalf("change one field: %s", cs.Summary())
	}
	if k := cnt.byKind(); k["apply"] != 1 {
		t.Errorf("change one field: %d SSA requests, want 1", k["apply"])
	}

	// Deleted by someone: found and recreated in one reconcile.
	if err := clientset(t).CoreV1().Services(prefix+"-1").Delete(ctx, "obj-3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cnt.reset()
	cs = mustApply(t, m, changed, opts)
	if a := actions(cs)["core/Service/"+prefix+"-1/obj-3"]; a != apply.Created || cs.Count(apply.Unchanged) != len(objs)-1 {
		t.Fatalf("recreate deleted: %s, service %s", cs.Summary(), a)
	}
	if k := cnt.byKind(); k["apply"] != 1 {
		t.Errorf("recreate deleted: %d SSA requests, want 1", k["apply"])
	}
}

func TestApplyDriftByOtherManager(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "drift")
	ns := testNamespace(t, "drift")
	objs := []*unstructured.Unstructured{
		configMap(ns, "a", map[string]any{"color": "blue"}),
		configMap(ns, "b", map[string]any{"color": "green"}),
		obj("v1", "Secret", ns, "s", map[string]any{"stringData": map[string]any{"password": "hunter2"}}),
	}
	mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})

	// Someone edits a field we own, with another field manager.
	cs := clientset(t)
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "red"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "s", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["password"] = []byte("swordfish")
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	// A dry run reports the drift, Secret values masked, and changes nothing.
	dry, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store, DryRun: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]apply.FieldDiff{}
	for _, c := range dry.Changes {
		got[c.Object.String()] = c.Drift
	}
	if d := got["core/ConfigMap/"+ns+"/a"]; len(d) != 1 || d[0].Path != "/data/color" || d[0].Live != "red" || d[0].Desired != "blue" {
		t.Errorf("dry-run drift of a: %v", d)
	}
	if d := got["core/Secret/"+ns+"/s"]; len(d) != 1 || d[0].Path != "/data/password" || d[0].Live != apply.Masked || d[0].Desired != apply.Masked {
		t.Errorf("dry-run drift of s: %v (values must be masked)", d)
	}
	if a := actions(dry); a["core/ConfigMap/"+ns+"/b"] != apply.Unchanged || a["core/ConfigMap/"+ns+"/a"] != apply.Configured {
		t.Errorf("dry run actions: %v", a)
	}
	if cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{}); cm.Data["color"] != "red" {
		t.Fatalf("dry run changed the object: %v", cm.Data)
	}

	// Without force: a typed conflict naming the manager.
	_, err = m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store})
	var conflict *apply.FieldConflictError
	if !errors.As(err, &conflict) || conflict.Object.Name != "a" && conflict.Object.Name != "s" {
		t.Fatalf("apply without force: %v, want a FieldConflictError", err)
	}
	t.Logf("conflict: %v", conflict)

	// Taking over conflicts: put back, and the change names the manager
	// the fields were taken from.
	res, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store, TakeOverConflicts: true, ReportDrift: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(res); a["core/ConfigMap/"+ns+"/a"] != apply.Configured || a["core/Secret/"+ns+"/s"] != apply.Configured || a["core/ConfigMap/"+ns+"/b"] != apply.Unchanged {
		t.Errorf("apply taking over conflicts: %v", a)
	}
	for _, c := range res.Changes {
		if c.Object.Name == "a" && (!strings.Contains(c.Reason, "took over") || !strings.Contains(c.Reason, "kubectl-edit")) {
			t.Errorf("reason %q does not say which manager's fields were taken over", c.Reason)
		}
	}
	if cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{}); cm.Data["color"] != "blue" {
		t.Errorf("drift not put back: %v", cm.Data)
	}
	for _, c := range res.Changes {
		if c.Object.Name == "a" && (len(c.Drift) != 1 || c.Drift[0].String() != "/data/color: red -> blue") {
			t.Errorf("reported drift: %v", c.Drift)
		}
	}
}

func TestApplyPrune(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "prune")
	ns := testNamespace(t, "prune")
	keepAnn := configMap(ns, "keep", nil)
	keepAnn.SetAnnotations(map[string]string{apply.AnnotationPrune: apply.Disabled})
	all := []*unstructured.Unstructured{
		configMap(ns, "a", nil), configMap(ns, "b", nil), configMap(ns, "c", nil),
		keepAnn, configMap(ns, "taken", nil),
	}
	cs := mustApply(t, m, all, apply.ApplyOptions{Inventory: store})
	if _, err := m.Prune(ctx, cs, apply.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	// Someone takes "taken" over: it is no longer ours.
	kc := clientset(t)
	taken, _ := kc.CoreV1().ConfigMaps(ns).Get(ctx, "taken", metav1.GetOptions{})
	delete(taken.Labels, inventory.LabelApplySetPartOf)
	if _, err := kc.CoreV1().ConfigMaps(ns).Update(ctx, taken, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	cs = mustApply(t, m, all[:2], apply.ApplyOptions{Inventory: store})
	if n := len(cs.Stale()); n != 3 {
		t.Fatalf("stale: %v", cs.Stale())
	}
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]apply.Action{"core/ConfigMap/" + ns + "/c": apply.Deleted, "core/ConfigMap/" + ns + "/keep": apply.Skipped, "core/ConfigMap/" + ns + "/taken": apply.Skipped}
	for k, v := range want {
		if actions(pruned)[k] != v {
			t.Errorf("prune %s: %s, want %s (%v)", k, actions(pruned)[k], v, pruned.Changes)
		}
	}
	for _, name := range []string{"keep", "taken"} {
		if _, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s must stay: %v", name, err)
		}
	}
	if _, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, "c", metav1.GetOptions{}); err == nil {
		t.Error("c was not deleted")
	}
	inv, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Len() != 2 {
		t.Errorf("inventory after prune: %v", inv.Entries)
	}

	// Prune refuses a failed apply's change set.
	bad := append(all[:2:2], obj("example.invalid/v1", "Nope", ns, "x", nil))
	failed, err := m.Apply(ctx, bad, apply.ApplyOptions{Inventory: store})
	if !errors.Is(err, apply.ErrUnknownKind) {
		t.Fatalf("apply with unknown kind: %v", err)
	}
	if _, err := m.Prune(ctx, failed, apply.PruneOptions{}); !errors.Is(err, apply.ErrApplyFailed) {
		t.Fatalf("prune after failed apply: %v", err)
	}
}

func TestApplyNamespacePrunedLast(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "ns-last")
	ns := gitopstest.UniqueName("ns-last") // applied, then pruned: a namespace of the test's own
	objs := []*unstructured.Unstructured{namespace(ns), configMap(ns, "a", nil), service(ns, "b"),
		configMap("default", ns+"-keep", nil)}
	cs := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	if _, err := m.Prune(ctx, cs, apply.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	cs = mustApply(t, m, objs[3:], apply.ApplyOptions{Inventory: store})
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pruned.Changes); n != 3 || pruned.Changes[n-1].Object.Kind != "Namespace" {
		t.Fatalf("prune order: %v, want the namespace last", pruned.Changes)
	}
	for _, c := range pruned.Changes {
		if c.Action != apply.Deleted {
			t.Errorf("%s", c)
		}
	}
	got, err := clientset(t).CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil && got.DeletionTimestamp == nil {
		t.Error("namespace not being deleted")
	}
}

func TestApplyOwnership(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	ns := testNamespace(t, "owners")
	one, two := newStore(t, cl, "owner-one"), newStore(t, cl, "owner-two")
	shared := []*unstructured.Unstructured{configMap(ns, "shared", map[string]any{"by": "one"})}
	mustApply(t, m, shared, apply.ApplyOptions{Inventory: one})

	tests := []struct {
		name    string
		policy  apply.Policy
		wantErr bool
	}{
		{"must match refuses", apply.MustMatch, true},
		{"adopt if no inventory refuses", apply.AdoptIfNoInventory, true},
		{"adopt all adopts", apply.AdoptAll, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []*unstructured.Unstructured{configMap(ns, "shared", map[string]any{"by": "two"})}
			cs, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: two, Policy: tt.policy})
			var own *apply.OwnershipError
			if tt.wantErr != errors.As(err, &own) {
				t.Fatalf("err %v, want OwnershipError: %v", err, tt.wantErr)
			}
			cm, _ := clientset(t).CoreV1().ConfigMaps(ns).Get(ctx, "shared", metav1.GetOptions{})
			if tt.wantErr {
				if own.Owner != one.Owner().ID || cm.Labels[inventory.LabelUnit] != "owner-one" {
					t.Errorf("owner %q, labels %v", own.Owner, cm.Labels)
				}
				if inv := cs.Inventory(); inv.Len() != 0 {
					t.Errorf("refused object recorded: %v", inv.Entries)
				}
				return
			}
			if cm.Labels[inventory.LabelUnit] != "owner-two" || cm.Data["by"] != "two" {
				t.Errorf("not adopted: %v %v", cm.Labels, cm.Data)
			}
		})
	}

	// An object of no unit: MustMatch refuses, AdoptIfNoInventory adopts.
	if _, err := clientset(t).CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns}, Data: map[string]string{"other": "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan := []*unstructured.Unstructured{configMap(ns, "orphan", map[string]any{"k": "v"})}
	var own *apply.OwnershipError
	if _, err := m.Apply(ctx, orphan, apply.ApplyOptions{Inventory: one, Policy: apply.MustMatch}); !errors.As(err, &own) || own.Owner != "" {
		t.Fatalf("MustMatch on an object of no unit: %v", err)
	}
	cs := mustApply(t, m, orphan, apply.ApplyOptions{Inventory: one})
	if c := cs.Changes[0]; c.Action != apply.Configured {
		t.Errorf("adopting an orphan: %s", c)
	}
}

func TestApplyImmutableField(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "immutable")
	ns := testNamespace(t, "immutable")
	d := deployment(ns, "web", nil)
	mustApply(t, m, []*unstructured.Unstructured{d}, apply.ApplyOptions{Inventory: store})
	before, err := clientset(t).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := deployment(ns, "web", map[string]any{"tier": "front"})
	_ = unstructured.SetNestedStringMap(changed.Object, map[string]string{"app": "web", "tier": "front"}, "spec", "selector", "matchLabels")

	_, err = m.Apply(ctx, []*unstructured.Unstructured{changed}, apply.ApplyOptions{Inventory: store})
	var imm *apply.ImmutableFieldError
	if !errors.As(err, &imm) || imm.Object.Name != "web" || len(imm.Fields) == 0 || imm.Fields[0] != "spec.selector" {
		t.Fatalf("without force: %v, want ImmutableFieldError naming spec.selector", err)
	}

	tests := []struct {
		name string
		set  func(*unstructured.Unstructured, *apply.ApplyOptions)
	}{
		{"force option", func(_ *unstructured.Unstructured, o *apply.ApplyOptions) { o.Force = true }},
		{"force annotation", func(u *unstructured.Unstructured, _ *apply.ApplyOptions) {
			u.SetAnnotations(map[string]string{apply.AnnotationForce: apply.Enabled})
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := changed.DeepCopy()
			tier := fmt.Sprintf("t%d", i)
			_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"app": "web", "tier": tier}, "spec", "selector", "matchLabels")
			_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"app": "web", "tier": tier}, "spec", "template", "metadata", "labels")
			opts := apply.ApplyOptions{Inventory: store}
			tt.set(u, &opts)
			cs := mustApply(t, m, []*unstructured.Unstructured{u}, opts)
			if c := cs.Changes[0]; c.Action != apply.Configured || c.Reason == "" {
				t.Errorf("forced: %s", c)
			}
			after, err := clientset(t).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if after.UID == before.UID || after.Spec.Selector.MatchLabels["tier"] != tier {
				t.Errorf("not recreated: uid %s -> %s, selector %v", before.UID, after.UID, after.Spec.Selector)
			}
			before = after
		})
	}
}

func TestApplyAnnotations(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "annotations")
	ns := testNamespace(t, "annotations")
	createOnly := configMap(ns, "create-only", map[string]any{"v": "1"})
	createOnly.SetAnnotations(map[string]string{apply.AnnotationCreateOnly: apply.Enabled})
	skip := configMap(ns, "skip", map[string]any{"v": "1"})
	skip.SetAnnotations(map[string]string{apply.AnnotationReconcile: apply.Disabled})
	cs := mustApply(t, m, []*unstructured.Unstructured{createOnly, skip}, apply.ApplyOptions{Inventory: store})
	if a := actions(cs); a["core/ConfigMap/"+ns+"/create-only"] != apply.Created || a["core/ConfigMap/"+ns+"/skip"] != apply.Skipped {
		t.Fatalf("first: %v", cs.Changes)
	}
	createOnly.Object["data"] = map[string]any{"v": "2"}
	cs = mustApply(t, m, []*unstructured.Unstructured{createOnly, skip}, apply.ApplyOptions{Inventory: store})
	if a := actions(cs); a["core/ConfigMap/"+ns+"/create-only"] != apply.Skipped {
		t.Fatalf("second: %v", cs.Changes)
	}
	kc := clientset(t)
	if cm, _ := kc.CoreV1().ConfigMaps(ns).Get(ctx, "create-only", metav1.GetOptions{}); cm.Data["v"] != "1" {
		t.Errorf("create-only object changed: %v", cm.Data)
	}
	if _, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, "skip", metav1.GetOptions{}); err == nil {
		t.Error("object with reconcile disabled was created")
	}
}

func TestApplyIgnoreRules(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "ignore")
	ns := testNamespace(t, "ignore")
	objs := []*unstructured.Unstructured{configMap(ns, "a", map[string]any{"mine": "1", "theirs": "from-git"})}
	rules := []apply.IgnoreRule{{Paths: []string{"/data/theirs"}, Target: &apply.Selector{Kind: "ConfigMap", Name: "a"}}}
	mustApply(t, m, objs, apply.ApplyOptions{Inventory: store, Ignore: rules})
	kc := clientset(t)
	cm, _ := kc.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{})
	if _, ok := cm.Data["theirs"]; ok {
		t.Fatalf("ignored field applied: %v", cm.Data)
	}
	cm.Data["theirs"] = "set-by-controller"
	if _, err := kc.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "controller"}); err != nil {
		t.Fatal(err)
	}
	cs, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store, Ignore: rules, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := cs.Changes[0]; c.Action != apply.Unchanged || len(c.Drift) != 0 {
		t.Errorf("ignored field reported as drift: %s %v", c, c.Drift)
	}
	mustApply(t, m, objs, apply.ApplyOptions{Inventory: store, Ignore: rules})
	if cm, _ := kc.CoreV1().ConfigMaps(ns).Get(ctx, "a", metav1.GetOptions{}); cm.Data["theirs"] != "set-by-controller" {
		t.Errorf("ignored field overwritten: %v", cm.Data)
	}
}

func TestDeleteUnit(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	ns := testNamespace(t, "unit-delete")
	kc := clientset(t)
	tests := []struct {
		policy   apply.DeletePolicy
		wantGone bool
	}{{apply.DeleteObjects, true}, {apply.OrphanObjects, false}}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			unit := "unit-" + string(tt.policy)
			store := newStore(t, cl, strings.ToLower(unit))
			objs := []*unstructured.Unstructured{configMap(ns, strings.ToLower(unit), nil)}
			mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
			cs, err := m.DeleteUnit(ctx, store, apply.DeleteUnitOptions{Policy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, strings.ToLower(unit), metav1.GetOptions{})
			if gone := err != nil; gone != tt.wantGone {
				t.Fatalf("object gone: %v, want %v (%v)", gone, tt.wantGone, cs.Changes)
			}
			if !tt.wantGone && cm.Labels[inventory.LabelApplySetPartOf] != "" {
				t.Errorf("orphan keeps the ownership labels: %v", cm.Labels)
			}
			want := map[apply.DeletePolicy]apply.Action{apply.DeleteObjects: apply.Deleted, apply.OrphanObjects: apply.Orphaned}[tt.policy]
			if len(cs.Changes) != 1 || cs.Changes[0].Action != want {
				t.Errorf("changes %v, want one %s", cs.Changes, want)
			}
			if _, err := kc.CoreV1().Secrets(store.Owner().Namespace).Get(ctx, strings.ToLower(unit), metav1.GetOptions{}); err == nil {
				t.Error("inventory not deleted")
			}
		})
	}
}

func TestPruneDryRun(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "prune-dry")
	ns := testNamespace(t, "prune-dry")
	objs := []*unstructured.Unstructured{configMap(ns, "a", nil), configMap(ns, "b", nil)}
	cs := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	if _, err := m.Prune(ctx, cs, apply.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	dry := mustApply(t, m, objs[:1], apply.ApplyOptions{Inventory: store, DryRun: true})
	pruned, err := m.Prune(ctx, dry, apply.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned.Changes) != 1 || pruned.Changes[0].Action != apply.Deleted || !pruned.DryRun {
		t.Fatalf("dry-run prune: %v", pruned.Changes)
	}
	if _, err := clientset(t).CoreV1().ConfigMaps(ns).Get(ctx, "b", metav1.GetOptions{}); err != nil {
		t.Fatalf("dry-run prune deleted b: %v", err)
	}
	if inv, _ := store.Load(ctx); inv.Len() != 2 {
		t.Fatalf("dry run changed the inventory: %v", inv.Entries)
	}
}

// TestApplyObjectBeingDeleted: an object held by a finalizer after a delete
// (as in a terminating namespace) is reported failed with ErrBeingDeleted,
// by the fast path too, and applied again once it is gone.
func TestApplyObjectBeingDeleted(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "being-deleted")
	ns := testNamespace(t, "being-deleted")
	objs := []*unstructured.Unstructured{configMap(ns, "held", map[string]any{"k": "v"})}
	mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	kc := clientset(t)
	cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Finalizers = []string{"example.com/hold"}
	if _, err := kc.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kc.CoreV1().ConfigMaps(ns).Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	cs, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store})
	if !errors.Is(err, apply.ErrBeingDeleted) || cs.Count(apply.Failed) != 1 {
		t.Fatalf("apply while being deleted: %v (%s), want ErrBeingDeleted", err, cs.Summary())
	}
	if inv, _ := store.Load(ctx); inv.Len() != 1 {
		t.Errorf("the inventory forgot the object being deleted: %v", inv.Entries)
	}

	cm, err = kc.CoreV1().ConfigMaps(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Finalizers = nil
	if _, err := kc.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs = mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	if got := cs.Count(apply.Created); got != 1 {
		t.Errorf("apply once gone: %s, want 1 created", cs.Summary())
	}
}

func TestNewManagerNilCluster(t *testing.T) {
	if _, err := apply.NewManager(nil, apply.ManagerOptions{}); err == nil {
		t.Error("NewManager(nil) succeeded")
	}
}

// Apply edits copies of the objects it is given (ownership labels, default
// namespace, a Secret's stringData, ignored fields, status removed), never
// the caller's: a build cache hands the same objects to every apply.
func TestApplyLeavesCallersObjectsAlone(t *testing.T) {
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	tests := map[string][]apply.IgnoreRule{
		"no ignore rules": nil,
		"ignore rules":    {{Paths: []string{"/data/theirs", "/spec/template/metadata/labels/tier"}}},
	}
	for name, rules := range tests {
		t.Run(name, func(t *testing.T) {
			ns := testNamespace(t, "untouched")
			secret := obj("v1", "Secret", ns, "creds", map[string]any{
				"stringData": map[string]any{"token": "t0ken"},
				"data":       map[string]any{"other": "b3RoZXI="},
			})
			noNamespace := configMap("", "defaulted", map[string]any{"k": "v", "theirs": "x"})
			noNamespace.SetLabels(map[string]string{"team": "shop"})
			withStatus := deployment(ns, "web", map[string]any{"tier": "front"})
			withStatus.Object["status"] = map[string]any{"replicas": int64(1)}
			withStatus.SetResourceVersion("42")
			objs := []*unstructured.Unstructured{secret, noNamespace, withStatus}
			before := make([]*unstructured.Unstructured, len(objs))
			for i, o := range objs {
				before[i] = o.DeepCopy()
			}
			store := newStore(t, cl, "untouched")
			for range 2 { // the first apply creates, the second is a no-op
				mustApply(t, m, objs, apply.ApplyOptions{Inventory: store, DefaultNamespace: ns, Ignore: rules})
			}
			for i, o := range objs {
				if !equality.Semantic.DeepEqual(o.Object, before[i].Object) {
					t.Errorf("Apply changed the caller's %s:\n got %v\nwant %v", o.GetKind(), o.Object, before[i].Object)
				}
			}
		})
	}
}
