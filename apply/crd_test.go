package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/inventory"
)

// widgetCRD defines example.gitopskit.io/v1 Widget, namespaced.
func widgetCRD(group string) *unstructured.Unstructured {
	return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets."+group, map[string]any{
		"spec": map[string]any{
			"group": group,
			"names": map[string]any{"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"spec":   map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
						"status": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
					},
				}},
				"subresources": map[string]any{"status": map[string]any{}},
			}},
		},
	})
}

func widget(group, ns, name string) *unstructured.Unstructured {
	return obj(group+"/v1", "Widget", ns, name, map[string]any{"spec": map[string]any{"size": int64(3)}})
}

func TestApplyCRDAndCustomResourceInOneSet(t *testing.T) {
	group := gitopstest.UniqueName("crd") + ".gitopskit.io" // a CRD is cluster-scoped: one of the test's own
	ns := gitopstest.UniqueName("crd")
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "crd")
	// The custom resources come first and their namespace last: the stages
	// put them in order, and the kind unknown at the start is resolved
	// after the CRD stage.
	objs := []*unstructured.Unstructured{widget(group, ns, "w1"), widget(group, ns, "w2"), widgetCRD(group), namespace(ns)}
	dry := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store, DryRun: true})
	if dry.Count(apply.Created) != 4 {
		t.Fatalf("dry run: %v", dry.Changes)
	}
	cs := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	if cs.Count(apply.Created) != 4 {
		t.Fatalf("first apply: %v", cs.Changes)
	}
	cs = mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	if cs.Count(apply.Unchanged) != 4 {
		t.Fatalf("second apply: %v", cs.Changes)
	}
	gvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	if _, err := dynClient(t).Resource(gvr).Namespace(ns).Get(t.Context(), "w2", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestApplyAPIServerStoppedMidApply stops the API server while an apply is
// under way: the apply fails, and every object that exists afterwards is in
// the inventory (it was recorded before it was created). Once the server is
// back, the same apply converges.
func TestApplyAPIServerStoppedMidApply(t *testing.T) {
	ctx := t.Context()
	c := testCluster(t)
	ns := testNamespace(t, "outage")
	cnt := newCounter(c.Config)
	m := newManager(t, newCluster(t, cnt.config()))
	store := newStore(t, newCluster(t, c.Config), "outage")
	var objs []*unstructured.Unstructured
	for i := range 200 {
		objs = append(objs, configMap(ns, fmt.Sprintf("cm-%03d", i), map[string]any{"i": fmt.Sprint(i)}))
	}
	var applies atomic.Int32
	var once sync.Once
	var stopped atomic.Bool
	cnt.setHook(func(r request) {
		if r.kind() == "apply" && applies.Add(1) == 60 {
			once.Do(func() {
				if err := c.StopAPIServer(); err != nil {
					t.Errorf("stop: %v", err)
				}
				stopped.Store(true)
			})
		}
	})
	t.Cleanup(func() {
		if stopped.Load() { // leave the shared cluster running (ctx is done by now)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := c.StartAPIServer(ctx); err != nil {
				t.Errorf("restart the API server: %v", err)
			}
		}
	})
	cs, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store})
	if err == nil {
		t.Fatalf("apply succeeded across an API server outage: %s", cs.Summary())
	}
	t.Logf("apply during outage: %v (%s)", err, cs.Summary())
	cnt.setHook(nil)
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	stopped.Store(false)

	inInventory := func() map[inventory.ID]bool {
		inv, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[inventory.ID]bool{}
		for _, e := range inv.Entries {
			ids[e.ID()] = true
		}
		return ids
	}
	existing := func() []string {
		list, err := clientset(t).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: inventory.LabelUnit + "=outage"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cm := range list.Items {
			names = append(names, cm.Name)
		}
		return names
	}
	ids := inInventory()
	live := existing()
	if len(live) == 0 || len(live) == len(objs) {
		t.Logf("objects existing after the outage: %d (the outage should hit mid-apply)", len(live))
	}
	for _, name := range live {
		if !ids[inventory.ID{Kind: "ConfigMap", Namespace: ns, Name: name}] {
			t.Errorf("ConfigMap %s exists but is not in the inventory", name)
		}
	}

	cs = mustApply(t, m, objs, apply.ApplyOptions{Inventory: store})
	t.Logf("re-run: %s", cs.Summary())
	if got := len(existing()); got != len(objs) {
		t.Fatalf("%d objects after the re-run, want %d", got, len(objs))
	}
	inv, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Len() != len(objs) {
		t.Fatalf("inventory has %d entries, want %d", inv.Len(), len(objs))
	}
	for _, e := range inv.Entries {
		if e.Hash == "" || e.ResourceVersion == "" {
			t.Errorf("%s recorded without hash or resourceVersion", e)
		}
	}
}

// TestApplyDefaultNamespace: namespaced objects without a namespace get
// DefaultNamespace, custom resources of a CRD in the same set included;
// cluster-scoped objects and objects with a namespace keep theirs. Without
// it, a namespaced object without a namespace fails.
func TestApplyDefaultNamespace(t *testing.T) {
	group := gitopstest.UniqueName("dflt") + ".gitopskit.io" // cluster-scoped: the test's own
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "default-namespace")
	ns := testNamespace(t, "dflt")
	other := testNamespace(t, "dflt-other")
	role := obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", ns+"-reader", nil)
	objs := []*unstructured.Unstructured{
		configMap("", "plain", nil), configMap(other, "placed", nil),
		widgetCRD(group), widget(group, "", "w"), role,
	}
	if _, err := m.Apply(t.Context(), objs, apply.ApplyOptions{Inventory: store}); err == nil {
		t.Fatal("a namespaced object without a namespace was applied without DefaultNamespace")
	}
	cs := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store, DefaultNamespace: ns})
	got := actions(cs)
	for _, id := range []string{
		"core/ConfigMap/" + ns + "/plain", "core/ConfigMap/" + other + "/placed",
		group + "/Widget/" + ns + "/w", "rbac.authorization.k8s.io/ClusterRole//" + ns + "-reader",
		"apiextensions.k8s.io/CustomResourceDefinition//widgets." + group,
	} {
		// The failed apply above already created what it could.
		if a := got[id]; a != apply.Created && a != apply.Unchanged {
			t.Errorf("%s: %q, want created or unchanged (all: %v)", id, a, got)
		}
	}
	if objs[0].GetNamespace() != "" {
		t.Error("Apply changed the caller's object")
	}
}

// TestDryRunWithPreceding: a dry run of custom resources whose CRD, and of
// objects whose namespace, a set applied before will create reports them
// as created when told so (ApplyOptions.Preceding), fails as the API
// server answers otherwise, and changes nothing either way.
func TestDryRunWithPreceding(t *testing.T) {
	group := gitopstest.UniqueName("pre") + ".gitopskit.io"
	ns := gitopstest.UniqueName("pre")
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	store := newStore(t, cl, "pre")
	objs := []*unstructured.Unstructured{widget(group, ns, "w"), configMap(ns, "c", map[string]any{"k": "v"})}

	_, err := m.Apply(t.Context(), objs, apply.ApplyOptions{Inventory: store, DryRun: true})
	if !errors.Is(err, apply.ErrUnknownKind) {
		t.Fatalf("dry run without Preceding: %v, want the unknown kind", err)
	}
	before := []*unstructured.Unstructured{widgetCRD(group), namespace(ns), configMap("elsewhere", "ignored", nil)}
	dry := mustApply(t, m, objs, apply.ApplyOptions{Inventory: store, DryRun: true, Preceding: before})
	if dry.Count(apply.Created) != 2 {
		t.Fatalf("dry run with Preceding: %v", dry.Changes)
	}
	for _, c := range dry.Changes {
		if !strings.Contains(c.Reason, "would be created") {
			t.Errorf("%s: reason %q", c.Object, c.Reason)
		}
	}
	if _, err := clientset(t).CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err == nil {
		t.Error("a dry run created the namespace")
	}
	// Outside a dry run Preceding means nothing: the apply fails as before.
	if _, err := m.Apply(t.Context(), objs[:1], apply.ApplyOptions{Inventory: store, Preceding: before}); !errors.Is(err, apply.ErrUnknownKind) {
		t.Errorf("apply with Preceding: %v, want the unknown kind", err)
	}
}
