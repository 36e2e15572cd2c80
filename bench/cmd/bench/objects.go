package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/yaml"
)

// The object set: n objects spread over 10 namespaces (ConfigMaps, headless
// Services and Deployments in turn), plus the 10 Namespace objects, like
// apply's own benchmark. Three versions of it:
//
//	v1: as generated;
//	v2: 10 % of the objects (index%10 == 0) changed in Git;
//	v3: v2 without another 10 % (index%10 == 5): they left Git and are pruned.
const (
	namespacesPerSet = 10
	// benchLabel marks every object of the benchmark with its set's
	// prefix, so verification and cleanup find them whatever tool applied
	// them.
	benchLabel = "bench.gitopskit.dev/set"
	// revLabel says which Git version of the object was applied.
	revLabel = "bench.gitopskit.dev/rev"
	// driftManager is the "other" field manager of the drift scenario.
	driftManager = "bench-editor"
)

var (
	gvrConfigMap  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrService    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrDeployment = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrNamespace  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrSecret     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	namespaced    = []schema.GroupVersionResource{gvrConfigMap, gvrService, gvrDeployment}
)

// objectSet is one tool's copy of the object set.
type objectSet struct {
	prefix string // namespaces are prefix-0 ... prefix-9
	n      int    // objects, without the namespaces
}

func (s objectSet) namespace(i int) string { return fmt.Sprintf("%s-%d", s.prefix, i) }

func (s objectSet) perNamespace() int { return s.n / namespacesPerSet }

// version returns a fresh copy of version v (1, 2 or 3) of the set.
func (s objectSet) version(v int) []*unstructured.Unstructured {
	var nss, objs []*unstructured.Unstructured
	for n := range namespacesPerSet {
		ns := s.namespace(n)
		nsObj := newObj("v1", "Namespace", "", ns, nil)
		nsObj.SetLabels(map[string]string{benchLabel: s.prefix})
		nss = append(nss, nsObj)
		for i := range s.perNamespace() {
			if v == 3 && i%10 == 5 {
				continue
			}
			changed := v >= 2 && i%10 == 0
			objs = append(objs, s.object(ns, i, changed))
		}
	}
	return append(nss, objs...)
}

// object returns object i of namespace ns.
func (s objectSet) object(ns string, i int, changed bool) *unstructured.Unstructured {
	name := fmt.Sprintf("obj-%04d", i)
	rev := "1"
	if changed {
		rev = "2"
	}
	var u *unstructured.Unstructured
	switch i % 3 {
	case 0:
		value := "value-" + name
		if changed {
			value = "changed-" + name
		}
		u = newObj("v1", "ConfigMap", ns, name, map[string]any{
			"data": map[string]any{"key": value, "index": fmt.Sprint(i), "config.yaml": "replicas: 1\nlogLevel: info\nfeatures: [a, b, c]\n"},
		})
	case 1:
		port := int64(80)
		if changed {
			port = 8080
		}
		u = newObj("v1", "Service", ns, name, map[string]any{
			"spec": map[string]any{
				// Headless: the test cluster's service IP range is a /24.
				"clusterIP": "None",
				"selector":  map[string]any{"app": name},
				"ports":     []any{map[string]any{"name": "http", "port": port, "targetPort": int64(8080), "protocol": "TCP"}},
			},
		})
	default:
		image := "registry.example/app:1.0.0"
		if changed {
			image = "registry.example/app:1.1.0"
		}
		labels := map[string]any{"app": name}
		u = newObj("apps/v1", "Deployment", ns, name, map[string]any{
			"spec": map[string]any{
				"replicas": int64(1),
				"selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{
						"containers": []any{map[string]any{
							"name":  "app",
							"image": image,
							"ports": []any{map[string]any{"containerPort": int64(8080), "protocol": "TCP"}},
							"env":   []any{map[string]any{"name": "MODE", "value": "bench"}},
							"resources": map[string]any{
								"requests": map[string]any{"cpu": "10m", "memory": "16Mi"},
							},
						}},
					},
				},
			},
		})
	}
	u.SetLabels(map[string]string{benchLabel: s.prefix, revLabel: rev, "app": name})
	return u
}

func newObj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	maps.Copy(u.Object, fields)
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	return u
}

// driftTarget is the object the drift scenario edits: a ConfigMap in the
// fourth namespace.
func (s objectSet) driftTarget() (ns, name string) {
	i := 42
	if i >= s.perNamespace() {
		i = 0
	}
	return s.namespace(3 % namespacesPerSet), fmt.Sprintf("obj-%04d", i)
}

// drift edits the drift target the way `kubectl edit` or another controller
// would: a merge patch by another field manager.
func drift(ctx context.Context, dyn dynamic.Interface, s objectSet) error {
	ns, name := s.driftTarget()
	patch := []byte(`{"data":{"key":"drifted"},"metadata":{"labels":{"edited":"by-hand"}}}`)
	_, err := dyn.Resource(gvrConfigMap).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: driftManager})
	return err
}

// checkDriftCorrected says whether the drift target has its Git value back.
func checkDriftCorrected(ctx context.Context, dyn dynamic.Interface, s objectSet, want string) error {
	ns, name := s.driftTarget()
	u, err := dyn.Resource(gvrConfigMap).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	got, _, _ := unstructured.NestedString(u.Object, "data", "key")
	if got != want {
		return fmt.Errorf("drift not corrected: %s/%s data.key = %q, want %q", ns, name, got, want)
	}
	return nil
}

// liveState is what verify saw: kind/namespace/name -> resourceVersion.
type liveState map[string]string

// verify checks that the cluster holds exactly the objects of want (by
// name, per kind and namespace) with the rev label want has, and returns
// their resourceVersions. It is not timed.
func verify(ctx context.Context, md metadata.Interface, s objectSet, want []*unstructured.Unstructured) (liveState, error) {
	expected := map[string]string{} // key -> rev
	for _, u := range want {
		if u.GetKind() == "Namespace" {
			continue
		}
		expected[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = u.GetLabels()[revLabel]
	}
	live := liveState{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	kinds := map[schema.GroupVersionResource]string{gvrConfigMap: "ConfigMap", gvrService: "Service", gvrDeployment: "Deployment"}
	for n := range namespacesPerSet {
		for _, gvr := range namespaced {
			wg.Go(func() {
				l, err := md.Resource(gvr).Namespace(s.namespace(n)).List(ctx, metav1.ListOptions{LabelSelector: benchLabel + "=" + s.prefix})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				for _, it := range l.Items {
					if it.DeletionTimestamp != nil {
						continue
					}
					key := kinds[gvr] + "/" + it.Namespace + "/" + it.Name
					rev, ok := expected[key]
					switch {
					case !ok:
						errs = append(errs, fmt.Errorf("unexpected object %s", key))
					case it.Labels[revLabel] != rev:
						errs = append(errs, fmt.Errorf("%s has rev %q, want %q", key, it.Labels[revLabel], rev))
					}
					live[key] = it.ResourceVersion
				}
			})
		}
	}
	wg.Wait()
	for key := range expected {
		if _, ok := live[key]; !ok {
			errs = append(errs, fmt.Errorf("missing object %s", key))
		}
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Errorf("... and %d more", len(errs)-5))
		}
		return nil, fmt.Errorf("verify %s: %w", s.prefix, errors.Join(errs...))
	}
	return live, nil
}

// sameVersions fails if any object's resourceVersion changed: a no-op
// reconcile must not write.
func sameVersions(before, after liveState) error {
	var changed []string
	for k, rv := range before {
		if after[k] != rv {
			changed = append(changed, k)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		return fmt.Errorf("no-op reconcile changed %d objects, e.g. %s", len(changed), changed[0])
	}
	return nil
}

// cleanup deletes a set's objects and namespaces (the namespaces stay
// Terminating: a bare API server has no namespace controller), so that the
// next tool's cluster-wide LISTs and watches do not see them.
func cleanup(ctx context.Context, dyn dynamic.Interface, s objectSet) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sel := metav1.ListOptions{LabelSelector: benchLabel + "=" + s.prefix}
	for n := range namespacesPerSet {
		ns := s.namespace(n)
		for _, gvr := range namespaced {
			wg.Go(func() {
				err := deleteAll(ctx, dyn.Resource(gvr).Namespace(ns), sel)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for n := range namespacesPerSet {
		err := dyn.Resource(gvrNamespace).Delete(ctx, s.namespace(n), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteAll deletes the selected objects with one DELETE of the collection,
// or one by one where the resource does not support that (Services).
func deleteAll(ctx context.Context, ri dynamic.ResourceInterface, sel metav1.ListOptions) error {
	err := ri.DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
	if err == nil {
		return nil
	}
	if !apierrors.IsMethodNotSupported(err) && !apierrors.IsNotFound(err) {
		return err
	}
	l, err := ri.List(ctx, sel)
	if err != nil {
		return err
	}
	for _, it := range l.Items {
		if err := ri.Delete(ctx, it.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// deepCopy returns copies, because every tool labels or otherwise changes
// the objects it is given.
func deepCopy(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// writeYAML writes objs as one multi-document YAML file (namespaces first).
func writeYAML(path string, objs []*unstructured.Unstructured) error {
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
