package apply_test

import (
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
)

// A controller writing an object's status (and fields only it owns, such as
// the Deployment controller's revision annotation, which also raises the
// generation) changes the resourceVersion after the apply. The next apply must still cost no
// request per object and no inventory write, and a later hand edit of a
// field we applied must still be put back.
func TestApplyStatusChangeIsNoop(t *testing.T) {
	ctx := t.Context()
	cnt := newCounter(testCluster(t).Config)
	cl := newCluster(t, cnt.config())
	m := newManager(t, cl)
	store := newStore(t, cl, "status-noop")
	// The namespace is one of the applied objects: a name of its own, so
	// that a rerun (go test -count=N) does not meet the last run's.
	ns := gitopstest.UniqueName("status-noop")
	objs := []*unstructured.Unstructured{
		namespace(ns),
		deployment(ns, "app", nil),
		configMap(ns, "cfg", map[string]any{"k": "v"}),
	}
	opts := apply.ApplyOptions{Inventory: store, TakeOverConflicts: true}
	mustApply(t, m, objs, opts)

	deps := clientset(t).AppsV1().Deployments(ns)
	d, err := deps.Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied := d.ResourceVersion
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1}
	if d, err = deps.UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "kube-controller-manager"}); err != nil {
		t.Fatal(err)
	}
	d.Annotations = map[string]string{"deployment.kubernetes.io/revision": "1"}
	if d, err = deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "kube-controller-manager"}); err != nil {
		t.Fatal(err)
	}
	if d.ResourceVersion == applied {
		t.Fatal("the status update left the resourceVersion as it was")
	}

	cnt.reset()
	cs := mustApply(t, m, objs, opts)
	if got := cs.Count(apply.Unchanged); got != len(objs) {
		t.Fatalf("after a status change: %s, want all unchanged", cs.Summary())
	}
	k := cnt.byKind()
	if k["apply"] != 0 || k[http.MethodPut] != 0 || k["list"]+k["get"] != len(cnt.reqs) {
		t.Errorf("after a status change: requests %v, want only LISTs and the inventory GET\n%s", k, cnt.dump())
	}

	// A hand edit of a field we applied, on top of the status change: put
	// back (an apply that conflicts, then one that takes the field over).
	d.Spec.Replicas = new(int32(3))
	if _, err := deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	cnt.reset()
	cs = mustApply(t, m, objs, opts)
	if a := actions(cs)["apps/Deployment/"+ns+"/app"]; a != apply.Configured {
		t.Fatalf("hand edit of spec.replicas: %s (%s), want configured", a, cs.Summary())
	}
	if k := cnt.byKind(); k["apply"] != 2 {
		t.Errorf("hand edit: %d SSA requests, want 2", k["apply"])
	}
	if d, err := deps.Get(ctx, "app", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 1 {
		t.Fatalf("spec.replicas not put back: %v %v", d.Spec.Replicas, err)
	}

	// A hand edit of the ConfigMap, which has no generation: the field
	// moves to the editor, so our managedFields entry changes.
	cms := clientset(t).CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "edited"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	cs = mustApply(t, m, objs, opts)
	if a := actions(cs)["core/ConfigMap/"+ns+"/cfg"]; a != apply.Configured {
		t.Fatalf("hand edit of a ConfigMap: %s (%s), want configured", a, cs.Summary())
	}
	if cm, err := cms.Get(ctx, "cfg", metav1.GetOptions{}); err != nil || cm.Data["k"] != "v" {
		t.Fatalf("ConfigMap not put back: %v %v", cm.Data, err)
	}
}
