package apply_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/inventory"
)

// A ChangeSet says what happened to each object; Summary is the one-line
// account.
func ExampleChangeSet_Summary() {
	cs := &apply.ChangeSet{Changes: []apply.Change{
		{Object: inventory.Entry{Version: "v1", Kind: "Namespace", Name: "shop"}, Action: apply.Unchanged},
		{Object: inventory.Entry{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}, Action: apply.Configured, Reason: "applied"},
		{Object: inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-v2"}, Action: apply.Created, Reason: "applied"},
	}}
	fmt.Println(cs.Summary())
	for _, c := range cs.Changes {
		fmt.Println(c)
	}
	// Output:
	// 1 created, 1 configured, 1 unchanged
	// core/Namespace//shop unchanged
	// apps/Deployment/shop/web configured (applied)
	// core/ConfigMap/shop/web-v2 created (applied)
}

// Drift lists the fields that differ between a live object and the desired
// one, masking Secret values.
func ExampleDrift() {
	secret := func(pw string, replicas int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "db", "namespace": "shop", "resourceVersion": fmt.Sprint(replicas)},
			"data":     map[string]any{"password": pw},
		}}
	}
	for _, d := range apply.Drift(secret("aHVudGVyMg==", 1), secret("c3dvcmRmaXNo", 2)) {
		fmt.Println(d)
	}
	// Output:
	// /data/password: (masked) -> (masked)
}

// The reconcile of one unit: apply, prune after a successful apply, wait
// until healthy. (Not run: it needs a cluster.)
func ExampleManager_Apply() {
	var cfg *rest.Config // from your kubeconfig
	var objects []*unstructured.Unstructured
	ctx := context.Background()

	// One Cluster per cluster: apply, inventory and health share its
	// connections, discovery and request budget.
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		panic(err)
	}
	m, err := apply.NewManager(c, apply.DefaultManagerOptions())
	if err != nil {
		panic(err)
	}
	store, err := inventory.NewStore(c, inventory.StoreOptions{Name: "infra", Namespace: "gitopskit-system"})
	if err != nil {
		panic(err)
	}
	opts := apply.DefaultApplyOptions()
	opts.Inventory = store
	cs, err := m.Apply(ctx, objects, opts)
	var imm *apply.ImmutableFieldError
	if errors.As(err, &imm) {
		fmt.Printf("%s: immutable field(s) %v; set force to recreate\n", imm.Object, imm.Fields)
	}
	if err != nil {
		panic(err) // and do not prune
	}
	fmt.Println("applied:", cs.Summary())

	pruned, err := m.Prune(ctx, cs, apply.DefaultPruneOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println("pruned:", pruned.Summary())

	w, err := health.NewWaiter(c, health.WaiterOptions{})
	if err != nil {
		panic(err)
	}
	if _, err := w.Wait(ctx, objects, health.WaitOptions{Timeout: 5 * time.Minute}); err != nil {
		panic(err) // a *health.FailedError names the failed objects and why
	}
}

// Prune after a successful apply deletes what left the set; DeleteUnit
// removes a whole unit. (Not run: it needs a cluster.)
func ExampleManager_Prune() {
	var cfg *rest.Config // from your kubeconfig
	var objects []*unstructured.Unstructured
	ctx := context.Background()
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		panic(err)
	}
	m, _ := apply.NewManager(c, apply.ManagerOptions{})
	store, _ := inventory.NewStore(c, inventory.StoreOptions{Name: "apps", Namespace: "gitopskit-system"})

	cs, err := m.Apply(ctx, objects, apply.ApplyOptions{Inventory: store})
	if err != nil {
		return // never prune after a failed apply (Prune would refuse: ErrApplyFailed)
	}
	for _, e := range cs.Stale() {
		fmt.Println("stale:", e)
	}
	// The guards: an empty desired set (a commit that deleted every file,
	// a build that came back empty) is refused unless AllowEmpty; so is
	// deleting more than MaxShare of the unit, or what Approve refuses.
	_, err = m.Prune(ctx, cs, apply.PruneOptions{MaxShare: 0.5})
	var refused *apply.PruneRefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Printf("nothing deleted: %d of %d objects would go: %s\n", refused.Deletions, refused.Owned, refused.Reason)
	case err != nil:
		fmt.Println(err) // objects whose delete failed stay in the inventory
	}

	// When the unit itself goes away:
	if _, err := m.DeleteUnit(ctx, store, apply.DeleteUnitOptions{Policy: apply.OrphanObjects}); err != nil {
		fmt.Println(err)
	}
}
