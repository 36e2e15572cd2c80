package cluster

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

// mapper maps kinds to resources through discovery, cached in memory. A
// kind the cache does not know triggers one refresh, not one per lookup:
// lookups that failed before the latest refresh retry against it. The
// mappings found are kept by GroupVersionKind until the next reset: the
// discovery mapper behind them searches every group version on each
// lookup, which costs more than the rest of a no-op apply's client side
// for a set of 1,000 objects.
type mapper struct {
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	discovery discovery.CachedDiscoveryInterface

	mu    sync.Mutex
	epoch uint64 // bumped by every reset
	found map[schema.GroupVersionKind]*meta.RESTMapping
}

func newMapper(cfg *rest.Config, hc *http.Client) (*mapper, error) {
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &mapper{mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached), discovery: cached}, nil
}

func (m *mapper) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mapper.Reset()
	m.epoch++
	m.found = nil
}

// cached returns the mapping of gvk found since the last reset, if any,
// and the current epoch.
func (m *mapper) cached(gvk schema.GroupVersionKind) (*meta.RESTMapping, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.found[gvk], m.epoch
}

// keep records mapping as gvk's unless a reset happened since epoch.
func (m *mapper) keep(gvk schema.GroupVersionKind, mapping *meta.RESTMapping, epoch uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epoch != epoch {
		return
	}
	if m.found == nil {
		m.found = map[schema.GroupVersionKind]*meta.RESTMapping{}
	}
	m.found[gvk] = mapping
}

// lookup returns gvk's mapping, from what was found since the last reset
// or else from the discovery mapper (keeping what it finds), and the epoch
// it started in.
func (m *mapper) lookup(gvk schema.GroupVersionKind) (*meta.RESTMapping, uint64, error) {
	mapping, epoch := m.cached(gvk)
	if mapping != nil {
		return mapping, epoch, nil
	}
	mapping, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, epoch, err
	}
	m.keep(gvk, mapping, epoch)
	return mapping, epoch, nil
}

// known returns the mapping of gvk if discovery (as cached) knows the
// kind, without refreshing it for an unknown one.
func (m *mapper) known(gvk schema.GroupVersionKind) (*meta.RESTMapping, bool) {
	mapping, _, err := m.lookup(gvk)
	return mapping, err == nil
}

func (m *mapper) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mapping, start, err := m.lookup(gvk)
	if err == nil || !meta.IsNoMatchError(err) {
		return mapping, err
	}
	m.mu.Lock()
	if m.epoch == start {
		m.mapper.Reset()
		m.epoch++
		m.found = nil
	}
	m.mu.Unlock()
	mapping, _, err = m.lookup(gvk)
	return mapping, err
}

// Resource is a resource the server serves with the list verb, at its
// preferred version.
type Resource struct {
	Resource   schema.GroupVersionResource
	Kind       schema.GroupVersionKind
	Namespaced bool
}

// ListableResources returns the resources the server lists, at their
// preferred versions, from the cached discovery information: no
// subresources, no Events (never applied, often numerous). Groups whose
// discovery failed (an unavailable aggregated API) are left out.
func (c *Cluster) ListableResources() ([]Resource, error) {
	lists, err := discovery.ServerPreferredResources(c.shared.mapper.discovery)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("cluster: discovery: %w", err)
	}
	var out []Resource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || r.Kind == "Event" {
				continue
			}
			out = append(out, Resource{Resource: gv.WithResource(r.Name), Kind: gv.WithKind(r.Kind), Namespaced: r.Namespaced})
		}
	}
	return out, nil
}
