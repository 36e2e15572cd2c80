package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// toolFloor is not a tool but the cluster's floor: the units' objects
// created straight from their files, as fast as the API server takes them,
// timed until every Deployment is Ready. No GitOps tool can be faster on the
// same cluster, whatever its own speed: the controller-manager rolls out a
// bounded number of Deployments a second (see -controller-qps).
const toolFloor = "floor"

var gvrDeployment = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// runFloor creates every unit's objects in the floor's namespace through a
// counting proxy, 16 at a time with no client-side limit, and waits until
// kstatus calls every Deployment Current.
func runFloor(ctx context.Context, c config, e *env) (row, error) {
	ns := namespaceOf(toolFloor)
	r := row{Units: e.n, Tool: toolFloor, Date: today()}
	if err := e.prepareTenant(ctx, ns); err != nil {
		return r, err
	}
	objs, err := unitObjects(e.n, ns)
	if err != nil {
		return r, err
	}
	px, err := e.controllerProxy(ctx, "bench-system", "floor")
	if err != nil {
		return r, err
	}
	defer px.close()
	dyn, err := dynamic.NewForConfig(px.restConfig())
	if err != nil {
		return r, err
	}
	watchDyn, err := dynamic.NewForConfig(e.admin)
	if err != nil {
		return r, err
	}
	w, err := watchObjects(ctx, toolFloor, watchDyn, gvrDeployment, ns)
	if err != nil {
		return r, err
	}
	defer w.stop()

	t0 := time.Now()
	if err := parallel(ctx, len(objs), func(i int) error {
		o := objs[i]
		_, err := dyn.Resource(o.gvr).Namespace(ns).Create(ctx, o.obj, metav1.CreateOptions{})
		return err
	}); err != nil {
		return r, fmt.Errorf("create the units' objects: %w", err)
	}
	ready, done := w.wait(ctx, e.n, c.deadline, deploymentCurrent)
	r.First = phase{Ready: ready, Time: time.Since(t0), Requests: px.counts.take()}
	if !done {
		r.First.Failures = []string{fmt.Sprintf("%d of %d Deployments not Current", e.n-ready, e.n)}
	}
	r.Deployments, err = e.countDeployments(ctx, ns)
	r.Config = "not a tool: the units' objects (their files, namespace set) created by the benchmark itself, 16 at a time " +
		"with no client-side limit, timed until kstatus calls every Deployment Current: how fast this cluster makes " +
		"the workload Ready whoever applies it (no fetch, build, inventory, prune or impersonation); no no-op"
	return r, err
}

// deploymentCurrent says whether kstatus calls a Deployment Current: its
// controller observed the latest generation and rolled it out.
func deploymentCurrent(d *unstructured.Unstructured) bool {
	res, err := status.Compute(d)
	return err == nil && res.Status == status.CurrentStatus
}

type unitObject struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

// unitObjects decodes the n units' files into objects in ns.
func unitObjects(n int, ns string) ([]unitObject, error) {
	resources := map[string]string{"ServiceAccount": "serviceaccounts", "Service": "services", "Deployment": "deployments", "Ingress": "ingresses"}
	var out []unitObject
	for name, content := range unitFiles(n) {
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(content), 4096)
		for {
			var o unstructured.Unstructured
			if err := dec.Decode(&o.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if len(o.Object) == 0 {
				continue
			}
			res, ok := resources[o.GetKind()]
			if !ok {
				return nil, fmt.Errorf("%s: unexpected kind %s", name, o.GetKind())
			}
			gv, err := schema.ParseGroupVersion(o.GetAPIVersion())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			o.SetNamespace(ns)
			out = append(out, unitObject{gvr: gv.WithResource(res), obj: &o})
		}
	}
	return out, nil
}
