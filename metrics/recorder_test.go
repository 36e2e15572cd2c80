package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitopskit/gitopskit/metrics"
	"github.com/gitopskit/gitopskit/reconcile"
)

const rev = "main@sha1:0123456789abcdef0123456789abcdef01234567"

func done(unit string, s reconcile.UnitStatus) reconcile.Event {
	s.Name = unit
	return reconcile.Event{Type: reconcile.EventDone, Unit: unit, Stage: reconcile.StageDone, Status: &s}
}

func newRecorder(t *testing.T, opts metrics.Options) (*prometheus.Registry, *metrics.Recorder) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	opts.Registerer = reg
	rec, err := metrics.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return reg, rec
}

func TestRecorderFromEvents(t *testing.T) {
	reg, rec := newRecorder(t, metrics.Options{Configuration: "fleet", Namespace: "cluster-config"})
	h := rec.Chain(nil)
	h(reconcile.Event{Type: reconcile.EventProgress, Unit: "infra", Stage: reconcile.StageFetch})
	h(reconcile.Event{Type: reconcile.EventObject, Unit: "infra", Stage: reconcile.StageApply, Action: "created"})
	h(reconcile.Event{Type: reconcile.EventObject, Unit: "infra", Stage: reconcile.StageApply, Action: "created"})
	h(reconcile.Event{Type: reconcile.EventObject, Unit: "infra", Stage: reconcile.StageHealth, Action: "Current"})
	h(done("infra", reconcile.UnitStatus{Phase: reconcile.PhaseReady, Reason: reconcile.ReasonSucceeded,
		LastAppliedRevision: rev, Duration: 2 * time.Second}))
	h(done("apps", reconcile.UnitStatus{Phase: reconcile.PhaseNotReady, Reason: reconcile.ReasonBuildFailed,
		FluxObject: "Kustomization flux-system/apps", Duration: 50 * time.Millisecond}))
	h(reconcile.Event{Type: reconcile.EventFailed, Stage: reconcile.StageDone, Err: errors.New("records")}) // no unit: ignored

	want := `
# HELP gitopskit_configuration_compliant 1 when every unit of the configuration is Ready, else 0.
# TYPE gitopskit_configuration_compliant gauge
gitopskit_configuration_compliant{configuration="fleet"} 0
# HELP gitopskit_objects_total The objects of a unit by what happened to them in the apply, prune and remove stages.
# TYPE gitopskit_objects_total counter
gitopskit_objects_total{action="created",configuration="fleet",unit="infra"} 2
# HELP gitopskit_reconcile_duration_seconds The duration in seconds of a unit's reconcile.
# TYPE gitopskit_reconcile_duration_seconds histogram
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps",le="0.01"} 0
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps",le="0.1"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps",le="1"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps",le="10"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps",le="100"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps",le="+Inf"} 1
gitopskit_reconcile_duration_seconds_sum{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps"} 0.05
gitopskit_reconcile_duration_seconds_count{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",unit="apps"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra",le="0.01"} 0
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra",le="0.1"} 0
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra",le="1"} 0
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra",le="10"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra",le="100"} 1
gitopskit_reconcile_duration_seconds_bucket{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra",le="+Inf"} 1
gitopskit_reconcile_duration_seconds_sum{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra"} 2
gitopskit_reconcile_duration_seconds_count{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",unit="infra"} 1
# HELP gitopskit_reconcile_total The reconciles of a unit by result (success, failure, pending, suspended).
# TYPE gitopskit_reconcile_total counter
gitopskit_reconcile_total{configuration="fleet",result="failure",unit="apps"} 1
gitopskit_reconcile_total{configuration="fleet",result="success",unit="infra"} 1
# HELP gitopskit_resource_info The state of a unit of the configuration (value 1): its Flux object, readiness, reason, last applied revision and suspension.
# TYPE gitopskit_resource_info gauge
gitopskit_resource_info{configuration="fleet",kind="Kustomization",name="apps",namespace="flux-system",ready="False",reason="BuildFailed",revision="",suspended="false",unit="apps"} 1
gitopskit_resource_info{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",ready="True",reason="ReconciliationSucceeded",revision="` + rev + `",suspended="false",unit="infra"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// apps leaves: its removal removes its series; infra, running, reports
	// the removal of units its build dropped and keeps its own.
	h(reconcile.Event{Type: reconcile.EventProgress, Unit: "infra", Stage: reconcile.StageFetch})
	h(reconcile.Event{Type: reconcile.EventProgress, Unit: "infra", Stage: reconcile.StageRemove, Message: "its build no longer declares apps"})
	h(reconcile.Event{Type: reconcile.EventObject, Unit: "apps", Stage: reconcile.StageRemove, Action: "deleted"})
	h(reconcile.Event{Type: reconcile.EventProgress, Unit: "apps", Stage: reconcile.StageRemove, Message: "unit removed"})
	h(done("infra", reconcile.UnitStatus{Phase: reconcile.PhaseReady, Reason: reconcile.ReasonSucceeded,
		LastAppliedRevision: rev, Duration: time.Second}))
	want = `
# HELP gitopskit_configuration_compliant 1 when every unit of the configuration is Ready, else 0.
# TYPE gitopskit_configuration_compliant gauge
gitopskit_configuration_compliant{configuration="fleet"} 1
# HELP gitopskit_reconcile_total The reconciles of a unit by result (success, failure, pending, suspended).
# TYPE gitopskit_reconcile_total counter
gitopskit_reconcile_total{configuration="fleet",result="success",unit="infra"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.ConfigurationCompliant, metrics.ReconcileTotal); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(rec, metrics.ResourceInfo); n != 1 {
		t.Errorf("%d resource_info series, want 1 (infra)", n)
	}

	// SetStatus drops the units it does not list and keeps counters.
	rec.SetStatus(reconcile.Status{Units: []reconcile.UnitStatus{
		{Name: "infra", Phase: reconcile.PhaseSuspended, Reason: reconcile.ReasonSuspended, LastAppliedRevision: rev},
		{Name: "new", Phase: reconcile.PhasePending, Reason: reconcile.ReasonNotReconciled}}})
	want = `
# HELP gitopskit_resource_info The state of a unit of the configuration (value 1): its Flux object, readiness, reason, last applied revision and suspension.
# TYPE gitopskit_resource_info gauge
gitopskit_resource_info{configuration="fleet",kind="Unit",name="infra",namespace="cluster-config",ready="Unknown",reason="Suspended",revision="` + rev + `",suspended="true",unit="infra"} 1
gitopskit_resource_info{configuration="fleet",kind="Unit",name="new",namespace="cluster-config",ready="Unknown",reason="NotReconciledYet",revision="",suspended="false",unit="new"} 1
# HELP gitopskit_reconcile_total The reconciles of a unit by result (success, failure, pending, suspended).
# TYPE gitopskit_reconcile_total counter
gitopskit_reconcile_total{configuration="fleet",result="success",unit="infra"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.ResourceInfo, metrics.ReconcileTotal); err != nil {
		t.Fatal(err)
	}
}

func TestRecorderOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(metrics.Options{Configuration: "a"}); !errors.Is(err, metrics.ErrInvalidOptions) {
		t.Errorf("no Registerer: %v", err)
	}
	if _, err := metrics.New(metrics.Options{Registerer: reg}); !errors.Is(err, metrics.ErrInvalidOptions) {
		t.Errorf("no Configuration: %v", err)
	}
	if _, err := metrics.New(metrics.Options{Registerer: reg, Configuration: "a"}); err != nil {
		t.Fatal(err)
	}
	var are prometheus.AlreadyRegisteredError
	if _, err := metrics.New(metrics.Options{Registerer: reg, Configuration: "a"}); !errors.As(err, &are) {
		t.Errorf("same configuration twice: %v, want AlreadyRegisteredError", err)
	}
	// The same configuration on two clusters: told apart by ConstLabels.
	fleet := prometheus.NewRegistry()
	for _, c := range []string{"eu-1", "us-1"} {
		if _, err := metrics.New(metrics.Options{Registerer: fleet, Configuration: "a", ConstLabels: prometheus.Labels{"cluster": c}}); err != nil {
			t.Errorf("cluster %s: %v", c, err)
		}
	}
	rec, err := metrics.New(metrics.Options{Registerer: reg, Configuration: "b"})
	if err != nil {
		t.Fatal(err)
	}
	rec.Unregister()
	if _, err := metrics.New(metrics.Options{Registerer: reg, Configuration: "b"}); err != nil {
		t.Errorf("after Unregister: %v", err)
	}
}
