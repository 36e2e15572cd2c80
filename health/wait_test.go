package health_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/health"
)

// shared is the simulated cluster shared by the package's tests:
// Deployments roll out (and fail) there. It starts with the first test that
// needs it: -short and a -run of tests that need none start none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{Simulated: true})

func TestMain(m *testing.M) {
	// Examples cannot skip themselves: with -short, Run skips these.
	os.Exit(shared.Run(m, "ExampleNewWaiter"))
}

// testCluster returns the shared cluster, starting it on first use; it
// skips t with -short.
func testCluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	return shared.Get(t)
}

// exampleConfig returns the shared cluster's client configuration, starting
// it on first use, for the Examples (with -short, TestMain skips those that
// call it).
func exampleConfig() *rest.Config {
	c, err := shared.Start(context.Background())
	if err != nil {
		panic(err)
	}
	return c.Config
}

func dyn(t *testing.T) *dynamic.DynamicClient {
	t.Helper()
	d, err := dynamic.NewForConfig(testCluster(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func create(t *testing.T, gvr schema.GroupVersionResource, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := dyn(t).Resource(gvr).Namespace(u.GetNamespace()).Create(t.Context(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

func deployment(ns, name string, replicas int64, deadline int64, podLabels map[string]any) *unstructured.Unstructured {
	labels := map[string]any{"app": name}
	for k, v := range podLabels {
		labels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"replicas":                replicas,
			"progressDeadlineSeconds": deadline,
			"selector":                map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "example.invalid/app:1"}}},
			},
		},
	}}
}

func newWaiter(t *testing.T, checks ...health.CELCheck) *health.Waiter {
	t.Helper()
	c, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := health.NewWaiter(c, health.WaiterOptions{Checks: checks})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWaitCurrent(t *testing.T) {
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	objs := []*unstructured.Unstructured{create(t, deployments, deployment(ns, "ready-a", 2, 60, nil)), create(t, deployments, deployment(ns, "ready-b", 1, 60, nil))}
	t0 := time.Now()
	res, err := newWaiter(t).Wait(t.Context(), objs, health.WaitOptions{Timeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(health.Current) != 2 {
		t.Fatalf("result: %v", res.Objects)
	}
	t.Logf("2 deployments Current after %s", time.Since(t0).Round(time.Millisecond))
}

func TestWaitFailsFast(t *testing.T) {
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	failing := create(t, deployments, deployment(ns, "never-ready", 1, 5, map[string]any{kubeassets.NeverReadyLabel: "true"}))
	ok := create(t, deployments, deployment(ns, "fine", 1, 60, nil))
	const timeout = 3 * time.Minute
	t0 := time.Now()
	res, err := newWaiter(t).Wait(t.Context(), []*unstructured.Unstructured{ok, failing}, health.WaitOptions{Timeout: timeout})
	elapsed := time.Since(t0)
	var fe *health.FailedError
	if !errors.As(err, &fe) || !errors.Is(err, health.ErrFailed) {
		t.Fatalf("got %v, want a FailedError", err)
	}
	if len(fe.Failed) != 1 || fe.Failed[0].Object.Name != "never-ready" || !strings.Contains(fe.Failed[0].Message, "deadline") {
		t.Fatalf("failed objects: %v", fe.Failed)
	}
	if elapsed > time.Minute {
		t.Errorf("failure reported after %s; the deadline is 5 s", elapsed)
	}
	t.Logf("failed after %s: %v; all: %v", elapsed.Round(time.Millisecond), err, res.Objects)
}

func TestWaitTimeout(t *testing.T) {
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	stuck := create(t, deployments, deployment(ns, "stuck", 1, 600, map[string]any{kubeassets.NeverReadyLabel: "true"}))
	_, err := newWaiter(t).Wait(t.Context(), []*unstructured.Unstructured{stuck}, health.WaitOptions{Timeout: 3 * time.Second})
	var te *health.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, health.ErrTimeout) || len(te.Pending) != 1 || te.Pending[0].Status != health.InProgress {
		t.Fatalf("got %v, want a TimeoutError with the deployment in progress", err)
	}
	t.Logf("%v", err)
}

func TestWaitCELCheck(t *testing.T) {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.gitopskit.io"},
		"spec": map[string]any{
			"group": "example.gitopskit.io", "scope": "Namespaced",
			"names": map[string]any{"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	// Cluster-scoped: an earlier run (go test -count=N) may have created it.
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn(t).Resource(crds).Create(t.Context(), crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	gvr := schema.GroupVersionResource{Group: "example.gitopskit.io", Version: "v1", Resource: "widgets"}
	var w1, w2 *unstructured.Unstructured
	for deadline := time.Now().Add(30 * time.Second); ; {
		u := widget(nil)
		u.SetNamespace(ns)
		u.SetName("w1")
		var err error
		if w1, err = dyn(t).Resource(gvr).Namespace(ns).Create(t.Context(), u, metav1.CreateOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	u := widget(map[string]any{"phase": "Broken"})
	u.SetNamespace(ns)
	u.SetName("w2")
	w2 = create(t, gvr, u)

	waiter := newWaiter(t, widgetCheck)
	client := dyn(t).Resource(gvr).Namespace(ns)
	// w1 is in progress until someone sets its phase; Wait returns once
	// it is Ready.
	ready := w1.DeepCopy()
	ready.Object["status"] = map[string]any{"phase": "Ready"}
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _ = client.Update(t.Context(), ready, metav1.UpdateOptions{})
	}()
	res, err := waiter.Wait(t.Context(), []*unstructured.Unstructured{w1}, health.WaitOptions{Timeout: 30 * time.Second})
	if err != nil || res.Objects[0].Status != health.Current {
		t.Fatalf("w1: %v %v", res, err)
	}
	_, err = waiter.Wait(t.Context(), []*unstructured.Unstructured{w1, w2}, health.WaitOptions{Timeout: 30 * time.Second})
	var fe *health.FailedError
	if !errors.As(err, &fe) || fe.Failed[0].Object.Name != "w2" {
		t.Fatalf("w2: %v, want it Failed", err)
	}
}

func TestNewWaiterNilCluster(t *testing.T) {
	if _, err := health.NewWaiter(nil, health.WaiterOptions{}); err == nil {
		t.Error("NewWaiter(nil) succeeded")
	}
}

// TestWaitSharedWatches: waits given the same Watches are served by one
// stream per resource and namespace; a wait that starts after the stream
// synced reads the versions it kept, and sees updates made afterwards.
func TestWaitSharedWatches(t *testing.T) {
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	configMap := func(name string, data map[string]any) *unstructured.Unstructured {
		return create(t, configMaps, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": data}})
	}
	ready := configMap("ready", map[string]any{"ready": "yes"})
	later := configMap("later", map[string]any{"other": "x"})
	waiter := newWaiter(t, health.CELCheck{APIVersion: "v1", Kind: "ConfigMap", Current: `has(self.data) && has(self.data.ready)`})
	ws := health.NewWatches(t.Context(), health.WatchesOptions{})
	t.Cleanup(ws.Close)

	// The first wait starts the stream.
	res, err := waiter.Wait(t.Context(), []*unstructured.Unstructured{ready}, health.WaitOptions{Timeout: 30 * time.Second, Watches: ws})
	if err != nil || res.Count(health.Current) != 1 {
		t.Fatalf("first wait: %v %v", res, err)
	}

	// The second starts after it synced: "ready" is read from what the
	// stream kept, "later" becomes ready by an update the stream sees.
	go func() {
		time.Sleep(300 * time.Millisecond)
		u := later.DeepCopy()
		u.Object["data"] = map[string]any{"ready": "now"}
		_, _ = dyn(t).Resource(configMaps).Namespace(ns).Update(t.Context(), u, metav1.UpdateOptions{})
	}()
	res, err = waiter.Wait(t.Context(), []*unstructured.Unstructured{ready, later}, health.WaitOptions{Timeout: 30 * time.Second, Watches: ws})
	if err != nil || res.Count(health.Current) != 2 {
		t.Fatalf("second wait: %v %v", res, err)
	}

	// A third, after the update: both read from what the stream kept.
	res, err = waiter.Wait(t.Context(), []*unstructured.Unstructured{later, ready}, health.WaitOptions{Timeout: 30 * time.Second, Watches: ws})
	if err != nil || res.Count(health.Current) != 2 {
		t.Fatalf("third wait: %v %v", res, err)
	}
}

// TestWaitSharedWatchesPaged: a shared LIST of more objects than one page
// holds sees every page, for the waits under way and for those that start
// after it synced.
func TestWaitSharedWatchesPaged(t *testing.T) {
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	var objs []*unstructured.Unstructured
	for i := range 520 { // a page holds 500
		objs = append(objs, create(t, configMaps, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%03d", i), "namespace": ns}, "data": map[string]any{"ready": "yes"}}}))
	}
	waiter := newWaiter(t, health.CELCheck{APIVersion: "v1", Kind: "ConfigMap", Current: `has(self.data) && has(self.data.ready)`})
	ws := health.NewWatches(t.Context(), health.WatchesOptions{})
	t.Cleanup(ws.Close)

	res, err := waiter.Wait(t.Context(), objs, health.WaitOptions{Timeout: time.Minute, Watches: ws})
	if err != nil || res.Count(health.Current) != len(objs) {
		t.Fatalf("wait for %d objects: %v %v", len(objs), res.Count(health.Current), err)
	}
	later := []*unstructured.Unstructured{objs[len(objs)-1], objs[0]}
	res, err = waiter.Wait(t.Context(), later, health.WaitOptions{Timeout: time.Minute, Watches: ws})
	if err != nil || res.Count(health.Current) != len(later) {
		t.Fatalf("wait after the list synced: %v %v", res, err)
	}
}
