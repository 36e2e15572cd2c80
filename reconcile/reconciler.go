package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/internal/kube"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/source"
)

// Options configure a [Reconciler].
type Options struct {
	// SourceCache keeps a clone per repository and the fetched artifacts.
	// Default: a cache in a temporary directory that [Reconciler.Close]
	// removes. Share one between reconcilers of the same repositories.
	SourceCache *source.Cache
	// BuildCache skips rebuilding an unchanged revision. Default: a new
	// cache of build.DefaultCacheEntries entries.
	BuildCache *build.Cache
	// FieldManager for server-side apply. Default apply.DefaultFieldManager.
	FieldManager string
	// Concurrency bounds the apply requests in flight per unit. Default 8.
	Concurrency int
	// Logger receives debug output. Default: discarded.
	Logger *slog.Logger
	// OnEvent receives progress events. Default: none.
	OnEvent EventHandler
}

// Reconciler reconciles one [Configuration]. Its methods are safe for
// concurrent use; a unit is never reconciled twice at the same time.
type Reconciler struct {
	cfg    *rest.Config
	conf   Configuration
	levels [][]string
	opts   Options
	tmpDir string // removed by Close

	units   map[string]*unitState
	sources map[string]*sourceState

	mapper    *kube.Mapper
	core      kubernetes.Interface
	nsMu      sync.Mutex
	nsEnsured bool

	recMu     sync.Mutex // guards recLoaded and removed
	recLoaded bool
	removed   map[string]recordUnit // units in the record, not in the configuration

	mu       sync.Mutex // guards managers, waiters, helm and cleanup
	managers map[string]*apply.Manager
	waiters  map[string]*health.Waiter
	helm     *helmrelease.Reconciler
	cleanup  []string // temporary directories removed by Close
}

type unitState struct {
	spec  Unit
	run   sync.Mutex // held while the unit reconciles
	mu    sync.Mutex // guards status
	state UnitStatus
	store *inventory.Store
}

type sourceState struct {
	spec     Source
	mu       sync.Mutex
	artifact *source.Artifact // last fetched
}

// New checks the configuration (names, sources, dependencies: a cycle or a
// missing dependency is a [*ConfigError]) and returns a Reconciler that
// applies with cfg. Nothing is contacted until [Reconciler.Run] or
// [Reconciler.Start].
func New(cfg *rest.Config, conf Configuration, opts Options) (*Reconciler, error) {
	conf.Units = append([]Unit(nil), conf.Units...)
	levels, err := conf.normalize()
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BuildCache == nil {
		opts.BuildCache = build.NewCache(0)
	}
	r := &Reconciler{
		cfg: kube.Config(cfg), conf: conf, levels: levels, opts: opts,
		units: map[string]*unitState{}, sources: map[string]*sourceState{},
		managers: map[string]*apply.Manager{}, waiters: map[string]*health.Waiter{},
	}
	if opts.SourceCache == nil {
		if r.tmpDir, err = os.MkdirTemp("", "gitopskit-sources-"); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		if r.opts.SourceCache, err = source.NewCache(r.tmpDir); err != nil {
			return nil, err
		}
	}
	hc, err := kube.HTTPClient(r.cfg)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	if r.mapper, err = kube.NewMapper(r.cfg, hc); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	if r.core, err = kubernetes.NewForConfigAndClient(r.cfg, hc); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	for _, s := range conf.Sources {
		r.sources[s.Name] = &sourceState{spec: s}
	}
	for _, u := range conf.Units {
		store, err := inventory.NewStore(r.cfg, inventory.StoreOptions{Name: conf.Name + "-" + u.Name, Namespace: conf.Namespace})
		if err != nil {
			return nil, &ConfigError{Configuration: conf.Name, Err: fmt.Errorf("unit %q: %w", u.Name, err)}
		}
		st := &unitState{spec: u, store: store}
		st.state = UnitStatus{Name: u.Name, Phase: PhasePending, Reason: ReasonNotReconciled,
			Message: "not reconciled yet", DependsOn: u.DependsOn}
		if u.Suspend {
			st.state.Phase, st.state.Reason, st.state.Message = PhaseSuspended, ReasonSuspended, "suspended"
		}
		r.units[u.Name] = st
	}
	return r, nil
}

// Close removes the temporary caches New and the Helm units made.
func (r *Reconciler) Close() error {
	r.mu.Lock()
	dirs := append(r.cleanup, r.tmpDir)
	r.cleanup = nil
	r.mu.Unlock()
	var errs []error
	for _, d := range dirs {
		if d != "" {
			errs = append(errs, os.RemoveAll(d))
		}
	}
	return errors.Join(errs...)
}

// Status returns the current compliance state, units in dependency order.
func (r *Reconciler) Status() Status {
	var s Status
	for _, level := range r.levels {
		for _, name := range level {
			s.Units = append(s.Units, r.units[name].status())
		}
	}
	return s
}

func (st *unitState) status() UnitStatus {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.state
	s.DependsOn = append([]string(nil), s.DependsOn...)
	return s
}

func (st *unitState) setStatus(s UnitStatus) {
	st.mu.Lock()
	st.state = s
	st.mu.Unlock()
}

func (r *Reconciler) emit(e Event) {
	if r.opts.OnEvent == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.opts.OnEvent(e)
}

// ensureNamespace creates the configuration's namespace when missing.
func (r *Reconciler) ensureNamespace(ctx context.Context) error {
	r.nsMu.Lock()
	defer r.nsMu.Unlock()
	if r.nsEnsured {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.conf.Namespace}}
	_, err := r.core.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: r.fieldManager()})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("reconcile: create namespace %s for the configuration's records: %w", r.conf.Namespace, err)
	}
	r.nsEnsured = true
	return nil
}

// forgetNamespace makes the next reconcile check the configuration's
// namespace again, in case it was deleted.
func (r *Reconciler) forgetNamespace() {
	r.nsMu.Lock()
	r.nsEnsured = false
	r.nsMu.Unlock()
}

func (r *Reconciler) fieldManager() string {
	if r.opts.FieldManager != "" {
		return r.opts.FieldManager
	}
	return apply.DefaultFieldManager
}

// clientsFor returns the apply manager and health waiter of a unit, which
// impersonate its service account when it names one.
func (r *Reconciler) clientsFor(u Unit) (*apply.Manager, *health.Waiter, error) {
	key := u.ServiceAccountName + "\x00" + u.Name
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.managers[key]; ok {
		return m, r.waiters[key], nil
	}
	cfg := rest.CopyConfig(r.cfg)
	if u.ServiceAccountName != "" {
		cfg.Impersonate = rest.ImpersonationConfig{
			UserName: "system:serviceaccount:" + r.conf.Namespace + ":" + u.ServiceAccountName,
		}
	}
	m, err := apply.NewManager(cfg, apply.ManagerOptions{FieldManager: r.fieldManager(), Logger: r.opts.Logger})
	if err != nil {
		return nil, nil, err
	}
	w, err := health.NewWaiter(cfg, health.WaiterOptions{Checks: u.HealthChecks, Logger: r.opts.Logger})
	if err != nil {
		return nil, nil, err
	}
	r.managers[key], r.waiters[key] = m, w
	return m, w, nil
}

// fetch returns the source's artifact at the revision the remote has now,
// fetching only when the remote moved since the last fetch.
func (r *Reconciler) fetch(ctx context.Context, name string) (*source.Artifact, error) {
	ss := r.sources[name]
	ss.mu.Lock()
	defer ss.mu.Unlock()
	opts := source.Options{Ref: ss.spec.Ref, Auth: ss.spec.Auth, Ignore: ss.spec.Ignore, Verify: ss.spec.Verify,
		Cache: r.opts.SourceCache}
	if ss.artifact != nil {
		opts.LastRevision = ss.artifact.Revision
	}
	timeout := ss.spec.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := source.Fetch(ctx, ss.spec.URL, opts)
	if err != nil {
		return nil, err
	}
	if !res.Unchanged {
		ss.artifact = res.Artifact
	}
	if ss.artifact == nil {
		return nil, errors.New("reconcile: source reported unchanged without a previous artifact")
	}
	a := *ss.artifact
	return &a, nil
}
