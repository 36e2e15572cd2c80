package metrics_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/metrics"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// shared is a bare API server: the units apply ConfigMaps, which are Ready
// as soon as they exist.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// TestRecorderScrapesReconciles reconciles a unit that succeeds and one
// that fails (a path missing from the repository), twice (the second a
// no-op), then drops the failing unit, and scrapes the metrics after each.
func TestRecorderScrapesReconciles(t *testing.T) {
	cfg := shared.Get(t).Config
	ns := gitopstest.CreateNamespace(t, cfg)
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "metrics")
	cm := func(name string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {a: b}\n", name, ns)
	}
	sha := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/a.yaml": cm("a"), "app/b.yaml": cm("b")}, Message: "two ConfigMaps"})
	revision := "main@sha1:" + sha

	conf := reconcile.Configuration{
		Name: "metrics", Namespace: ns,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL(), Ref: source.Ref{Branch: "main"}}},
		Units: []reconcile.Unit{
			{Name: "app", Source: "repo", Path: "app", Prune: true, Wait: true, Timeout: time.Minute},
			{Name: "broken", Source: "repo", Path: "missing", Prune: true, Wait: true, Timeout: time.Minute},
		},
	}
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	rec, err := metrics.New(metrics.Options{Registerer: reg, Configuration: conf.Name, Namespace: ns, Cluster: c})
	if err != nil {
		t.Fatal(err)
	}
	run := func(conf reconcile.Configuration) reconcile.Status {
		t.Helper()
		r, err := reconcile.New(c, conf, reconcile.Options{OnEvent: rec.Handle})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s, err := r.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Log(s)
		return s
	}

	// 1. app succeeds, broken fails.
	s := run(conf)
	broken, _ := s.Unit("broken")
	if broken.Phase != reconcile.PhaseNotReady {
		t.Fatalf("broken is %s, want NotReady", broken.Phase)
	}
	info := func(unit, ready, reason, rev string) string {
		return fmt.Sprintf(`gitopskit_resource_info{configuration="metrics",kind="Unit",name=%q,namespace=%q,ready=%q,reason=%q,revision=%q,suspended="false",unit=%q} 1`+"\n",
			unit, ns, ready, reason, rev, unit)
	}
	const (
		infoHead      = "# HELP gitopskit_resource_info The state of a unit of the configuration (value 1): its Flux object, readiness, reason, last applied revision and suspension.\n# TYPE gitopskit_resource_info gauge\n"
		compliantHead = "# HELP gitopskit_configuration_compliant 1 when every unit of the configuration is Ready, else 0.\n# TYPE gitopskit_configuration_compliant gauge\n"
		totalHead     = "# HELP gitopskit_reconcile_total The reconciles of a unit by result (success, failure, pending, suspended).\n# TYPE gitopskit_reconcile_total counter\n"
		objectsHead   = "# HELP gitopskit_objects_total The objects of a unit by what happened to them in the apply, prune and remove stages.\n# TYPE gitopskit_objects_total counter\n"
	)
	want := infoHead +
		info("app", "True", reconcile.ReasonSucceeded, revision) +
		info("broken", "False", broken.Reason, "") +
		compliantHead + `gitopskit_configuration_compliant{configuration="metrics"} 0` + "\n" +
		totalHead +
		`gitopskit_reconcile_total{configuration="metrics",result="failure",unit="broken"} 1` + "\n" +
		`gitopskit_reconcile_total{configuration="metrics",result="success",unit="app"} 1` + "\n" +
		objectsHead +
		`gitopskit_objects_total{action="created",configuration="metrics",unit="app"} 2` + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		metrics.ResourceInfo, metrics.ConfigurationCompliant, metrics.ReconcileTotal, metrics.ObjectsTotal); err != nil {
		t.Fatalf("after the first run: %v", err)
	}

	// 2. A no-op: the objects are unchanged, broken fails again.
	run(conf)
	want = totalHead +
		`gitopskit_reconcile_total{configuration="metrics",result="failure",unit="broken"} 2` + "\n" +
		`gitopskit_reconcile_total{configuration="metrics",result="success",unit="app"} 2` + "\n" +
		objectsHead +
		`gitopskit_objects_total{action="created",configuration="metrics",unit="app"} 2` + "\n" +
		`gitopskit_objects_total{action="unchanged",configuration="metrics",unit="app"} 2` + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.ReconcileTotal, metrics.ObjectsTotal); err != nil {
		t.Fatalf("after the no-op: %v", err)
	}
	families := gather(t, reg)
	for _, m := range families[metrics.ReconcileDuration].GetMetric() {
		labels := labelsOf(m)
		if got := labels["unit"]; got != "app" && got != "broken" {
			t.Errorf("duration of unit %q", got)
		}
		if labels["kind"] != metrics.KindUnit || labels["name"] != labels["unit"] || labels["namespace"] != ns || labels["configuration"] != "metrics" {
			t.Errorf("duration labels %v", labels)
		}
		if h := m.GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() <= 0 {
			t.Errorf("duration of %s: %d samples, sum %v; want 2, > 0", labels["unit"], h.GetSampleCount(), h.GetSampleSum())
		}
	}
	if n := len(families[metrics.ReconcileDuration].GetMetric()); n != 2 {
		t.Errorf("%d duration series, want 2", n)
	}
	verbs := map[string]float64{}
	for _, m := range families[metrics.APIRequestsTotal].GetMetric() {
		labels := labelsOf(m)
		if len(labels) != 2 || labels["code"] == "" {
			t.Errorf("api request labels %v, want verb and code", labels)
		}
		verbs[labels["verb"]] += m.GetCounter().GetValue()
	}
	if verbs["patch"] == 0 || verbs["get"]+verbs["list"] == 0 {
		t.Errorf("api requests by verb %v: want patches and reads", verbs)
	}
	if float64(c.Requests().Total()) < sum(verbs) {
		t.Errorf("scraped %v requests, more than the cluster's %d", sum(verbs), c.Requests().Total())
	}

	// 3. broken leaves the configuration: its series go, and the
	// configuration is compliant.
	conf.Units = slices.DeleteFunc(conf.Units, func(u reconcile.Unit) bool { return u.Name == "broken" })
	if s := run(conf); !s.Compliant() {
		t.Fatalf("not compliant without broken: %v", s)
	}
	want = infoHead + info("app", "True", reconcile.ReasonSucceeded, revision) +
		compliantHead + `gitopskit_configuration_compliant{configuration="metrics"} 1` + "\n" +
		totalHead + `gitopskit_reconcile_total{configuration="metrics",result="success",unit="app"} 3` + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		metrics.ResourceInfo, metrics.ConfigurationCompliant, metrics.ReconcileTotal); err != nil {
		t.Fatalf("after broken left: %v", err)
	}
	for _, m := range gather(t, reg)[metrics.ReconcileDuration].GetMetric() {
		if u := labelsOf(m)["unit"]; u != "app" {
			t.Errorf("a duration series of unit %q is left", u)
		}
	}
}

func gather(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func sum(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}
