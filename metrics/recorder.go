package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Metric names.
const (
	ResourceInfo           = "gitopskit_resource_info"
	ConfigurationCompliant = "gitopskit_configuration_compliant"
	ReconcileDuration      = "gitopskit_reconcile_duration_seconds"
	ReconcileTotal         = "gitopskit_reconcile_total"
	ObjectsTotal           = "gitopskit_objects_total"
	APIRequestsTotal       = "gitopskit_api_requests_total"
)

// The values of the result label of [ReconcileTotal].
const (
	ResultSuccess   = "success"
	ResultFailure   = "failure"
	ResultPending   = "pending"
	ResultSuspended = "suspended"
)

// KindUnit is the kind label of a unit declared in Go (not from a Flux
// object).
const KindUnit = "Unit"

// DefaultDurationBuckets returns the buckets of [ReconcileDuration] when
// [Options.DurationBuckets] is empty: Flux's, 10ms to 100s by powers of 10.
func DefaultDurationBuckets() []float64 { return prometheus.ExponentialBuckets(0.01, 10, 5) }

// ErrInvalidOptions is wrapped by the errors of [New] for missing or bad
// options.
var ErrInvalidOptions = errors.New("metrics: invalid options")

// Options configure a [Recorder].
type Options struct {
	// Registerer receives the Recorder's collectors. Required: there is no
	// global default.
	Registerer prometheus.Registerer
	// Configuration is the name of the configuration whose events the
	// Recorder is given, the value of every metric's configuration label.
	// Required.
	Configuration string
	// Namespace is the namespace label of units declared in Go, usually
	// the configuration's namespace. Units from Flux objects carry their
	// object's namespace.
	Namespace string
	// ConstLabels are added to every metric, for instance {"cluster":
	// "eu-1"} when a process reconciles onto several clusters and
	// registers their Recorders with one registry. The Recorders of one
	// Registerer must all set the same label names.
	ConstLabels prometheus.Labels
	// Cluster, when set, has its API requests exposed as
	// [APIRequestsTotal] (with ConstLabels, without configuration). Several
	// Recorders may pass the same Cluster to one Registerer: it is
	// registered once.
	Cluster *cluster.Cluster
	// DurationBuckets of [ReconcileDuration]. Default
	// [DefaultDurationBuckets].
	DurationBuckets []float64
}

// Recorder turns the events of one configuration's reconciler into
// Prometheus metrics. Its methods are safe for concurrent use.
type Recorder struct {
	opts       Options
	collectors []prometheus.Collector // registered by New

	info, compliant, duration, results, objects *prometheus.Desc

	mu    sync.Mutex
	units map[string]*unitMetrics
}

// unitMetrics is what the Recorder knows of one unit.
type unitMetrics struct {
	status  *reconcile.UnitStatus // from the last Done event; nil before
	running bool                  // an event came since the last Done
	results map[string]uint64     // result -> count
	objects map[string]uint64     // action -> count

	count   uint64
	sum     float64
	buckets []uint64 // per upper bound, not cumulative
}

// New returns a Recorder registered with opts.Registerer. Registering
// two Recorders of the same configuration and ConstLabels with one
// Registerer fails (prometheus.AlreadyRegisteredError).
func New(opts Options) (*Recorder, error) {
	if opts.Registerer == nil {
		return nil, fmt.Errorf("%w: no Registerer", ErrInvalidOptions)
	}
	if opts.Configuration == "" {
		return nil, fmt.Errorf("%w: no Configuration", ErrInvalidOptions)
	}
	if len(opts.DurationBuckets) == 0 {
		opts.DurationBuckets = DefaultDurationBuckets()
	}
	opts.DurationBuckets = slices.Clone(opts.DurationBuckets)
	if !slices.IsSorted(opts.DurationBuckets) {
		return nil, fmt.Errorf("%w: DurationBuckets not in increasing order", ErrInvalidOptions)
	}
	constLabels := maps.Clone(opts.ConstLabels)
	if constLabels == nil {
		constLabels = prometheus.Labels{}
	}
	if _, ok := constLabels["configuration"]; ok {
		return nil, fmt.Errorf("%w: ConstLabels may not set configuration", ErrInvalidOptions)
	}
	constLabels["configuration"] = opts.Configuration
	unitObject := []string{"unit", "kind", "name", "namespace"}
	r := &Recorder{
		opts:  opts,
		units: map[string]*unitMetrics{},
		info: prometheus.NewDesc(ResourceInfo,
			"The state of a unit of the configuration (value 1): its Flux object, readiness, reason, last applied revision and suspension.",
			append(slices.Clone(unitObject), "ready", "reason", "revision", "suspended"), constLabels),
		compliant: prometheus.NewDesc(ConfigurationCompliant,
			"1 when every unit of the configuration is Ready, else 0.", nil, constLabels),
		duration: prometheus.NewDesc(ReconcileDuration,
			"The duration in seconds of a unit's reconcile.", unitObject, constLabels),
		results: prometheus.NewDesc(ReconcileTotal,
			"The reconciles of a unit by result (success, failure, pending, suspended).", []string{"unit", "result"}, constLabels),
		objects: prometheus.NewDesc(ObjectsTotal,
			"The objects of a unit by what happened to them in the apply, prune and remove stages.", []string{"unit", "action"}, constLabels),
	}
	if err := opts.Registerer.Register(r); err != nil {
		return nil, fmt.Errorf("metrics: register the recorder of configuration %q: %w", opts.Configuration, err)
	}
	r.collectors = append(r.collectors, r)
	if opts.Cluster != nil {
		cc := NewClusterCollector(opts.Cluster, opts.ConstLabels)
		err := opts.Registerer.Register(cc)
		var are prometheus.AlreadyRegisteredError
		switch {
		case err == nil:
			r.collectors = append(r.collectors, cc)
		case errors.As(err, &are) && sameCluster(are.ExistingCollector, opts.Cluster):
			// another Recorder of the same cluster registered it
		default:
			opts.Registerer.Unregister(r)
			return nil, fmt.Errorf("metrics: register the API requests of the cluster: %w", err)
		}
	}
	return r, nil
}

// Unregister removes the Recorder's collectors from the Registerer, for a
// configuration that is no longer reconciled.
func (r *Recorder) Unregister() {
	for _, c := range r.collectors {
		r.opts.Registerer.Unregister(c)
	}
}

// Chain returns an event handler that gives each event to the Recorder,
// then to each of next (nil ones skipped), for [reconcile.Options.OnEvent].
func (r *Recorder) Chain(next ...reconcile.EventHandler) reconcile.EventHandler {
	next = slices.DeleteFunc(slices.Clone(next), func(h reconcile.EventHandler) bool { return h == nil })
	return func(e reconcile.Event) {
		r.Handle(e)
		for _, h := range next {
			h(e)
		}
	}
}

// Handle records an event; give it to [reconcile.Options.OnEvent]. It is
// quick (no I/O) and safe for concurrent use.
func (r *Recorder) Handle(e reconcile.Event) {
	if e.Unit == "" {
		return // the configuration's records, not a unit
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.units[e.Unit]
	if e.Stage == reconcile.StageRemove && e.Type == reconcile.EventProgress && (u == nil || !u.running) {
		// The unit left the configuration and its removal is done. (A
		// running unit reporting the removal of units its build no longer
		// declares is not removed itself.)
		delete(r.units, e.Unit)
		return
	}
	if u == nil {
		u = &unitMetrics{results: map[string]uint64{}, objects: map[string]uint64{},
			buckets: make([]uint64, len(r.opts.DurationBuckets))}
		r.units[e.Unit] = u
	}
	switch e.Type {
	case reconcile.EventDone:
		u.running = false
		if e.Status == nil {
			return
		}
		s := *e.Status
		u.status = &s
		u.results[resultOf(s.Phase)]++
		secs := s.Duration.Seconds()
		u.count++
		u.sum += secs
		if i := sort.SearchFloat64s(r.opts.DurationBuckets, secs); i < len(u.buckets) {
			u.buckets[i]++
		}
		return
	case reconcile.EventObject:
		switch e.Stage {
		case reconcile.StageApply, reconcile.StagePrune, reconcile.StageRemove:
			if e.Action != "" {
				u.objects[e.Action]++
			}
		}
	}
	if e.Stage != reconcile.StageRemove {
		u.running = true
	}
}

// SetStatus sets the state of every unit from s (a reconciler's
// [reconcile.Reconciler.Status]) and drops the units s does not list, with
// their series. Counters of the units kept are kept.
func (r *Recorder) SetStatus(s reconcile.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := map[string]bool{}
	for _, us := range s.Units {
		keep[us.Name] = true
		u := r.units[us.Name]
		if u == nil {
			u = &unitMetrics{results: map[string]uint64{}, objects: map[string]uint64{},
				buckets: make([]uint64, len(r.opts.DurationBuckets))}
			r.units[us.Name] = u
		}
		us := us
		u.status = &us
	}
	maps.DeleteFunc(r.units, func(name string, _ *unitMetrics) bool { return !keep[name] })
}

func resultOf(p reconcile.Phase) string {
	switch p {
	case reconcile.PhaseReady:
		return ResultSuccess
	case reconcile.PhasePending:
		return ResultPending
	case reconcile.PhaseSuspended:
		return ResultSuspended
	default:
		return ResultFailure
	}
}

// readyOf is the status of Flux's Ready condition for a phase.
func readyOf(p reconcile.Phase) string {
	switch p {
	case reconcile.PhaseReady:
		return "True"
	case reconcile.PhaseNotReady:
		return "False"
	default:
		return "Unknown"
	}
}

// objectOf returns the kind, name and namespace labels of a unit.
func (r *Recorder) objectOf(unit string, s *reconcile.UnitStatus) (kind, name, namespace string) {
	if s != nil && s.FluxObject != "" {
		kind, ref, _ := strings.Cut(s.FluxObject, " ")
		ns, name, ok := strings.Cut(ref, "/")
		if !ok {
			return kind, ref, ""
		}
		return kind, name, ns
	}
	return KindUnit, unit, r.opts.Namespace
}

// Describe implements [prometheus.Collector].
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.info
	ch <- r.compliant
	ch <- r.duration
	ch <- r.results
	ch <- r.objects
}

// Collect implements [prometheus.Collector].
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	compliant := len(r.units) > 0
	for _, name := range slices.Sorted(maps.Keys(r.units)) {
		u := r.units[name]
		s := u.status
		if s == nil || s.Phase != reconcile.PhaseReady {
			compliant = false
		}
		kind, objName, ns := r.objectOf(name, s)
		if s != nil {
			ch <- prometheus.MustNewConstMetric(r.info, prometheus.GaugeValue, 1, name, kind, objName, ns,
				readyOf(s.Phase), s.Reason, s.LastAppliedRevision, fmt.Sprint(s.Phase == reconcile.PhaseSuspended))
		}
		if u.count > 0 {
			buckets := make(map[float64]uint64, len(u.buckets))
			var cum uint64
			for i, ub := range r.opts.DurationBuckets {
				cum += u.buckets[i]
				buckets[ub] = cum
			}
			ch <- prometheus.MustNewConstHistogram(r.duration, u.count, u.sum, buckets, name, kind, objName, ns)
		}
		for result, n := range u.results {
			ch <- prometheus.MustNewConstMetric(r.results, prometheus.CounterValue, float64(n), name, result)
		}
		for action, n := range u.objects {
			ch <- prometheus.MustNewConstMetric(r.objects, prometheus.CounterValue, float64(n), name, action)
		}
	}
	ch <- prometheus.MustNewConstMetric(r.compliant, prometheus.GaugeValue, boolValue(compliant))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
