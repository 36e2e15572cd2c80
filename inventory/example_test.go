package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// Diff computes what to prune: what the unit applied before and no longer
// wants. Objects are compared without their API version.
func ExampleDiff() {
	previous := inventory.Inventory{Entries: []inventory.Entry{
		{Version: "v1", Kind: "Namespace", Name: "shop"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-config-old"},
	}}
	current := inventory.Inventory{Entries: []inventory.Entry{
		{Version: "v1", Kind: "Namespace", Name: "shop"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-config-new"},
	}}
	for _, e := range inventory.Diff(previous, current) {
		fmt.Println(e)
	}
	// Output:
	// core/ConfigMap/shop/web-config-old
}

// ApplySetID is the kubectl ApplySet ID of a unit whose inventory is the
// Secret "infra" in namespace "gitopskit-system".
func ExampleApplySetID() {
	fmt.Println(inventory.ApplySetID("infra", "gitopskit-system", "Secret", ""))
	// Output:
	// applyset-2ScEKHzkTErjBA4sUXQd7Bv4T2gR4lz8VZ2Z3zu8WPw-v1
}

// A Store keeps a unit's inventory in a Secret, the unit's ApplySet parent:
// Load gives an empty inventory until the first Save, Save refuses a stale
// version with an *inventory.ConflictError, and Delete removes the parent
// (not the unit's objects).
func ExampleStore() {
	cfg := exampleConfig() // your *rest.Config
	ctx := context.Background()
	c, err := cluster.New(cfg, cluster.Options{}) // one per cluster, shared with apply and health
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := inventory.NewStore(c, inventory.StoreOptions{Name: "example-store", Namespace: "default"})
	if err != nil {
		fmt.Println(err)
		return
	}
	inv, err := store.Load(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inv.Len(), "objects recorded")
	stale := inv // what a second reconciler loaded at the same time
	inv.Entries = append(inv.Entries, inventory.Entry{Version: "v1", Kind: "Namespace", Name: "shop"})
	if err := store.Save(ctx, &inv); err != nil {
		fmt.Println(err)
		return
	}
	stale.Entries = nil
	err = store.Save(ctx, &stale)
	fmt.Println("stale save refused:", errors.Is(err, inventory.ErrConflict))
	again, _ := store.Load(ctx)
	fmt.Println(again.Len(), "objects recorded, owner", store.Owner().Unit)
	fmt.Println(store.Delete(ctx, again))
	// Output:
	// 0 objects recorded
	// stale save refused: true
	// 1 objects recorded, owner example-store
	// <nil>
}

// A Ledger keeps the inventories of many units in a few Secrets: units
// saving at the same time share one write, and a second process reads
// every unit with one LIST.
func ExampleLedger() {
	cfg := exampleConfig() // your *rest.Config
	ctx := context.Background()
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := inventory.LedgerOptions{Name: "example-ledger", Namespace: "default"}
	ledger, err := inventory.NewLedger(c, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	var wg sync.WaitGroup
	for _, team := range []string{"team-a", "team-b", "team-c"} {
		wg.Go(func() {
			unit, err := ledger.Unit("example-ledger-" + team)
			if err != nil {
				fmt.Println(err)
				return
			}
			// A first save adds objects: it returns once written,
			// before the unit creates them.
			inv := inventory.Inventory{Entries: []inventory.Entry{{Version: "v1", Kind: "Namespace", Name: team}}}
			if err := unit.Save(ctx, &inv); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()
	pages, err := c.Kubernetes().CoreV1().Secrets("default").List(ctx, metav1.ListOptions{LabelSelector: inventory.LabelLedger + "=example-ledger"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(pages.Items), "page for 3 units:", pages.Items[0].Name)

	// Another process: one LIST, then every unit loads without a request.
	reader, err := inventory.NewLedger(c, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	units, err := reader.Units(ctx)
	fmt.Println(units, err)
	for _, name := range units {
		unit, _ := reader.Unit(name)
		inv, err := unit.Load(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := unit.Delete(ctx, inv); err != nil { // the unit's record, not its objects
			fmt.Println(err)
		}
	}
	units, err = reader.Units(ctx)
	fmt.Println(len(units), "units left", err)
	// Output:
	// 1 page for 3 units: example-ledger.inventory-0
	// [example-ledger-team-a example-ledger-team-b example-ledger-team-c] <nil>
	// 0 units left <nil>
}

// An inventory is a plain value: marshal it to keep it wherever the caller
// likes (a CR status, a file), and read it back.
func ExampleMarshal() {
	inv := inventory.Inventory{Entries: []inventory.Entry{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps-prd", Name: "kuard"},
		{Version: "v1", Kind: "Namespace", Name: "apps-prd"},
	}}
	data, err := inventory.Marshal(inv)
	if err != nil {
		fmt.Println(err)
		return
	}
	back, err := inventory.Unmarshal(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	inv.Sort()
	fmt.Println(inventory.Equal(inv, back), back.Len())
	for _, e := range back.Entries {
		fmt.Println(e)
	}
	// Output:
	// true 2
	// core/Namespace//apps-prd
	// apps/Deployment/apps-prd/kuard
}

// NewOwner identifies a unit whose inventory is a Secret: its labels go on
// every object the unit applies, and Owns tells its objects from others'.
func ExampleNewOwner() {
	owner, err := inventory.NewOwner("apps-prd", "gitopskit-system", inventory.ParentSecret)
	if err != nil {
		fmt.Println(err)
		return
	}
	labels := owner.Labels()
	fmt.Println(labels[inventory.LabelUnit], labels[inventory.LabelUnitNamespace])
	fmt.Println(owner.Owns(labels))
	other, _ := inventory.NewOwner("apps-dev", "gitopskit-system", inventory.ParentSecret)
	_, ownedByOther := other.OwnedByOther(labels)
	fmt.Println(ownedByOther)
	// Output:
	// apps-prd gitopskit-system
	// true
	// true
}

// A program with its own API keeps each unit's inventory in its own custom
// resource (a GitOpsUnit, say): the owner's ApplySet ID is the one kubectl
// computes for that parent.
func ExampleNewOwnerForParent() {
	parent := schema.GroupKind{Group: "demo.gitopskit.io", Kind: "GitOpsUnit"}
	owner, err := inventory.NewOwnerForParent(parent, "shop", "team-a")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(owner.ID == inventory.ApplySetID("shop", "team-a", "GitOpsUnit", "demo.gitopskit.io"))
	fmt.Println(owner.ID)
	// Output:
	// true
	// applyset-N4m6mKLJABRbJg-kOcdKcsPdj8wS1CJbqrjmvg4bM0Q-v1
}

// ParentMetadata gives the labels and annotations the kubectl ApplySet
// convention puts on a set's parent; a Storage of its own sets them on the
// object that holds the inventory.
func ExampleParentMetadata() {
	owner, _ := inventory.NewOwnerForParent(schema.GroupKind{Group: "demo.gitopskit.io", Kind: "GitOpsUnit"}, "shop", "team-a")
	inv := inventory.Inventory{Entries: []inventory.Entry{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		{Version: "v1", Kind: "Service", Namespace: "shop", Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "team-a", Name: "settings"},
	}}
	labels, annotations := inventory.ParentMetadata(owner, inv)
	fmt.Println(labels[inventory.LabelApplySetID] == owner.ID)
	fmt.Println(annotations[inventory.AnnotationApplySetGroupKinds])
	fmt.Println(annotations[inventory.AnnotationApplySetNamespaces])
	// Output:
	// true
	// ConfigMap,Deployment.apps,Service
	// shop
}

// Equal compares two inventories entry by entry, hashes and
// resourceVersions included; sort both first.
func ExampleEqual() {
	a := inventory.Inventory{Entries: []inventory.Entry{
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "b", Hash: "h2"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a", Hash: "h1"},
	}}
	b := inventory.Inventory{Entries: slices.Clone(a.Entries)}
	slices.Reverse(b.Entries)
	fmt.Println(inventory.Equal(a, b))
	a.Sort()
	b.Sort()
	fmt.Println(inventory.Equal(a, b))
	b.Entries[0].Hash = "changed"
	fmt.Println(inventory.Equal(a, b))
	// Output:
	// false
	// true
	// false
}

// EntryFor identifies an object for an inventory.
func ExampleEntryFor() {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	obj.SetNamespace("shop")
	obj.SetName("web")
	e := inventory.EntryFor(obj)
	fmt.Println(e, e.GroupVersionKind())
	// Output:
	// apps/Deployment/shop/web apps/v1, Kind=Deployment
}

// GroupKinds and Namespaces summarise what an inventory holds.
func ExampleInventory_GroupKinds() {
	inv := inventory.Inventory{Entries: []inventory.Entry{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		{Version: "v1", Kind: "Namespace", Name: "shop"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "billing", Name: "settings"},
	}}
	fmt.Println(inv.GroupKinds())
	fmt.Println(inv.Namespaces())
	// Output:
	// [ConfigMap Deployment.apps Namespace]
	// [billing shop]
}

// Index, Get and Len look entries up by ID, whatever their API version.
func ExampleInventory_Get() {
	inv := inventory.Inventory{Entries: []inventory.Entry{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web", Hash: "h1"},
		{Version: "v1", Kind: "Namespace", Name: "shop"},
	}}
	inv.Sort()
	id := inventory.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}
	e, ok := inv.Get(id)
	fmt.Println(ok, e.Hash, inv.Len(), len(inv.Index()))
	fmt.Println(inv.Entries[0])
	// Output:
	// true h1 2 2
	// core/Namespace//shop
}

// An Entry names an object across API versions: its ID leaves the version out.
func ExampleEntry_ID() {
	v1 := inventory.Entry{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "web"}
	v2 := v1
	v2.Version = "v2"
	fmt.Println(v1.ID() == v2.ID(), v1.String())
	fmt.Println(v2.GroupVersionKind())
	// Output:
	// true autoscaling/HorizontalPodAutoscaler/shop/web
	// autoscaling/v2, Kind=HorizontalPodAutoscaler
}
