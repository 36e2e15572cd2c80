package inventory_test

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"

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

// A Store keeps a unit's inventory in a Secret, the unit's ApplySet parent.
// (Not run: it needs a cluster.)
func ExampleStore() {
	var cfg *rest.Config // from your kubeconfig
	store, err := inventory.NewStore(cfg, inventory.StoreOptions{Name: "infra", Namespace: "gitopskit-system"})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	inv, err := store.Load(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(inv.Len(), "objects recorded")
	inv.Entries = append(inv.Entries, inventory.Entry{Version: "v1", Kind: "Namespace", Name: "shop"})
	if err := store.Save(ctx, &inv); err != nil {
		panic(err) // an *inventory.ConflictError when someone else saved first
	}
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
