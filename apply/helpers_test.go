package apply_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// shared is the bare API server the package's tests share, started by the
// first test that needs it: -short and a -run of tests that need none start
// none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	// Examples cannot skip themselves: with -short, Run skips these.
	os.Exit(shared.Run(m, "ExampleNewManager", "ExampleChangeSet_Inventory", "ExampleChangeSet_Stale",
		"ExampleManager_DeleteUnit", "ExampleManager_FindOwned"))
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

// inventoryNamespace is the prefix of the namespaces holding the tests'
// inventories (newStore), and the Examples' inventory namespace.
const inventoryNamespace = "gitopskit-system"

// request is one HTTP request seen by a counter.
type request struct {
	method, path, query, contentType string
}

// kind classifies a request: "apply" (server-side apply PATCH), "list"
// (GET of a collection), "get" (GET of one object), "discovery", or the
// method for anything else.
func (r request) kind() string {
	if r.method == http.MethodPatch && strings.HasPrefix(r.contentType, "application/apply-patch") {
		return "apply"
	}
	segs := strings.Split(strings.Trim(r.path, "/"), "/")
	var rest []string
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		rest = segs[3:]
	}
	if len(rest) == 0 {
		if r.method == http.MethodGet {
			return "discovery"
		}
		return r.method
	}
	if rest[0] == "namespaces" && len(rest) >= 3 {
		rest = rest[2:]
	}
	if r.method == http.MethodGet && len(rest) == 1 {
		return "list"
	}
	if r.method == http.MethodGet {
		return "get"
	}
	return r.method
}

func (r request) String() string { return r.kind() + " " + r.method + " " + r.path + "?" + r.query }

// counter records the requests made through configs it wrapped: the HTTP
// requests themselves, content type included, which Cluster.Requests does
// not tell (an SSA patch from another patch, discovery from a GET).
type counter struct {
	mu   sync.Mutex
	reqs []request
	hook func(request)
	base *rest.Config
}

func newCounter(cfg *rest.Config) *counter { return &counter{base: cfg} }

// config returns a copy of the base config whose requests are counted.
func (c *counter) config() *rest.Config {
	cfg := rest.CopyConfig(c.base)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			r := request{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Content-Type")}
			c.mu.Lock()
			c.reqs = append(c.reqs, r)
			hook := c.hook
			c.mu.Unlock()
			if hook != nil {
				hook(r)
			}
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// setHook sets a function called (outside the lock) for every request.
func (c *counter) setHook(f func(request)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hook = f
}

// reset forgets the requests seen so far.
func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = nil
}

// byKind counts the requests by kind.
func (c *counter) byKind() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, r := range c.reqs {
		out[r.kind()]++
	}
	return out
}

func (c *counter) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, r := range c.reqs {
		fmt.Fprintln(&b, r)
	}
	return b.String()
}

func clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(testCluster(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func dynClient(t testing.TB) *dynamic.DynamicClient {
	t.Helper()
	d, err := dynamic.NewForConfig(testCluster(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createNamespace creates a namespace (if needed) for a test.
func createNamespace(t testing.TB, name string) {
	t.Helper()
	_, err := clientset(t).CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// newCluster returns the access to the cluster cfg points at: one per test,
// shared by its Manager and Stores, as a program would.
func newCluster(t testing.TB, cfg *rest.Config) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newManager(t testing.TB, c *cluster.Cluster) *apply.Manager {
	t.Helper()
	m, err := apply.NewManager(c, apply.DefaultManagerOptions())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testNamespace creates a namespace of the test's own: base and a random
// suffix, so that neither other tests nor reruns (go test -count=N) collide
// with the test's objects.
func testNamespace(t testing.TB, base string) string {
	t.Helper()
	name := gitopstest.UniqueName(base)
	createNamespace(t, name)
	return name
}

// newStore returns the store of unit, in an inventory namespace of its own
// (gitopskit-system-xxxxx): a rerun of the test starts with no inventory.
func newStore(t testing.TB, c *cluster.Cluster, unit string) *inventory.Store {
	t.Helper()
	s, err := inventory.NewStore(c, inventory.StoreOptions{Name: unit, Namespace: testNamespace(t, inventoryNamespace)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	return u
}

func namespace(name string) *unstructured.Unstructured { return obj("v1", "Namespace", "", name, nil) }

func configMap(ns, name string, data map[string]any) *unstructured.Unstructured {
	return obj("v1", "ConfigMap", ns, name, map[string]any{"data": data})
}

func service(ns, name string) *unstructured.Unstructured {
	return obj("v1", "Service", ns, name, map[string]any{"spec": map[string]any{
		"selector": map[string]any{"app": name},
		"ports":    []any{map[string]any{"port": int64(80), "protocol": "TCP"}},
	}})
}

func deployment(ns, name string, labels map[string]any) *unstructured.Unstructured {
	sel := map[string]any{"app": name}
	podLabels := map[string]any{"app": name}
	for k, v := range labels {
		podLabels[k] = v
	}
	return obj("apps/v1", "Deployment", ns, name, map[string]any{"spec": map[string]any{
		"replicas":                int64(1),
		"progressDeadlineSeconds": int64(5),
		"selector":                map[string]any{"matchLabels": sel},
		"template": map[string]any{
			"metadata": map[string]any{"labels": podLabels},
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "app", "image": "example.invalid/app:1",
			}}},
		},
	}})
}

// actions returns the changes as "Kind/ns/name=action".
func actions(cs *apply.ChangeSet) map[string]apply.Action {
	out := map[string]apply.Action{}
	for _, c := range cs.Changes {
		out[c.Object.String()] = c.Action
	}
	return out
}

func mustApply(t testing.TB, m *apply.Manager, objs []*unstructured.Unstructured, opts apply.ApplyOptions) *apply.ChangeSet {
	t.Helper()
	cs, err := m.Apply(t.Context(), objs, opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return cs
}
