package helmrelease

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
)

// Release options as helm-controller's: the Skip CRD policy leaves crds/
// alone; MaxHistory bounds the revisions kept; without CreateNamespace a
// missing namespace fails the install before any revision is written, and
// with it the namespace is created.
func TestReleaseOptions(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	ctx := t.Context()

	t.Run("crds skip", func(t *testing.T) {
		// A group of its own per run: CRDs are cluster-wide and outlive
		// the test.
		group := uniqueNamespace("skip") + ".test.gitopskit.io"
		crd := "gadgets." + group
		c := cmChart("skipcrds", "1.0.0")
		c.CRDs = map[string]string{"gadget.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + crd + `
spec:
  group: ` + group + `
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
`}
		t.Cleanup(func() {
			_ = r.dynamic.Resource(crdGVR).Delete(context.Background(), crd, metav1.DeleteOptions{})
		})
		rel := Release{Name: "skip", Namespace: uniqueNamespace("opt-crds"), CreateNamespace: true, CRDs: CRDSkip,
			Chart: ChartRef{Path: gitopstest.WriteChartDir(t, c)}}
		mustReconcile(t, r, rel)
		if _, err := r.dynamic.Resource(crdGVR).Get(ctx, crd, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("CRD with policy Skip: %v", err)
		}
		// Flux's per-action policies: an upgrade with upgrade.crds Create
		// creates it.
		rel.Upgrade.CRDs = CRDCreate
		rel.Values = map[string]any{"message": "upgrade"}
		if st := mustReconcile(t, r, rel); st.Reason != ReasonUpgraded {
			t.Fatalf("upgrade: %s", st.Reason)
		}
		if _, err := r.dynamic.Resource(crdGVR).Get(ctx, crd, metav1.GetOptions{}); err != nil {
			t.Fatalf("CRD with upgrade policy Create: %v", err)
		}
	})

	t.Run("max history", func(t *testing.T) {
		rel := Release{Name: "hist", Namespace: uniqueNamespace("opt-history"), CreateNamespace: true, MaxHistory: 2,
			Chart: ChartRef{Path: gitopstest.WriteChartDir(t, cmChart("hist", "1.0.0"))}}
		var st Status
		for _, msg := range []string{"a", "b", "c", "d"} {
			rel.Values = map[string]any{"message": msg}
			st = mustReconcile(t, r, rel)
		}
		if st.Revision != 4 || revisions(st) != "4:deployed 3:superseded" {
			t.Fatalf("revision %d history %s, want 2 revisions kept", st.Revision, revisions(st))
		}
	})

	t.Run("create namespace", func(t *testing.T) {
		ns := uniqueNamespace("opt-missing-ns")
		rel := Release{Name: "ns", Namespace: ns, Timeout: time.Minute,
			Chart: ChartRef{Path: gitopstest.WriteChartDir(t, cmChart("ns", "1.0.0"))}}
		st, err := r.Reconcile(ctx, rel)
		if !errors.Is(err, ErrReleaseFailed) || st.Reason != ReasonInstallFailed || len(st.History) != 0 {
			t.Fatalf("missing namespace: reason %s history %s err %v", st.Reason, revisions(st), err)
		}
		if !containsStr(err.Error(), ns) {
			t.Errorf("error does not name the namespace: %v", err)
		}
		rel.CreateNamespace = true
		st = mustReconcile(t, r, rel)
		if st.Reason != ReasonInstalled {
			t.Fatalf("with CreateNamespace: %s", st.Reason)
		}
		if _, err := clientset(t).CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
