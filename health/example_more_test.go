package health_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/health"
)

// A Waiter for one cluster (here the package's shared test cluster; in a
// program cfg comes from your kubeconfig), waiting for freshly created
// objects. The cluster.Cluster is the one the program's other stages use.
func ExampleNewWaiter() {
	ctx := context.Background()
	cfg := exampleConfig()
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "example-newwaiter", "namespace": "default"},
	}}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	client := c.Dynamic().Resource(gvr).Namespace("default")
	if _, err := client.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	defer client.Delete(ctx, "example-newwaiter", metav1.DeleteOptions{}) // the next run creates it again

	w, err := health.NewWaiter(c, health.WaiterOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := w.Wait(ctx, []*unstructured.Unstructured{cm}, health.WaitOptions{Timeout: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Objects {
		fmt.Println(s.Object, s.Status)
	}
	// Output: core/ConfigMap/default/example-newwaiter Current
}

// Compile CEL checks once; a check that does not compile is a *CheckError.
func ExampleNewChecks() {
	_, err := health.NewChecks(health.CELCheck{
		APIVersion: "db.example.com/v1", Kind: "Database",
		Current: "status.phase == ", // unfinished expression
	})
	var bad *health.CheckError
	fmt.Println("invalid check:", errors.As(err, &bad))

	checks, err := health.NewChecks(health.CELCheck{
		APIVersion: "db.example.com/v1", Kind: "Database",
		Current: "status.phase == 'Running'",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	db := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "db.example.com/v1", "kind": "Database",
		"metadata": map[string]any{"name": "orders", "namespace": "shop"},
		"status":   map[string]any{"phase": "Running"},
	}}
	fmt.Println(checks.Status(db).Status)
	// Output:
	// invalid check: true
	// Current
}

// The options Wait uses for zero fields.
func ExampleDefaultWaitOptions() {
	opts := health.DefaultWaitOptions()
	fmt.Println(opts.Timeout, opts.KeepWaitingOnFailure)
	// Output: 5m0s false
}

// An object's readiness as one line, as errors and logs show it.
func ExampleObjectStatus_String() {
	s := health.ObjectStatus{
		Object:  health.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"},
		Status:  health.InProgress,
		Message: "Ready: 1/3",
	}
	fmt.Println(s)
	// Output: apps/Deployment/shop/web: InProgress: Ready: 1/3
}

// Count the objects in each state after a wait.
func ExampleResult_Count() {
	res := &health.Result{Objects: []health.ObjectStatus{
		{Object: health.ID{Kind: "ConfigMap", Namespace: "shop", Name: "settings"}, Status: health.Current},
		{Object: health.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}, Status: health.Current},
		{Object: health.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "worker"}, Status: health.InProgress},
	}}
	fmt.Printf("%d/%d ready\n", res.Count(health.Current), len(res.Objects))
	// Output: 2/3 ready
}
