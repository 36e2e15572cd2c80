package helmrelease

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"

	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
	"github.com/gitopskit/gitopskit/helmrelease/internal/driver/helmv3"
)

// DefaultFieldManager is the server-side apply field manager drift
// correction applies with, unless [Options.FieldManager] names another.
const DefaultFieldManager = "gitopskit-helmrelease"

// Options configure a [Reconciler].
type Options struct {
	// CacheDir is the folder, owned by the caller, where chart archives
	// from repositories and registries are cached by digest
	// (CacheDir/charts/sha256-<hex>.tgz). Required for such charts; charts
	// from a Path are read in place.
	CacheDir string
	// Logger receives diagnostics (Helm's debug output at debug level, API
	// server warnings at warn level). If nil, nothing is logged.
	Logger *slog.Logger
	// Events, if set, receives progress events, synchronously.
	Events func(Event)
	// FieldManager is the field manager of drift correction. Default
	// [DefaultFieldManager].
	FieldManager string
	// Admit, when set, is given every object a release would create or
	// change (templates, hooks and the chart's CRDs) before any install or
	// upgrade; an error refuses the action, with [ReasonPolicyViolation].
	// Embedders enforce tenancy with it.
	Admit func(ctx context.Context, objects []*unstructured.Unstructured) error
	// HTTPClient fetches indexes and charts from repositories and
	// registries. Default: a client with no timeout of its own (the
	// context bounds each request).
	HTTPClient *http.Client
}

// Reconciler converges Helm releases on one cluster. It is safe for
// concurrent use; calls for the same release are serialized. One
// Reconciler (one process) should own a release: a revision left pending
// is taken as left by a crash and unlocked.
type Reconciler struct {
	opts      Options
	log       *slog.Logger
	rest      *rest.Config
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
	cluster   *cluster.Cluster
	dynamic   dynamic.Interface

	newDriver func(namespace string) (driver.Driver, error)
	loadChart func(path string, opts driver.LoadOptions) (*driver.Chart, error)

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// NewReconciler returns a Reconciler acting on the cluster as c's identity:
// every Helm action (install, upgrade, rollback, uninstall, test, and the
// templates' lookup calls) and drift correction go through c, so RBAC bounds
// what a release of an impersonated identity can do. It makes no request.
func NewReconciler(c *cluster.Cluster, opts Options) (*Reconciler, error) {
	if c == nil {
		return nil, errors.New("helmrelease: nil cluster")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FieldManager == "" {
		opts.FieldManager = DefaultFieldManager
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	cfg := c.Config()
	cfg.WarningHandler = warningLogger{opts.Logger}
	r := &Reconciler{
		opts:      opts,
		log:       opts.Logger,
		rest:      cfg,
		discovery: c.Discovery(),
		mapper:    c.RESTMapper(),
		cluster:   c,
		dynamic:   c.Dynamic(),
		loadChart: helmv3.LoadChart,
		locks:     map[string]*sync.Mutex{},
	}
	r.newDriver = func(namespace string) (driver.Driver, error) {
		return helmv3.New(helmv3.Config{
			REST: r.rest, Discovery: r.discovery, Mapper: r.mapper,
			Namespace: namespace, Logger: r.log,
		})
	}
	return r, nil
}

// lock serializes work on one release and returns the unlock function.
func (r *Reconciler) lock(key string) func() {
	r.mu.Lock()
	m, ok := r.locks[key]
	if !ok {
		m = new(sync.Mutex)
		r.locks[key] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (r *Reconciler) emit(rel *Release, e Event) {
	e.Time = time.Now()
	e.Namespace, e.Name = rel.Namespace, rel.Name
	level := slog.LevelInfo
	if e.Err != nil {
		level = slog.LevelWarn
	}
	attrs := []any{"type", string(e.Type), "release", rel.Key()}
	if e.Revision > 0 {
		attrs = append(attrs, "revision", e.Revision)
	}
	if e.Err != nil {
		attrs = append(attrs, "error", e.Err)
	}
	r.log.Log(context.Background(), level, e.Message, attrs...)
	if r.opts.Events != nil {
		r.opts.Events(e)
	}
}

// warningLogger sends API server warnings to the logger instead of
// client-go's default (stderr).
type warningLogger struct{ log *slog.Logger }

func (w warningLogger) HandleWarningHeader(code int, agent, text string) {
	if code == 299 && text != "" {
		w.log.Warn("API server warning", "warning", text)
	}
}
