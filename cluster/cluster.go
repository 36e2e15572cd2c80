package cluster

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// DefaultMaxInFlight is the request budget of a Cluster made with a zero
// [Options.MaxInFlight].
const DefaultMaxInFlight = 32

// Options configure a [Cluster].
type Options struct {
	// MaxInFlight bounds the requests in flight, watches excluded, across
	// every identity of the Cluster. Default [DefaultMaxInFlight]; a
	// negative value means no bound.
	MaxInFlight int
}

// ErrNoConfig is returned by [New] for a nil rest.Config.
var ErrNoConfig = errors.New("cluster: nil rest.Config")

// Cluster is the access to one cluster as one identity. Its methods are
// safe for concurrent use.
type Cluster struct {
	shared *shared
	// identity is "" for the caller's own credentials.
	identity string
	config   *rest.Config
	http     *http.Client
	dyn      dynamic.Interface
	meta     metadata.Interface
	core     kubernetes.Interface
}

// shared is what every identity of a Cluster shares.
type shared struct {
	base   *rest.Config // the caller's config, unthrottled, with the budget transport
	http   *http.Client // the caller's identity
	mapper *mapper
	budget *budget

	mu         sync.Mutex
	identities map[string]*Cluster
}

// New returns the access to the cluster cfg points at. cfg is copied: when
// it sets no rate limit, client-side throttling is off (the budget and the
// API server's priority and fairness protect the server); when it sets no
// warning handler, the server's warnings are dropped rather than written to
// stderr. New makes no request.
func New(cfg *rest.Config, opts Options) (*Cluster, error) {
	if cfg == nil {
		return nil, ErrNoConfig
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	c := rest.CopyConfig(cfg)
	if c.WarningHandler == nil && c.WarningHandlerWithContext == nil {
		c.WarningHandler = rest.NoWarnings{}
	}
	if c.QPS == 0 && c.RateLimiter == nil {
		c.QPS = -1 // client-go: no token bucket
	}
	b := newBudget(opts.MaxInFlight)
	c.Wrap(b.wrap)
	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("cluster: http client: %w", err)
	}
	m, err := newMapper(c, hc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s := &shared{base: c, http: hc, mapper: m, budget: b, identities: map[string]*Cluster{}}
	root, err := s.build("", c, hc)
	if err != nil {
		return nil, err
	}
	s.identities[""] = root
	return root, nil
}

func (s *shared) build(identity string, cfg *rest.Config, hc *http.Client) (*Cluster, error) {
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("cluster: dynamic client: %w", err)
	}
	md, err := metadata.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("cluster: metadata client: %w", err)
	}
	core, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("cluster: client: %w", err)
	}
	return &Cluster{shared: s, identity: identity, config: cfg, http: hc, dyn: dyn, meta: md, core: core}, nil
}

// As returns the access as user (a Kubernetes user name, such as
// "system:serviceaccount:team-a:deployer"), impersonated by the Cluster's
// own credentials over the same connections, discovery and budget. Copies
// are kept: every call with the same user returns the same *Cluster. An
// empty user returns the caller's own access.
func (c *Cluster) As(user string) (*Cluster, error) {
	s := c.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.identities[user]; ok {
		return id, nil
	}
	imp := rest.ImpersonationConfig{UserName: user}
	cfg := rest.CopyConfig(s.base)
	cfg.Impersonate = imp
	hc := &http.Client{
		Transport: transport.NewImpersonatingRoundTripper(transport.ImpersonationConfig{UserName: user}, s.http.Transport),
		Timeout:   s.http.Timeout,
	}
	id, err := s.build(user, cfg, hc)
	if err != nil {
		return nil, err
	}
	s.identities[user] = id
	return id, nil
}

// AsServiceAccount returns the access as the service account name of
// namespace; see [Cluster.As].
func (c *Cluster) AsServiceAccount(namespace, name string) (*Cluster, error) {
	if namespace == "" || name == "" {
		return nil, fmt.Errorf("cluster: service account %q of namespace %q: both are required", name, namespace)
	}
	return c.As(ServiceAccountUser(namespace, name))
}

// ServiceAccountUser returns the user name of a service account.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Identity returns the impersonated user, or "" for the caller's own
// credentials.
func (c *Cluster) Identity() string { return c.identity }

// Config returns a copy of the rest.Config of this identity (impersonation
// set, requests counted against the budget), for libraries that build their
// own clients, such as Helm's.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// HTTPClient returns the HTTP client of this identity.
func (c *Cluster) HTTPClient() *http.Client { return c.http }

// Dynamic returns the dynamic client of this identity.
func (c *Cluster) Dynamic() dynamic.Interface { return c.dyn }

// Metadata returns the metadata-only client of this identity.
func (c *Cluster) Metadata() metadata.Interface { return c.meta }

// Kubernetes returns the typed client of this identity.
func (c *Cluster) Kubernetes() kubernetes.Interface { return c.core }

// RESTMapper returns the RESTMapper shared by every identity.
func (c *Cluster) RESTMapper() meta.RESTMapper { return c.shared.mapper.mapper }

// Discovery returns the cached discovery client shared by every identity
// (discovery is read as the caller's own identity).
func (c *Cluster) Discovery() discovery.CachedDiscoveryInterface { return c.shared.mapper.discovery }

// Mapping returns the REST mapping of gvk. When the kind is unknown it
// refreshes discovery once (unless another lookup refreshed it since this
// one started) and tries again; a kind still unknown gives an error for
// which meta.IsNoMatchError is true.
func (c *Cluster) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	return c.shared.mapper.mapping(gvk)
}

// KnownMapping returns the REST mapping of gvk when the cached discovery
// information knows the kind, and false otherwise; unlike [Cluster.Mapping]
// it never refreshes discovery for an unknown kind (for example one whose
// CRD is yet to be applied).
func (c *Cluster) KnownMapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, bool) {
	return c.shared.mapper.known(gvk)
}

// ResetMapper drops the cached discovery information, for example after
// CRDs were created or deleted.
func (c *Cluster) ResetMapper() { c.shared.mapper.reset() }

// Requests returns the requests made so far through every identity of the
// Cluster, by verb and status code.
func (c *Cluster) Requests() RequestStats { return c.shared.budget.stats() }
