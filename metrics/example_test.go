package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/metrics"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Expose the metrics of a reconciler on /metrics, from a registry of the
// program's own.
func ExampleNew() {
	var cfg *rest.Config // from clientcmd, ctrl.GetConfig, or gitopstest in tests
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	conf := reconcile.Configuration{Name: "fleet", Namespace: "cluster-config" /* sources and units */}
	reg := prometheus.NewRegistry()
	rec, err := metrics.New(metrics.Options{Registerer: reg, Configuration: conf.Name, Namespace: conf.Namespace, Cluster: c})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := reconcile.New(c, conf, reconcile.Options{OnEvent: rec.Handle})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go func() { _ = http.ListenAndServe("127.0.0.1:8080", mux) }()
	_ = r.Start(context.Background())
}

// The metrics of a unit after one successful reconcile.
func ExampleRecorder_Handle() {
	reg := prometheus.NewRegistry()
	rec, err := metrics.New(metrics.Options{Registerer: reg, Configuration: "fleet", Namespace: "cluster-config"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// What a reconciler gives its OnEvent handler.
	rec.Handle(reconcile.Event{Type: reconcile.EventObject, Unit: "infra", Stage: reconcile.StageApply, Action: "created"})
	rec.Handle(reconcile.Event{Type: reconcile.EventDone, Unit: "infra", Stage: reconcile.StageDone,
		Status: &reconcile.UnitStatus{Name: "infra", Phase: reconcile.PhaseReady, Reason: reconcile.ReasonSucceeded,
			LastAppliedRevision: "main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1", Duration: 3 * time.Second}})

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == metrics.ReconcileDuration {
			continue // buckets: long
		}
		mf.Help = nil
		_, _ = expfmt.MetricFamilyToText(os.Stdout, mf)
	}
	// Output:
	// # TYPE gitopskit_configuration_compliant gauge
	// gitopskit_configuration_compliant{configuration="fleet"} 1
	// # TYPE gitopskit_objects_total counter
	// gitopskit_objects_total{action="created",configuration="fleet",unit="infra"} 1
	// # TYPE gitopskit_reconcile_total counter
	// gitopskit_reconcile_total{configuration="fleet",result="success",unit="infra"} 1
	// # TYPE gitopskit_resource_info gauge
	// gitopskit_resource_info{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",ready="True",reason="ReconciliationSucceeded",revision="main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1",suspended="false",unit="infra"} 1
}

// Give the events to the Recorder and to another handler.
func ExampleRecorder_Chain() {
	reg := prometheus.NewRegistry()
	rec, _ := metrics.New(metrics.Options{Registerer: reg, Configuration: "fleet"})
	failures := 0
	onEvent := rec.Chain(func(e reconcile.Event) {
		if e.Type == reconcile.EventFailed {
			failures++
		}
	})
	onEvent(reconcile.Event{Type: reconcile.EventFailed, Unit: "infra", Stage: reconcile.StageBuild})
	fmt.Println(failures)
	// Output: 1
}
