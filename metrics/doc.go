// Package metrics exposes Prometheus metrics of a reconciler: the
// compliance state of every unit and of the configuration, the reconcile
// durations and results, the objects changed, and the API requests made.
//
// # Recorder
//
// A [Recorder] turns the events of one configuration's reconciler into
// metrics, registered with the [github.com/prometheus/client_golang/prometheus.Registerer] the embedder passes
// (never a global one). Give its [Recorder.Handle] to the reconciler, alone
// or chained with another handler ([Recorder.Chain]):
//
//	reg := prometheus.NewRegistry()
//	rec, err := metrics.New(metrics.Options{Registerer: reg, Configuration: "fleet", Cluster: c})
//	...
//	r, err := reconcile.New(c, conf, reconcile.Options{OnEvent: rec.Chain(sink.Handle)})
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Metrics
//
// Names follow Flux's where Flux has one (gotk_ becomes gitopskit_), so
// dashboards and alerts written for Flux carry over with the prefix
// changed, and Prometheus' naming rules (base units, _total for counters,
// _info for metadata with the value 1). Every metric carries the
// configuration label (and [Options.ConstLabels], such as a cluster name
// for a fleet), the API request counter excepted, which is per cluster.
//
//	gitopskit_resource_info{configuration, unit, kind, name, namespace, ready, reason, revision, suspended} 1
//	    one per unit that has reconciled: like Flux's gotk_resource_info (kube-state-metrics).
//	    kind, name, namespace are the Flux object the unit comes from; for a unit declared in
//	    Go, kind "Unit", the unit's name and [Options.Namespace]. ready is "True", "False"
//	    or "Unknown" (pending or suspended), reason the unit's reason, revision its last
//	    applied revision, suspended "true" or "false".
//	gitopskit_configuration_compliant{configuration} 1 when every unit is Ready, else 0
//	gitopskit_reconcile_duration_seconds{configuration, unit, kind, name, namespace}
//	    histogram of the units' reconciles, as Flux's gotk_reconcile_duration_seconds
//	gitopskit_reconcile_total{configuration, unit, result}
//	    reconciles by result: "success", "failure", "pending" (a dependency not ready),
//	    "suspended"
//	gitopskit_objects_total{configuration, unit, action}
//	    objects by what happened to them in the apply, prune and remove stages: created,
//	    configured, unchanged, deleted, orphaned, skipped, failed
//	gitopskit_api_requests_total{verb, code}
//	    API requests of [Options.Cluster] by verb and HTTP status code ("0": no response)
//
// Like Flux's, the namespace label names the object's namespace; when the
// scraped target has a namespace label of its own, Prometheus renames ours
// to exported_namespace, as it does for Flux's metrics.
//
// # Units that leave
//
// A unit removed from the configuration (its removal reported by a
// "remove" stage event) loses every series. [Recorder.SetStatus] sets the
// units from a [github.com/gitopskit/gitopskit/reconcile.Status] instead, dropping the units it does not
// list: call it with the reconciler's Status after a run.
package metrics
