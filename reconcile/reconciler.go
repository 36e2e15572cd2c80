package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/source"
)

// Options configure a [Reconciler].
type Options struct {
	// SourceCache keeps a clone per repository and the fetched artifacts.
	// Default: a cache in a temporary directory that [Reconciler.Close]
	// removes. Share one between reconcilers of the same repositories.
	SourceCache *source.Cache
	// BuildCache skips rebuilding an unchanged revision. Default: a cache
	// with room for every unit of the configuration, so that a no-op never
	// rebuilds. A cache passed here should be at least that large.
	BuildCache *build.Cache
	// FieldManager for server-side apply. Default apply.DefaultFieldManager.
	FieldManager string
	// Workers bounds the units reconciled at the same time (a unit holds a
	// worker from its build to the end of its prune; its wait for health,
	// served by shared watches, holds none). Default: 4 per CPU
	// (GOMAXPROCS), at least 8, since units mostly wait on the API server.
	Workers int
	// Concurrency bounds the requests in flight per unit and stage.
	// Default 8. The cluster's request budget ([cluster.Options]) bounds
	// them across units.
	Concurrency int
	// ApprovePrune, when set, is asked before a unit deletes objects that
	// left Git (not for dry runs); an error refuses the prune and the unit
	// is NotReady with [ReasonPruneFailed]. For a human in the loop.
	ApprovePrune func(ctx context.Context, unit string, deletions []inventory.Entry) error
	// Logger receives debug output. Default: discarded.
	Logger *slog.Logger
	// OnEvent receives progress and per-object events. Default: none.
	OnEvent EventHandler
	// FluxObjects says what to do with the Flux objects found in builds:
	// reconcile them as units of the configuration (the default) or apply
	// them for an installed Flux.
	FluxObjects FluxObjectPolicy
	// MaxDepth bounds the nesting of Flux units declared by builds: a
	// unit of the configuration is at depth 0, a unit its build declares
	// at 1. Default [DefaultMaxDepth].
	MaxDepth int
}

// Reconciler reconciles one [Configuration] through one [cluster.Cluster].
// Its methods are safe for concurrent use; a unit is never reconciled twice
// at the same time.
type Reconciler struct {
	cluster *cluster.Cluster
	conf    Configuration
	order   []string // units in dependency order
	opts    Options
	tmpDir  string // removed by Close

	graphMu sync.RWMutex // guards units, sources and order
	units   map[string]*unitState
	// children indexes units by the unit whose build declared them.
	children map[string]map[string]bool
	sources  map[string]*sourceState

	fluxMu sync.Mutex  // held from declare to adopt
	flux   *fluxLoader // the Flux objects of the configuration and its builds

	offline *offlineState // set for Render: no cluster
	// ledger keeps the units' inventories; nil offline.
	ledger *inventory.Ledger

	nsMu      sync.Mutex
	nsEnsured bool

	recMu     sync.Mutex // guards recLoaded, removed and existed
	recLoaded bool
	removed   map[string]recordUnit // units in the record, not in the configuration
	existed   map[string]bool       // units the record says applied something
	// dormant are units the record says a build declared, not declared
	// again yet by this process.
	dormant map[string]recordUnit
	remMu   sync.Mutex // held while removing units
	saveMu  sync.Mutex // orders the writes of the record

	claimMu    sync.Mutex
	claims     map[inventory.ID]string // object -> the unit that declares it
	unitClaims map[string][]inventory.ID

	composed composedTrees // the trees of units with Compose

	mu         sync.Mutex // guards identities, cleanup and planCharts
	identities map[string]*identity
	cleanup    []string // temporary directories removed by Close
	planCharts string   // the chart cache of plans' Helm renderings
}

// identity is what acts for the units of one service account (or for the
// reconciler itself).
type identity struct {
	cluster *cluster.Cluster
	manager *apply.Manager
	helm    *helmrelease.Reconciler // made on first use
}

type unitState struct {
	store *inventory.LedgerUnit // nil offline
	// parent is the unit whose build declared this one ("" for a unit of
	// the configuration); depth counts the declarations above it.
	parent string
	depth  int
	run    sync.Mutex // held while the unit reconciles
	mu     sync.Mutex // guards spec and state
	spec   Unit       // replaced when the parent declares it anew
	state  UnitStatus
}

// specOf returns the unit's current declaration.
func (st *unitState) specOf() Unit {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.spec
}

type sourceState struct {
	spec       Source
	declaredBy string           // the unit whose build declared it
	mu         sync.Mutex       // held during a fetch
	artifact   *source.Artifact // last fetched

	// last is what Status reports; its own lock, so that Status never
	// waits for a fetch.
	lastMu sync.Mutex
	last   SourceStatus
}

func (ss *sourceState) status(name string) SourceStatus {
	ss.lastMu.Lock()
	s := ss.last
	ss.lastMu.Unlock()
	s.Name, s.DeclaredBy = name, ss.declaredBy
	if s.LastFetched.IsZero() {
		s.Message = "not fetched yet"
	}
	return s
}

// fetched records the outcome of a fetch for Status.
func (ss *sourceState) fetched(err error) {
	s := SourceStatus{URL: source.RedactURL(ss.spec.URL), LastFetched: time.Now(), Ready: err == nil && ss.artifact != nil}
	if ss.artifact != nil {
		s.Revision = ss.artifact.Revision
	}
	if err != nil {
		s.Message = err.Error()
	}
	ss.lastMu.Lock()
	ss.last = s
	ss.lastMu.Unlock()
}

// New checks the configuration (names, sources, dependencies: a cycle or a
// missing dependency is a [*ConfigError]) and returns a Reconciler acting
// through c. Records and inventories are read and written as c's identity;
// a unit's objects as its service account's, when it names one. Nothing is
// contacted until [Reconciler.Run], [Reconciler.Start] or [Reconciler.Plan].
func New(c *cluster.Cluster, conf Configuration, opts Options) (*Reconciler, error) {
	if c == nil {
		return nil, &ConfigError{Configuration: conf.Name, Err: errors.New("nil cluster")}
	}
	return newEngine(c, conf, opts, nil)
}

// newEngine is New, and with a nil cluster and an offline state the engine
// of [Render].
func newEngine(c *cluster.Cluster, conf Configuration, opts Options, offline *offlineState) (*Reconciler, error) {
	conf.Units = slices.Clone(conf.Units)
	levels, err := conf.normalize()
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.Workers <= 0 {
		opts.Workers = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if opts.BuildCache == nil {
		opts.BuildCache = build.NewCache(len(conf.Units) + len(conf.Units)/4 + 8)
	}
	r := &Reconciler{
		cluster: c, conf: conf, opts: opts, offline: offline,
		units: map[string]*unitState{}, children: map[string]map[string]bool{}, sources: map[string]*sourceState{},
		identities: map[string]*identity{},
		claims:     map[inventory.ID]string{}, unitClaims: map[string][]inventory.ID{},
	}
	for _, level := range levels {
		r.order = append(r.order, level...)
	}
	if offline == nil {
		if r.ledger, err = inventory.NewLedger(c, inventory.LedgerOptions{Name: conf.Name, Namespace: conf.Namespace}); err != nil {
			return nil, &ConfigError{Configuration: conf.Name, Err: err}
		}
	}
	if opts.SourceCache == nil {
		if r.tmpDir, err = os.MkdirTemp("", "gitopskit-sources-"); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		if r.opts.SourceCache, err = source.NewCache(r.tmpDir); err != nil {
			return nil, err
		}
	}
	for _, s := range conf.Sources {
		r.sources[s.Name] = &sourceState{spec: s}
	}
	for _, u := range conf.Units {
		store, err := r.newStore(u.Name)
		if err != nil {
			return nil, &ConfigError{Configuration: conf.Name, Err: fmt.Errorf("unit %q: %w", u.Name, err)}
		}
		st := &unitState{spec: u, store: store}
		st.state = newUnitStatus(u, "")
		r.units[u.Name] = st
	}
	if conf.flux != nil {
		r.flux = conf.flux.clone()
	} else {
		r.flux = newFluxLoader(r.fluxOptions(), conf.Namespace)
	}
	if r.flux.opts.SecretData == nil {
		r.flux.opts.SecretData = r.readSecret
	}
	r.flux.engine = true
	return r, nil
}

func newUnitStatus(u Unit, parent string) UnitStatus {
	s := UnitStatus{Name: u.Name, Phase: PhasePending, Reason: ReasonNotReconciled,
		Message: "not reconciled yet", DependsOn: u.DependsOn, DeclaredBy: parent, FluxObject: u.FluxObject}
	if u.Suspend {
		s.Phase, s.Reason, s.Message = PhaseSuspended, ReasonSuspended, "suspended"
	}
	return s
}

func (r *Reconciler) inventoryName(unit string) string { return r.conf.Name + "-" + unit }

// newStore returns the unit's inventory store; nil offline.
func (r *Reconciler) newStore(unit string) (*inventory.LedgerUnit, error) {
	if r.ledger == nil {
		return nil, nil
	}
	return r.ledger.Unit(r.inventoryName(unit))
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
	r.graphMu.RLock()
	defer r.graphMu.RUnlock()
	var s Status
	for _, name := range r.order {
		s.Units = append(s.Units, r.units[name].status())
	}
	s.Sources = r.sourceStatuses()
	return s
}

// sourceStatuses returns every source's status, by name. r.graphMu is held.
// A source no kustomize unit builds from (an OCIRepository or
// GitRepository of HelmReleases' charts only) is never fetched as a
// source: its message says so instead of "not fetched yet".
func (r *Reconciler) sourceStatuses() []SourceStatus {
	used := map[string]bool{}
	for _, st := range r.units {
		if u := st.specOf(); u.Helm == nil || u.Helm.Chart.RepoURL == "" {
			used[u.Source] = true
		}
	}
	var out []SourceStatus
	for _, name := range slices.Sorted(maps.Keys(r.sources)) {
		s := r.sources[name].status(name)
		if s.LastFetched.IsZero() && !used[name] {
			s.Message = "no kustomize unit builds from it: the Helm units that use its charts fetch them"
		}
		out = append(out, s)
	}
	return out
}

func (st *unitState) status() UnitStatus {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.state
	s.DependsOn = slices.Clone(s.DependsOn)
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
	_, err := r.cluster.Kubernetes().CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: r.fieldManager()})
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

// userOf returns the user a unit with service account sa of namespace ns
// acts as ("" for the reconciler's own identity). An empty namespace is the
// configuration's.
func (r *Reconciler) userOf(ns, sa string) string {
	if sa == "" {
		return ""
	}
	if ns == "" {
		ns = r.conf.Namespace
	}
	return cluster.ServiceAccountUser(ns, sa)
}

// identityFor returns what acts as user; "" is the reconciler itself.
func (r *Reconciler) identityFor(user string) (*identity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.identities[user]; ok {
		return id, nil
	}
	c, err := r.cluster.As(user)
	if err != nil {
		return nil, err
	}
	m, err := apply.NewManager(c, apply.ManagerOptions{FieldManager: r.fieldManager(), Logger: r.opts.Logger})
	if err != nil {
		return nil, err
	}
	id := &identity{cluster: c, manager: m}
	r.identities[user] = id
	return id, nil
}

// helmFor returns the Helm reconciler acting as user, admitting rendered
// objects with admit.
func (r *Reconciler) helmFor(user string) (*helmrelease.Reconciler, error) {
	id, err := r.identityFor(user)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id.helm != nil {
		return id.helm, nil
	}
	dir, err := os.MkdirTemp("", "gitopskit-charts-")
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	r.cleanup = append(r.cleanup, dir)
	hr, err := helmrelease.NewReconciler(id.cluster, helmrelease.Options{
		CacheDir: dir, Logger: r.opts.Logger, FieldManager: r.fieldManager(),
		Admit: admitFromContext,
	})
	if err != nil {
		return nil, err
	}
	id.helm = hr
	return hr, nil
}

// fetch returns the source's artifact at the revision the remote has now,
// fetching only when the remote moved since the last fetch.
func (r *Reconciler) fetch(ctx context.Context, name string) (*source.Artifact, error) {
	ss := r.source(name)
	if ss == nil {
		return nil, fmt.Errorf("reconcile: no source %q in the configuration", name)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	last := ""
	if ss.artifact != nil {
		last = ss.artifact.Revision
	}
	timeout := ss.spec.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		res *source.Result
		err error
	)
	if spec := ss.spec; spec.isOCI() {
		opts := source.OCIOptions{Auth: spec.Auth, Ignore: spec.Ignore, Limits: spec.Limits, Cache: r.opts.SourceCache, LastRevision: last}
		if spec.OCI != nil {
			opts.Ref, opts.MediaType, opts.PlainHTTP = spec.OCI.Ref, spec.OCI.MediaType, spec.OCI.PlainHTTP
		}
		res, err = source.FetchOCI(ctx, spec.URL, opts)
	} else {
		res, err = source.Fetch(ctx, spec.URL, source.Options{Ref: spec.Ref, Auth: spec.Auth, Ignore: spec.Ignore, Verify: spec.Verify,
			Limits: spec.Limits, Cache: r.opts.SourceCache, LastRevision: last})
	}
	if err != nil {
		ss.fetched(err)
		return nil, err
	}
	if !res.Unchanged {
		ss.artifact = res.Artifact
	}
	ss.fetched(nil)
	if ss.artifact == nil {
		return nil, errors.New("reconcile: source reported unchanged without a previous artifact")
	}
	a := *ss.artifact
	return &a, nil
}
