package health_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/health"
)

// A CEL check decides the readiness of a custom resource.
func ExampleCELCheck() {
	checks, err := health.NewChecks(health.CELCheck{
		APIVersion: "db.example.com/v1",
		Kind:       "Database",
		Current:    "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
		Failed:     "status.conditions.exists(c, c.type == 'Ready' && c.status == 'False' && c.reason == 'ProvisioningFailed')",
	})
	if err != nil {
		panic(err)
	}
	db := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "db.example.com/v1", "kind": "Database",
		"metadata": map[string]any{"name": "orders", "namespace": "shop"},
		"status": map[string]any{"conditions": []any{
			map[string]any{"type": "Ready", "status": "True"},
		}},
	}}
	fmt.Println(checks.Status(db))
	// Output:
	// db.example.com/Database/shop/orders: Current: health check: status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')
}

// Checks falls back to kstatus for kinds without a CEL check.
func ExampleChecks_Status() {
	checks, _ := health.NewChecks()
	job := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "migrate", "namespace": "shop"},
		"spec":     map[string]any{"completions": int64(1)},
		"status": map[string]any{"failed": int64(1), "conditions": []any{
			map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"},
		}},
	}}
	fmt.Println(checks.Status(job).Status)
	// Output:
	// Failed
}

// Wait returns as soon as everything is Current, or as soon as something
// Failed. (Not run: it needs a cluster.)
func ExampleWaiter_Wait() {
	var cfg *rest.Config // from your kubeconfig
	var objects []*unstructured.Unstructured
	c, err := cluster.New(cfg, cluster.Options{}) // one per cluster, shared with apply and inventory
	if err != nil {
		panic(err)
	}
	w, err := health.NewWaiter(c, health.WaiterOptions{})
	if err != nil {
		panic(err)
	}
	res, err := w.Wait(context.Background(), objects, health.WaitOptions{Timeout: 2 * time.Minute})
	var failed *health.FailedError
	switch {
	case errors.As(err, &failed):
		for _, s := range failed.Failed {
			fmt.Println(s) // apps/Deployment/shop/web: Failed: Progress deadline exceeded: ...
		}
	case errors.Is(err, health.ErrTimeout):
		fmt.Println(err) // lists what was not ready, and why
	case err == nil:
		fmt.Println(res.Count(health.Current), "objects ready")
	}
}
