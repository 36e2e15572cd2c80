package apply

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var crdGK = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// waitCRDs waits until the CRDs of the batch that were applied are
// Established, then refreshes the RESTMapper if any was created or changed.
// It marks the CRDs that do not become Established in time as failed and
// reports whether there were any.
func (m *Manager) waitCRDs(ctx context.Context, batch []*item, opts ApplyOptions) bool {
	var crds []*item
	changed := false
	for _, it := range batch {
		if it.obj.GroupVersionKind().GroupKind() == crdGK && it.change.Action != Failed && it.mapping != nil {
			crds = append(crds, it)
			changed = changed || it.change.Action == Created || it.change.Action == Configured
		}
	}
	if len(crds) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	var failed atomic.Bool
	forEach(ctx, len(crds), opts.Concurrency, func(ctx context.Context, i int) {
		it := crds[i]
		client := m.dyn.Resource(it.mapping.Resource)
		for {
			got, err := client.Get(ctx, it.obj.GetName(), metav1.GetOptions{})
			if err == nil && established(got) {
				return
			}
			select {
			case <-ctx.Done():
				it.change.Action = Failed
				it.change.Err = fmt.Errorf("%s not Established within %s: %w", it.entry, opts.WaitTimeout, ctx.Err())
				failed.Store(true)
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	if changed {
		m.cluster.ResetMapper()
	}
	return failed.Load()
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		cm, ok := c.(map[string]any)
		if ok && cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}
