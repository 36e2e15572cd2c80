package apply_test

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
)

// benchObjects returns 1,000 objects (ConfigMaps, Services and Deployments)
// across 10 namespaces, plus the 10 namespaces.
func benchObjects(prefix string) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	// Names of their own: a rerun (-count=N) meets no objects of another
	// run's unit.
	prefix = gitopstest.UniqueName(prefix)
	for n := range 10 {
		ns := fmt.Sprintf("%s-%d", prefix, n)
		objs = append(objs, namespace(ns))
		for i := range 100 {
			name := fmt.Sprintf("obj-%03d", i)
			switch i % 3 {
			case 0:
				objs = append(objs, configMap(ns, name, map[string]any{"key": name, "n": fmt.Sprint(i)}))
			case 1:
				// Headless: the test cluster's service IP range has 254
				// addresses.
				svc := service(ns, name)
				_ = unstructured.SetNestedField(svc.Object, "None", "spec", "clusterIP")
				objs = append(objs, svc)
			default:
				objs = append(objs, deployment(ns, name, nil))
			}
		}
	}
	return objs
}

func reportRequests(b *testing.B, cnt *counter, ops int) {
	k := cnt.byKind()
	total := 0
	for _, n := range k {
		total += n
	}
	b.ReportMetric(float64(total)/float64(ops), "requests/op")
	b.ReportMetric(float64(k["apply"])/float64(ops), "ssa/op")
	b.ReportMetric(float64(k["list"])/float64(ops), "lists/op")
}

// BenchmarkFirstApply applies 1,010 new objects (a fresh unit each
// iteration).
func BenchmarkFirstApply(b *testing.B) {
	cnt := newCounter(testCluster(b).Config)
	cl := newCluster(b, cnt.config())
	m := newManager(b, cl)
	i := 0
	cnt.reset()
	for b.Loop() {
		b.StopTimer()
		objs := benchObjects(fmt.Sprintf("bench-first-%d", i))
		store := newStore(b, cl, fmt.Sprintf("bench-first-%d", i))
		i++
		cnt.reset()
		b.StartTimer()
		cs, err := m.Apply(b.Context(), objs, apply.ApplyOptions{Inventory: store})
		if err != nil {
			b.Fatal(err)
		}
		if cs.Count(apply.Created) != len(objs) {
			b.Fatalf("first apply: %s", cs.Summary())
		}
	}
	reportRequests(b, cnt, 1)
}

// BenchmarkNoopReconcile reconciles 1,010 objects that changed neither in
// Git nor in the cluster.
func BenchmarkNoopReconcile(b *testing.B) {
	cnt := newCounter(testCluster(b).Config)
	cl := newCluster(b, cnt.config())
	m := newManager(b, cl)
	objs := benchObjects("bench-noop")
	store := newStore(b, cl, "bench-noop")
	if _, err := m.Apply(b.Context(), objs, apply.ApplyOptions{Inventory: store}); err != nil {
		b.Fatal(err)
	}
	cnt.reset()
	n := 0
	for b.Loop() {
		n++
		cs, err := m.Apply(b.Context(), objs, apply.ApplyOptions{Inventory: store})
		if err != nil {
			b.Fatal(err)
		}
		if cs.Count(apply.Unchanged) != len(objs) {
			b.Fatalf("no-op: %s", cs.Summary())
		}
	}
	reportRequests(b, cnt, n)
}

// BenchmarkDriftOneOf1000 reconciles 1,010 objects of which one was changed
// in the cluster (deleted) since the last apply.
func BenchmarkDriftOneOf1000(b *testing.B) {
	cnt := newCounter(testCluster(b).Config)
	cl := newCluster(b, cnt.config())
	m := newManager(b, cl)
	objs := benchObjects("bench-drift")
	store := newStore(b, cl, "bench-drift")
	if _, err := m.Apply(b.Context(), objs, apply.ApplyOptions{Inventory: store}); err != nil {
		b.Fatal(err)
	}
	kc := clientset(b)
	drifted := objs[slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "ConfigMap" })]
	n := 0
	cnt.reset()
	for b.Loop() {
		b.StopTimer()
		if err := kc.CoreV1().ConfigMaps(drifted.GetNamespace()).Delete(b.Context(), drifted.GetName(), metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n++
		cs, err := m.Apply(b.Context(), objs, apply.ApplyOptions{Inventory: store})
		if err != nil {
			b.Fatal(err)
		}
		if cs.Count(apply.Created) != 1 {
			b.Fatalf("drift: %s", cs.Summary())
		}
	}
	reportRequests(b, cnt, n)
}
