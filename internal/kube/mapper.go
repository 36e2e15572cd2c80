package kube

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Mapper maps kinds to resources through discovery, cached in memory. A
// kind the cache does not know triggers one refresh (for example after a
// CRD stage), not one per lookup: lookups that failed before the latest
// refresh retry against it instead of refreshing again.
type Mapper struct {
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	discovery discovery.CachedDiscoveryInterface

	mu    sync.Mutex
	epoch uint64 // bumped by every Reset
}

// NewMapper returns a Mapper using the given config and HTTP client.
func NewMapper(cfg *rest.Config, hc *http.Client) (*Mapper, error) {
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Mapper{mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached), discovery: cached}, nil
}

// Reset drops the cached discovery information.
func (m *Mapper) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mapper.Reset()
	m.epoch++
}

// RESTMapper returns the underlying RESTMapper.
func (m *Mapper) RESTMapper() meta.RESTMapper { return m.mapper }

// Mapping returns the REST mapping of gvk. When the kind is unknown it
// refreshes discovery once (unless another lookup already refreshed it
// since this one started) and tries again; a kind still unknown gives an
// error for which meta.IsNoMatchError is true.
func (m *Mapper) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m.mu.Lock()
	start := m.epoch
	m.mu.Unlock()
	mapping, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) {
		return mapping, err
	}
	m.mu.Lock()
	if m.epoch == start {
		m.mapper.Reset()
		m.epoch++
	}
	m.mu.Unlock()
	return m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// ListableResource is a resource the server serves with the list verb, at
// its preferred version.
type ListableResource struct {
	Resource   schema.GroupVersionResource
	Kind       schema.GroupVersionKind
	Namespaced bool
}

// ListableResources returns the resources the server lists, at their
// preferred versions, from the cached discovery information: no
// subresources, no Events (never applied, often numerous). Groups whose
// discovery failed (an unavailable aggregated API) are left out.
func (m *Mapper) ListableResources() ([]ListableResource, error) {
	lists, err := discovery.ServerPreferredResources(m.discovery)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var out []ListableResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || r.Kind == "Event" {
				continue
			}
			out = append(out, ListableResource{
				Resource:   gv.WithResource(r.Name),
				Kind:       gv.WithKind(r.Kind),
				Namespaced: r.Namespaced,
			})
		}
	}
	return out, nil
}
