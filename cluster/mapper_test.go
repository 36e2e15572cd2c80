package cluster

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// discoveryServer serves the legacy discovery documents of the core group
// (ConfigMaps) and, while widgets is set, of the group example.com/v1
// (cluster-scoped Widgets). It counts the requests it answers.
type discoveryServer struct {
	widgets  atomic.Bool
	requests atomic.Int64
}

func (d *discoveryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.requests.Add(1)
	var body any
	switch r.URL.Path {
	case "/api":
		body = metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}}
	case "/api/v1":
		body = metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1",
			APIResources: []metav1.APIResource{{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: []string{"get", "list"}}}}
	case "/apis":
		list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		if d.widgets.Load() {
			gv := metav1.GroupVersionForDiscovery{GroupVersion: "example.com/v1", Version: "v1"}
			list.Groups = []metav1.APIGroup{{Name: "example.com", Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv}}
		}
		body = list
	case "/apis/example.com/v1":
		if !d.widgets.Load() {
			http.NotFound(w, r)
			return
		}
		body = metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "example.com/v1",
			APIResources: []metav1.APIResource{{Name: "widgets", Kind: "Widget", Verbs: []string{"get", "list"}}}}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// Mappings are kept between lookups until the mapper is reset: a kind that
// appears is found by a lookup's own refresh, KnownMapping never refreshes,
// and a kind that went away is unknown after ResetMapper.
func TestMappingCache(t *testing.T) {
	d := &discoveryServer{}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	c, err := New(&rest.Config{Host: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	configMap := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	widget := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}

	m, err := c.Mapping(configMap)
	if err != nil || m.Resource.Resource != "configmaps" || m.Scope.Name() != meta.RESTScopeNameNamespace {
		t.Fatalf("Mapping(ConfigMap) = %+v, %v", m, err)
	}
	before := d.requests.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if again, err := c.Mapping(configMap); err != nil || again.Resource != m.Resource {
					t.Errorf("Mapping(ConfigMap) again = %+v, %v", again, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, ok := c.KnownMapping(widget); ok {
		t.Error("KnownMapping(Widget) before the group exists: found")
	}
	if n := d.requests.Load() - before; n != 0 {
		t.Errorf("%d discovery requests for known kinds and KnownMapping, want 0", n)
	}

	// The group appears (a CRD was applied elsewhere): Mapping refreshes.
	d.widgets.Store(true)
	if m, err := c.Mapping(widget); err != nil || m.Resource.Resource != "widgets" || m.Scope.Name() != meta.RESTScopeNameRoot {
		t.Fatalf("Mapping(Widget) once served = %+v, %v", m, err)
	}
	if _, ok := c.KnownMapping(widget); !ok {
		t.Error("KnownMapping(Widget) after Mapping found it: not found")
	}

	// The group goes away: the kept mapping goes with the reset.
	d.widgets.Store(false)
	c.ResetMapper()
	if _, err := c.Mapping(widget); !meta.IsNoMatchError(err) {
		t.Errorf("Mapping(Widget) after its group went and a reset: %v, want a no-match error", err)
	}
	if m, err := c.Mapping(configMap); err != nil || m.Resource.Resource != "configmaps" {
		t.Errorf("Mapping(ConfigMap) after the reset = %+v, %v", m, err)
	}
}
