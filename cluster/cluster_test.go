package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestIsCollection(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		// Collections, core and named groups, cluster-wide and namespaced.
		{"/api/v1/pods", true},
		{"/api/v1/namespaces", true},
		{"/api/v1/nodes", true},
		{"/api/v1/namespaces/shop/configmaps", true},
		{"/apis/apps/v1/deployments", true},
		{"/apis/apps/v1/namespaces/shop/deployments", true},
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles", true},
		{"/api/v1/namespaces/shop/configmaps/", true}, // trailing slash
		// Objects, a Namespace included.
		{"/api/v1/namespaces/shop", false},
		{"/api/v1/nodes/node-1", false},
		{"/api/v1/namespaces/shop/configmaps/settings", false},
		{"/apis/apps/v1/namespaces/shop/deployments/web", false},
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles/reader", false},
		// Subresources.
		{"/api/v1/namespaces/shop/pods/web-0/log", false},
		{"/apis/apps/v1/namespaces/shop/deployments/web/status", false},
		// Discovery and other paths.
		{"/", false},
		{"", false},
		{"/api", false},
		{"/api/v1", false},
		{"/apis", false},
		{"/apis/apps", false},
		{"/apis/apps/v1", false},
		{"/version", false},
		{"/openapi/v3", false},
		{"/openapi/v3/apis/apps/v1", false},
		{"/healthz", false},
	}
	for _, tt := range tests {
		if got := isCollection(tt.path); got != tt.want {
			t.Errorf("isCollection(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestVerbOf(t *testing.T) {
	tests := []struct {
		method, target, want string
	}{
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps", "list"},
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps?labelSelector=a%3Db&limit=500", "list"},
		{http.MethodGet, "/apis/apps/v1/deployments", "list"},
		{http.MethodGet, "/api/v1/namespaces", "list"},
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps/settings", "get"},
		{http.MethodGet, "/api/v1/namespaces/shop", "get"},
		{http.MethodGet, "/apis/apps/v1/namespaces/shop/deployments/web/status", "get"},
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps?watch=true", "watch"},
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps?watch=1&resourceVersion=7", "watch"},
		{http.MethodGet, "/apis/apps/v1/deployments?watch=true&fieldSelector=metadata.name%3Dweb", "watch"},
		{http.MethodGet, "/api/v1/namespaces/shop/configmaps?watch=false", "list"},
		{http.MethodGet, "/api", "get"},
		{http.MethodGet, "/apis/apps/v1", "get"},
		{http.MethodGet, "/version", "get"},
		{http.MethodPost, "/api/v1/namespaces/shop/configmaps", "create"},
		{http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create"},
		{http.MethodPut, "/api/v1/namespaces/shop/configmaps/settings", "update"},
		{http.MethodPut, "/apis/apps/v1/namespaces/shop/deployments/web/status", "update"},
		{http.MethodPatch, "/api/v1/namespaces/shop/configmaps/settings?fieldManager=gitopskit&force=true", "patch"},
		{http.MethodDelete, "/api/v1/namespaces/shop/configmaps/settings", "delete"},
		{http.MethodDelete, "/api/v1/namespaces/shop", "delete"},
		{http.MethodDelete, "/api/v1/namespaces/shop/configmaps", "deletecollection"},
		{http.MethodDelete, "/apis/apps/v1/namespaces/shop/deployments?labelSelector=app%3Dweb", "deletecollection"},
		{http.MethodHead, "/healthz", "head"},
		{http.MethodOptions, "/api", "options"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "http://127.0.0.1"+tt.target, nil)
		if got := verbOf(req); got != tt.want {
			t.Errorf("verbOf(%s %s) = %q, want %q", tt.method, tt.target, got, tt.want)
		}
	}
}

func TestNewNilConfig(t *testing.T) {
	if _, err := New(nil, Options{}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("New(nil) = %v, want ErrNoConfig", err)
	}
}

// TestNewCopiesConfig: New leaves the caller's config alone and turns
// client-side throttling off unless the config asks for it.
func TestNewCopiesConfig(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	c, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QPS != 0 || cfg.WarningHandler != nil || cfg.WrapTransport != nil {
		t.Errorf("New changed the caller's config: %+v", cfg)
	}
	if got := c.Config(); got.QPS >= 0 || got.WarningHandler == nil {
		t.Errorf("Config(): QPS %v, warning handler %v; want no throttling, warnings dropped", got.QPS, got.WarningHandler)
	}
	throttled, err := New(&rest.Config{Host: "https://127.0.0.1:1", QPS: 5, Burst: 10}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := throttled.Config(); got.QPS != 5 || got.Burst != 10 {
		t.Errorf("Config() of a throttled config: QPS %v burst %d, want 5 and 10", got.QPS, got.Burst)
	}
	if c.Identity() != "" {
		t.Errorf("Identity() = %q, want the caller's own (\"\")", c.Identity())
	}
}

// recorder is a stand-in API server on 127.0.0.1 that answers every
// request with an empty ConfigMap (or list) and records who asked.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	users []string // Impersonate-User of each request, "-" when absent
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user := "-"
		if v := req.Header.Values("Impersonate-User"); len(v) > 0 {
			user = strings.Join(v, ",")
		}
		r.mu.Lock()
		r.users = append(r.users, user)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if isCollection(req.URL.Path) {
			fmt.Fprint(w, `{"apiVersion":"v1","kind":"ConfigMapList","metadata":{"resourceVersion":"1"},"items":[]}`)
			return
		}
		fmt.Fprint(w, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop","resourceVersion":"1"}}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// take returns the users recorded since the last call.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.users
	r.users = nil
	return u
}

func (r *recorder) config() *rest.Config { return &rest.Config{Host: r.URL} }

// TestAsCaching: As returns one copy per user, whatever copy it is called
// on; the empty user is the caller's own access.
func TestAsCaching(t *testing.T) {
	c, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := c.As("alice")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.As("alice")
	if err != nil || again != alice {
		t.Errorf("As(alice) twice: %p then %p (%v), want the same copy", alice, again, err)
	}
	if alice == c || alice.Identity() != "alice" {
		t.Errorf("As(alice) = %p identity %q", alice, alice.Identity())
	}
	if self, err := c.As(""); err != nil || self != c {
		t.Errorf("As(\"\") = %p, %v; want the Cluster itself %p", self, err, c)
	}
	// From a copy: the same table, no stacking of identities.
	if self, err := alice.As(""); err != nil || self != c {
		t.Errorf("alice.As(\"\") = %p, %v; want the caller's own access %p", self, err, c)
	}
	bob, err := alice.As("bob")
	if err != nil {
		t.Fatal(err)
	}
	if fromRoot, _ := c.As("bob"); fromRoot != bob || bob.Identity() != "bob" {
		t.Errorf("alice.As(bob) and c.As(bob) differ: %p %p", bob, fromRoot)
	}

	sa, err := c.AsServiceAccount("team-a", "deployer")
	if err != nil {
		t.Fatal(err)
	}
	if byName, _ := c.As("system:serviceaccount:team-a:deployer"); byName != sa {
		t.Errorf("AsServiceAccount and As of its user name differ: %p %p", sa, byName)
	}
	if got := sa.Identity(); got != ServiceAccountUser("team-a", "deployer") || got != "system:serviceaccount:team-a:deployer" {
		t.Errorf("service account identity %q", got)
	}
	for _, bad := range [][2]string{{"", "deployer"}, {"team-a", ""}, {"", ""}} {
		if _, err := c.AsServiceAccount(bad[0], bad[1]); err == nil {
			t.Errorf("AsServiceAccount(%q, %q) succeeded", bad[0], bad[1])
		}
	}

	// Concurrent callers get one copy.
	var wg sync.WaitGroup
	got := make([]*Cluster, 16)
	for i := range got {
		wg.Go(func() { got[i], _ = c.As("carol") })
	}
	wg.Wait()
	for _, g := range got {
		if g == nil || g != got[0] {
			t.Fatalf("concurrent As(carol) gave different copies: %v", got)
		}
	}

	// The copies share discovery: one RESTMapper.
	if alice.RESTMapper() != c.RESTMapper() {
		t.Error("an impersonated copy has its own RESTMapper")
	}
}

// TestImpersonationHeaders: every client of a copy (dynamic, metadata,
// typed, its HTTP client, and a client built from its Config) sends the
// impersonation header; the caller's own clients send none; all are counted
// in the shared Requests.
func TestImpersonationHeaders(t *testing.T) {
	ctx := t.Context()
	srv := newRecorder(t)
	c, err := New(srv.config(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := c.AsServiceAccount("team-a", "deployer")
	if err != nil {
		t.Fatal(err)
	}
	const user = "system:serviceaccount:team-a:deployer"
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

	clients := map[string]func(*Cluster) error{
		"dynamic get": func(c *Cluster) error {
			_, err := c.Dynamic().Resource(gvr).Namespace("shop").Get(ctx, "settings", metav1.GetOptions{})
			return err
		},
		"metadata list": func(c *Cluster) error {
			_, err := c.Metadata().Resource(gvr).Namespace("shop").List(ctx, metav1.ListOptions{})
			return err
		},
		"typed get": func(c *Cluster) error {
			_, err := c.Kubernetes().CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
			return err
		},
		"http client": func(c *Cluster) error {
			resp, err := c.HTTPClient().Get(srv.URL + "/api/v1/namespaces/shop/configmaps/settings")
			if err == nil {
				resp.Body.Close()
			}
			return err
		},
		"client from Config": func(c *Cluster) error {
			kc, err := kubernetes.NewForConfig(c.Config())
			if err != nil {
				return err
			}
			_, err = kc.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
			return err
		},
	}
	for name, call := range clients {
		t.Run(name, func(t *testing.T) {
			srv.take()
			if err := call(c); err != nil {
				t.Fatal(err)
			}
			if got := srv.take(); len(got) != 1 || got[0] != "-" {
				t.Errorf("caller's own request: Impersonate-User %v, want none", got)
			}
			if err := call(sa); err != nil {
				t.Fatal(err)
			}
			if got := srv.take(); len(got) != 1 || got[0] != user {
				t.Errorf("impersonated request: Impersonate-User %v, want %q", got, user)
			}
		})
	}

	// Both identities count in the one budget.
	stats := c.Requests()
	if stats.Total() != 2*len(clients) || stats.Code(http.StatusOK) != 2*len(clients) {
		t.Errorf("Requests() = %v, want %d answered 200", stats, 2*len(clients))
	}
	if got := stats.Verb("list"); got != 2 {
		t.Errorf("Requests() lists = %d, want 2 (%v)", got, stats)
	}
	if got := stats.Verb("get"); got != 2*len(clients)-2 {
		t.Errorf("Requests() gets = %d, want %d (%v)", got, 2*len(clients)-2, stats)
	}
	if sa.Requests().Total() != stats.Total() {
		t.Errorf("a copy's Requests() = %v, want the shared %v", sa.Requests(), stats)
	}
}

func TestRequestStats(t *testing.T) {
	s := RequestStats{
		{Verb: "patch", Code: 201}: 12,
		{Verb: "list", Code: 200}:  4,
		{Verb: "get", Code: 404}:   1,
		{Verb: "get", Code: 200}:   3,
		{Verb: "get", Code: 0}:     1,
	}
	if got, want := s.String(), "get 0: 1, get 200: 3, get 404: 1, list 200: 4, patch 201: 12"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if s.Total() != 21 || s.Verb("get") != 5 || s.Code(200) != 7 || s.Verb("watch") != 0 {
		t.Errorf("Total %d, Verb(get) %d, Code(200) %d", s.Total(), s.Verb("get"), s.Code(200))
	}
	before := RequestStats{{Verb: "patch", Code: 201}: 10, {Verb: "list", Code: 200}: 4}
	d := s.Sub(before)
	if got, want := d.String(), "get 0: 1, get 200: 3, get 404: 1, patch 201: 2"; got != want {
		t.Errorf("Sub = %q, want %q", got, want)
	}
	if (RequestStats{}).String() != "" || (RequestStats{}).Total() != 0 {
		t.Error("empty stats")
	}
}

// TestRequestsCountFailures: a request with no response counts with code 0.
func TestRequestsCountFailures(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	cfg := &rest.Config{Host: srv.URL}
	srv.Close() // nothing listens there any more
	c, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Kubernetes().CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{}); err == nil {
		t.Fatal("get from a closed server succeeded")
	}
	if s := c.Requests(); s.Code(0) == 0 || s.Total() != s.Code(0) {
		t.Errorf("Requests() = %v, want only code 0", s)
	}
}

// TestMaxInFlight: no more than MaxInFlight requests are in flight, across
// identities; watches do not take a slot.
func TestMaxInFlight(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if req.URL.Query().Get("watch") == "true" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select { // hold the watch open until the test ends
			case <-release:
			case <-req.Context().Done():
			}
			return
		}
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		inFlight.Add(-1)
		fmt.Fprint(w, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop"}}`)
	}))
	defer srv.Close()
	defer close(release)

	c, err := New(&rest.Config{Host: srv.URL}, Options{MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := c.AsServiceAccount("team-a", "deployer")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// Two watches stay open: with MaxInFlight 2 they would starve the gets
	// if they took slots.
	for _, id := range []*Cluster{c, sa} {
		w, err := id.Kubernetes().CoreV1().ConfigMaps("shop").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		id := []*Cluster{c, sa}[i%2]
		wg.Go(func() {
			_, err := id.Kubernetes().CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p > 2 || p == 0 {
		t.Errorf("peak requests in flight = %d, want 1 or 2", p)
	}
	if s := c.Requests(); s.Verb("get") != 8 || s.Verb("watch") != 2 {
		t.Errorf("Requests() = %v, want 8 gets and 2 watches", s)
	}
}

// TestMaxInFlightCancel: a request waiting for a slot gives up when its
// context ends.
func TestMaxInFlightCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop"}}`)
	}))
	defer srv.Close()
	c, err := New(&rest.Config{Host: srv.URL}, Options{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := c.Kubernetes().CoreV1().ConfigMaps("shop").Get(t.Context(), "settings", metav1.GetOptions{})
		done <- err
	}()
	<-started
	// Wait until the first request holds the slot.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if len(c.shared.budget.slots) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request never took the slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Kubernetes().CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a slot past the deadline: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the first request: %v", err)
	}
}

// TestReads: the first caller of a (identity, resource, namespace,
// selector) lists, later ones share its answer; Forget drops it; another
// identity lists for itself.
func TestReads(t *testing.T) {
	var lists atomic.Int32
	var failWidgets atomic.Bool
	failWidgets.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !isCollection(req.URL.Path) {
			http.NotFound(w, req)
			return
		}
		lists.Add(1)
		if strings.HasSuffix(req.URL.Path, "/widgets") && failWidgets.Load() {
			http.Error(w, "etcd is sad", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"9"},"items":[
			{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"a","namespace":"shop","resourceVersion":"5",
			 "labels":{"app":"web"},"annotations":{"gitopskit.io/reconcile":"disabled","kubectl.kubernetes.io/last-applied-configuration":"{}"}}},
			{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"b","namespace":"other","resourceVersion":"6",
			 "deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["x"]}}]}`)
	}))
	defer srv.Close()
	c, err := New(&rest.Config{Host: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	r := NewReads()

	got, err := r.ListMetadata(ctx, c, gvr, "", "app=web")
	if err != nil {
		t.Fatal(err)
	}
	a, b := got["shop/a"], got["other/b"]
	if len(got) != 2 || a.ResourceVersion != "5" || a.Labels["app"] != "web" || a.Deleting || !b.Deleting {
		t.Fatalf("ListMetadata = %+v", got)
	}
	if len(a.Annotations) != 1 || a.Annotations["gitopskit.io/reconcile"] != "disabled" {
		t.Errorf("annotations kept: %v, want only the gitopskit.io ones", a.Annotations)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := r.ListMetadata(ctx, c, gvr, "", "app=web"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := lists.Load(); n != 1 {
		t.Errorf("%d LISTs for 9 callers of one key, want 1", n)
	}
	if _, err := r.ListMetadata(ctx, c, gvr, "", "app=db"); err != nil || lists.Load() != 2 {
		t.Errorf("another selector: %v, %d LISTs; want 2", err, lists.Load())
	}
	sa, _ := c.AsServiceAccount("team-a", "deployer")
	if _, err := r.ListMetadata(ctx, sa, gvr, "", "app=web"); err != nil || lists.Load() != 3 {
		t.Errorf("another identity: %v, %d LISTs; want 3", err, lists.Load())
	}
	r.Forget(gvr, "")
	if _, err := r.ListMetadata(ctx, c, gvr, "", "app=web"); err != nil || lists.Load() != 4 {
		t.Errorf("after Forget: %v, %d LISTs; want 4", err, lists.Load())
	}
	// Without Reads, every call lists.
	if _, err := ListMetadata(ctx, c, gvr, "", "app=web"); err != nil || lists.Load() != 5 {
		t.Errorf("ListMetadata: %v, %d LISTs; want 5", err, lists.Load())
	}
	// A failed LIST is not remembered: the next caller lists again.
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	if _, err := r.ListMetadata(ctx, c, widgets, "shop", ""); err == nil {
		t.Fatal("a LIST answered 500 succeeded")
	}
	failWidgets.Store(false)
	before := lists.Load()
	if got, err := r.ListMetadata(ctx, c, widgets, "shop", ""); err != nil || len(got) != 2 || lists.Load() == before {
		t.Errorf("after a failed LIST: %v, %v, %d LISTs; want a new LIST", got, err, lists.Load()-before)
	}
}
