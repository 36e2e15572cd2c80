package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/inventory"
)

// One Cluster per cluster, made from the program's rest.Config, serves
// every stage: apply, inventory and health share its connections,
// discovery and request budget. A tenant's unit acts as its service
// account through an impersonated copy. (Not run: it needs a cluster.)
func ExampleNew() {
	var cfg *rest.Config // from your kubeconfig
	var objects []*unstructured.Unstructured
	ctx := context.Background()

	c, err := cluster.New(cfg, cluster.Options{MaxInFlight: 64})
	if err != nil {
		panic(err)
	}
	// The unit of team-a acts as team-a's deployer, whatever the stage.
	tenant, err := c.AsServiceAccount("team-a", "deployer")
	if err != nil {
		panic(err)
	}
	m, err := apply.NewManager(tenant, apply.ManagerOptions{})
	if err != nil {
		panic(err)
	}
	store, err := inventory.NewStore(tenant, inventory.StoreOptions{Name: "team-a-apps", Namespace: "team-a"})
	if err != nil {
		panic(err)
	}
	w, err := health.NewWaiter(tenant, health.WaiterOptions{})
	if err != nil {
		panic(err)
	}

	// One Reads per run: the units of the run share their LISTs.
	reads := cluster.NewReads()
	cs, err := m.Apply(ctx, objects, apply.ApplyOptions{Inventory: store, Reads: reads})
	if err != nil {
		panic(err)
	}
	if _, err := m.Prune(ctx, cs, apply.PruneOptions{}); err != nil {
		panic(err)
	}
	if _, err := w.Wait(ctx, objects, health.WaitOptions{Timeout: 5 * time.Minute}); err != nil {
		panic(err)
	}
	fmt.Println("requests:", c.Requests()) // every identity's, by verb and status code
}

// An impersonated copy sends the impersonation header on every request, over
// the Cluster's connections; Requests counts the requests of every identity.
// (The API server here is a stand-in that says who asked.)
func ExampleCluster_AsServiceAccount() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.Header.Get("Impersonate-User")
		if user == "" {
			user = "(own credentials)"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop"},"data":{"asked-by":%q}}`, user)
	}))
	defer srv.Close()
	ctx := context.Background()

	c, err := cluster.New(&rest.Config{Host: srv.URL}, cluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	deployer, err := c.AsServiceAccount("shop", "deployer")
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := c.AsServiceAccount("shop", "deployer")
	fmt.Println("one copy per identity:", again == deployer)

	for _, id := range []*cluster.Cluster{c, deployer} {
		cm, err := id.Kubernetes().CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("identity %q: asked by %s\n", id.Identity(), cm.Data["asked-by"])
	}
	fmt.Println(c.Requests())
	// Output:
	// one copy per identity: true
	// identity "": asked by (own credentials)
	// identity "system:serviceaccount:shop:deployer": asked by system:serviceaccount:shop:deployer
	// get 200: 2
}
