package apply_test

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/inventory"
)

// The examples that talk to an API server use the package's shared cluster
// (started in TestMain); in a program, cfg comes from your kubeconfig, and
// one cluster.Cluster made from it serves every Manager, Store and Waiter.

// exampleConfigMap is a ConfigMap manifest as a build would produce it.
func exampleConfigMap(namespace, name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"data":     map[string]any{"value": value},
	}}
}

// exampleNamespace is a Namespace manifest.
func exampleNamespace(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name},
	}}
}

// exampleCluster returns the access to the package's test cluster.
func exampleCluster() (*cluster.Cluster, error) {
	return cluster.New(exampleConfig(), cluster.Options{})
}

// exampleStore returns the inventory store of unit in the namespace
// "gitopskit-system", creating the namespace if needed.
func exampleStore(ctx context.Context, c *cluster.Cluster, unit string) (*inventory.Store, error) {
	_, err := c.Kubernetes().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: inventoryNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	return inventory.NewStore(c, inventory.StoreOptions{Name: unit, Namespace: inventoryNamespace})
}

// A Manager for one cluster; reuse it across applies. A dry run of the same
// objects right after the apply finds nothing to change.
func ExampleNewManager() {
	ctx := context.Background()
	cfg := exampleConfig() // in a program: from your kubeconfig
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := apply.NewManager(c, apply.ManagerOptions{FieldManager: "example-tool"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ns := gitopstest.UniqueName("example-newmanager") // a new namespace each run
	objects := []*unstructured.Unstructured{
		exampleNamespace(ns),
		exampleConfigMap(ns, "settings", "1"),
	}
	for _, dryRun := range []bool{false, true} {
		cs, err := m.Apply(ctx, objects, apply.ApplyOptions{DryRun: dryRun})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(cs.Summary())
	}
	// Output:
	// 2 created
	// 2 unchanged (dry run)
}

// The options NewManager uses for zero fields.
func ExampleDefaultManagerOptions() {
	opts := apply.DefaultManagerOptions()
	fmt.Println(opts.FieldManager == apply.DefaultFieldManager, opts.FieldManager)
	// Output: true gitopskit
}

// The options Apply uses for zero fields; start from them to change one.
func ExampleDefaultApplyOptions() {
	opts := apply.DefaultApplyOptions()
	fmt.Println(opts.Policy, opts.Concurrency, opts.WaitTimeout)
	opts.ReportDrift = true // then pass opts to Manager.Apply
	// Output: AdoptIfNoInventory 8 1m0s
}

// The options Prune uses for zero fields.
func ExampleDefaultPruneOptions() {
	fmt.Println(apply.DefaultPruneOptions().Concurrency)
	// Output: 8
}

// Count the changes of one kind, e.g. for metrics.
func ExampleChangeSet_Count() {
	cs := &apply.ChangeSet{Changes: []apply.Change{
		{Object: inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a"}, Action: apply.Created},
		{Object: inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "b"}, Action: apply.Created},
		{Object: inventory.Entry{Version: "v1", Kind: "Service", Namespace: "shop", Name: "web"}, Action: apply.Unchanged},
	}}
	fmt.Println(cs.Count(apply.Created), cs.Count(apply.Unchanged), cs.Count(apply.Failed))
	var failed *apply.ChangeSet // as returned with some errors
	fmt.Println(failed.Count(apply.Created))
	// Output:
	// 2 1 0
	// 0
}

// List the objects that failed and why.
func ExampleChangeSet_Failures() {
	cs := &apply.ChangeSet{Changes: []apply.Change{
		{Object: inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "ok"}, Action: apply.Configured},
		{Object: inventory.Entry{Group: "example.com", Version: "v1", Kind: "Widget", Namespace: "shop", Name: "w"},
			Action: apply.Failed, Reason: "unknown kind", Err: apply.ErrUnknownKind},
	}}
	for _, c := range cs.Failures() {
		fmt.Println(c.Object, errors.Is(c.Err, apply.ErrUnknownKind))
	}
	// Output: example.com/Widget/shop/w true
}

// After an apply with an inventory, the recorded inventory lists each
// object with its manifest hash and resourceVersion.
func ExampleChangeSet_Inventory() {
	ctx := context.Background()
	c, err := exampleCluster()
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := apply.NewManager(c, apply.ManagerOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := exampleStore(ctx, c, "example-inventory")
	if err != nil {
		fmt.Println(err)
		return
	}
	cs, err := m.Apply(ctx, []*unstructured.Unstructured{
		exampleNamespace("example-inventory"),
		exampleConfigMap("example-inventory", "settings", "1"),
	}, apply.ApplyOptions{Inventory: store})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range cs.Inventory().Entries {
		fmt.Println(e, e.Hash != "", e.ResourceVersion != "")
	}
	// Unordered output:
	// core/Namespace//example-inventory true true
	// core/ConfigMap/example-inventory/settings true true
}

// An object that left the desired set is stale: the next Prune deletes it.
func ExampleChangeSet_Stale() {
	ctx := context.Background()
	c, err := exampleCluster()
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := apply.NewManager(c, apply.ManagerOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := exampleStore(ctx, c, "example-stale")
	if err != nil {
		fmt.Println(err)
		return
	}
	ns := exampleNamespace("example-stale")
	opts := apply.ApplyOptions{Inventory: store}
	if _, err := m.Apply(ctx, []*unstructured.Unstructured{ns, exampleConfigMap("example-stale", "old", "1")}, opts); err != nil {
		fmt.Println(err)
		return
	}
	cs, err := m.Apply(ctx, []*unstructured.Unstructured{ns, exampleConfigMap("example-stale", "new", "1")}, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stale:", cs.Stale())
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
	fmt.Println("pruned:", pruned.Summary(), err)
	// Output:
	// stale: [core/ConfigMap/example-stale/old]
	// pruned: 1 deleted <nil>
}

// A change as one log line.
func ExampleChange_String() {
	c := apply.Change{
		Object: inventory.Entry{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		Action: apply.Skipped,
		Reason: "reconcile disabled by annotation",
	}
	fmt.Println(c.String())
	// Output: apps/Deployment/shop/web skipped (reconcile disabled by annotation)
}

// One drifted field as one line.
func ExampleFieldDiff_String() {
	d := apply.FieldDiff{Path: "/spec/replicas", Live: int64(5), Desired: int64(3)}
	fmt.Println(d)
	fmt.Println(apply.FieldDiff{Path: "/metadata/labels/team", Desired: "shop"})
	// Output:
	// /spec/replicas: 5 -> 3
	// /metadata/labels/team: (absent) -> shop
}

// Remove a unit that was deleted from Git: its objects go, then its
// inventory.
func ExampleManager_DeleteUnit() {
	ctx := context.Background()
	c, err := exampleCluster()
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := apply.NewManager(c, apply.ManagerOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := exampleStore(ctx, c, "example-deleteunit")
	if err != nil {
		fmt.Println(err)
		return
	}
	// A namespace that is being deleted takes no new objects: a new one
	// each run.
	ns := gitopstest.UniqueName("example-deleteunit")
	if _, err := m.Apply(ctx, []*unstructured.Unstructured{
		exampleNamespace(ns),
		exampleConfigMap(ns, "a", "1"),
		exampleConfigMap(ns, "b", "2"),
	}, apply.ApplyOptions{Inventory: store}); err != nil {
		fmt.Println(err)
		return
	}

	cs, err := m.DeleteUnit(ctx, store, apply.DeleteUnitOptions{Policy: apply.DeleteObjects})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cs.Summary())
	// Output: 3 deleted
}

// The hash the inventory records for an object: a change to the manifest or
// to the field manager changes it.
func ExampleManifestHash() {
	obj := exampleConfigMap("shop", "settings", "1")
	h1, err := apply.ManifestHash(obj, apply.DefaultFieldManager)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := apply.ManifestHash(exampleConfigMap("shop", "settings", "1"), apply.DefaultFieldManager)
	changed, _ := apply.ManifestHash(exampleConfigMap("shop", "settings", "2"), apply.DefaultFieldManager)
	otherManager, _ := apply.ManifestHash(obj, "kubectl")
	fmt.Println(len(h1), h1 == again, h1 == changed, h1 == otherManager)
	// Output: 22 true false false
}

// After a restore from backup, say, the inventories of several units are
// gone while their objects remain. One FindOwned call finds what each unit
// owns (one LIST per resource, whatever the number of units); each unit's
// apply then takes its share through Recover instead of searching again,
// so what left Git meanwhile is stale and Prune deletes it.
func ExampleManager_FindOwned() {
	ctx := context.Background()
	c, err := exampleCluster()
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := apply.NewManager(c, apply.ManagerOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	units := []string{"example-findowned-a", "example-findowned-b"}
	var owners []inventory.Owner
	stores := map[string]*inventory.Store{}
	for _, unit := range units {
		store, err := exampleStore(ctx, c, unit)
		if err != nil {
			fmt.Println(err)
			return
		}
		stores[unit] = store
		owners = append(owners, store.Owner())
		objs := []*unstructured.Unstructured{exampleNamespace(unit), exampleConfigMap(unit, "settings", "1")}
		if _, err := m.Apply(ctx, objs, apply.ApplyOptions{Inventory: store}); err != nil {
			fmt.Println(err)
			return
		}
		// The inventory is lost.
		if err := c.Kubernetes().CoreV1().Secrets(inventoryNamespace).Delete(ctx, unit, metav1.DeleteOptions{}); err != nil {
			fmt.Println(err)
			return
		}
	}

	found, err := m.FindOwned(ctx, owners, apply.FindOwnedOptions{})
	if err != nil {
		fmt.Println(err) // some LISTs failed: found holds what the others saw
		return
	}
	for _, unit := range units {
		fmt.Println(unit+":", found[stores[unit].Owner().ID])
	}

	// Unit a's ConfigMap left Git while its inventory was lost.
	a := stores[units[0]]
	cs, err := m.Apply(ctx, []*unstructured.Unstructured{exampleNamespace(units[0])}, apply.ApplyOptions{
		Inventory: a,
		Recover: func(context.Context) ([]inventory.Entry, error) {
			return found[a.Owner().ID], nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stale:", cs.Stale())
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
	fmt.Println("pruned:", pruned.Summary(), err)
	// Output:
	// example-findowned-a: [core/ConfigMap/example-findowned-a/settings core/Namespace//example-findowned-a]
	// example-findowned-b: [core/ConfigMap/example-findowned-b/settings core/Namespace//example-findowned-b]
	// stale: [core/ConfigMap/example-findowned-a/settings]
	// pruned: 1 deleted <nil>
}
