package helmrelease

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

var widgetGVR = schema.GroupVersionResource{Group: stackGroup, Version: "v1", Resource: "widgets"}

// uniqueNamespace is prefix and a random suffix: the package's cluster
// outlives a test, and with -count=2 a test runs twice on it.
func uniqueNamespace(prefix string) string {
	return fmt.Sprintf("%s-%08x", prefix, rand.Uint32())
}

// loadValuesFrom reads a ConfigMap as a caller of helmrelease does for a
// HelmRelease's valuesFrom, with its references.
func loadValuesFrom(t *testing.T, ns, name string, refs ...ValuesFrom) []ValuesFrom {
	t.Helper()
	out := make([]ValuesFrom, len(refs))
	for i, ref := range refs {
		ref.Kind, ref.Name = "ConfigMap", name
		ref.Data = ConfigMapData(configMapData(t, ns, name))
		out[i] = ref
	}
	return out
}

// A chart with the structures of widely used charts (vendored subcharts
// each with NOTES.txt and helpers, a library chart, CRDs in crds/, hooks
// with weights and deletion policies, lookup, a values schema) is
// installed from an HTTP chart repository with a version range and values
// from a ConfigMap, left alone when nothing changed, upgraded when the
// ConfigMap changes, drift-corrected, found unchanged in an OCI registry,
// upgraded from there, and uninstalled.
func TestWidelyUsedChartStructures(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	ctx := t.Context()
	cs := clientset(t)
	ns := uniqueNamespace("stack")
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, repo, stackChart("1.0.0"))
	gitopstest.AddChart(t, repo, stackChart("2.0.0"))

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	overrides := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "stack-values", Namespace: ns},
		Data:       map[string]string{"values.yaml": "message: from-configmap\nreplicaCount: 1\n", "pushgateway": "false"},
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, overrides, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refs := []ValuesFrom{{}, {ValuesKey: "pushgateway", TargetPath: "pushgateway.enabled"}}
	rel := Release{
		Name: "stack", Namespace: ns,
		Chart:      ChartRef{RepoURL: repo.URL(), Name: "stack", Version: "1.x"},
		ValuesFrom: loadValuesFrom(t, ns, "stack-values", refs...),
		Timeout:    2 * time.Minute,
		Drift:      DriftPolicy{Mode: DriftCorrect},
	}

	// Install.
	st := mustReconcile(t, r, rel)
	if st.Reason != ReasonInstalled || st.ChartVersion != "1.0.0" || st.Revision != 1 {
		t.Fatalf("install: %s chart %s revision %d", st.Reason, st.ChartVersion, st.Revision)
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "stack", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Labels["helm.sh/chart"] != "stack-1.0.0" || dep.Labels["app.kubernetes.io/component"] != "server" {
		t.Errorf("labels from the library chart and the helpers: %v", dep.Labels)
	}
	for _, name := range []string{"stack-metrics", "stack-exporter"} {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("subchart Deployment %s: %v", name, err)
		}
		if d.Labels["team"] != "platform" {
			t.Errorf("%s: global value not passed to the subchart: %v", name, d.Labels)
		}
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "stack-pushgateway", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("disabled subchart installed: %v", err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, ns+"-stack-metrics", metav1.GetOptions{}); err != nil {
		t.Errorf("subchart ClusterRole: %v", err)
	}
	if got := configMapData(t, ns, "stack")["message"]; got != "from-configmap" {
		t.Errorf("message %q, want the ConfigMap's", got)
	}
	if _, err := r.dynamic.Resource(crdGVR).Get(ctx, "widgets."+stackGroup, metav1.GetOptions{}); err != nil {
		t.Errorf("CRD from crds/: %v", err)
	}
	if _, err := r.dynamic.Resource(widgetGVR).Namespace(ns).Get(ctx, "stack", metav1.GetOptions{}); err != nil {
		t.Errorf("custom resource of the chart's CRD: %v", err)
	}
	if got := configMapData(t, ns, "stack-pre")["revision"]; got != "1" {
		t.Errorf("pre-install hook: revision %q", got)
	}
	checkHookDeleted(t, ns, "stack-check")
	token := secretToken(t, ns, "stack-token")
	drv, err := r.newDriver(ns)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := drv.History(ctx, "stack")
	if err != nil || len(hist) != 1 {
		t.Fatalf("history: %d revisions, %v", len(hist), err)
	}
	if notes := hist[0].Notes; !strings.Contains(notes, "Thank you for installing stack 1.0.0") || strings.Contains(notes, "simple service") {
		t.Errorf("release notes are not the parent chart's only:\n%s", notes)
	}

	// Nothing changed: no action.
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpToDate || len(st.Actions) != 0 || len(st.Drift) != 0 {
		t.Fatalf("no-op: %s actions %v drift %+v", st.Reason, st.Actions, st.Drift)
	}

	// The valuesFrom ConfigMap changes: the release is upgraded; the
	// pushgateway subchart is enabled by a targetPath value; the hooks run
	// again; the token kept by lookup does not change.
	overrides.Data = map[string]string{"values.yaml": "message: changed\nreplicaCount: 1\n", "pushgateway": "true"}
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, overrides, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rel.ValuesFrom = loadValuesFrom(t, ns, "stack-values", refs...)
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpgraded || st.Revision != 2 {
		t.Fatalf("values change: %s revision %d", st.Reason, st.Revision)
	}
	if got := configMapData(t, ns, "stack")["message"]; got != "changed" {
		t.Errorf("message %q after upgrade", got)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "stack-pushgateway", metav1.GetOptions{}); err != nil {
		t.Errorf("enabled subchart: %v", err)
	}
	if got := configMapData(t, ns, "stack-pre")["revision"]; got != "2" {
		t.Errorf("pre-upgrade hook: revision %q", got)
	}
	checkHookDeleted(t, ns, "stack-check")
	if got := secretToken(t, ns, "stack-token"); got != token {
		t.Errorf("lookup did not keep the token: %q then %q", token, got)
	}

	// Drift in subcharts' objects is corrected without a revision.
	scaleDeployment(t, ns, "stack-metrics", 3)
	if err := cs.CoreV1().Services(ns).Delete(ctx, "stack-exporter", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonDriftCorrected || st.Revision != 2 || len(st.Drift) != 2 {
		t.Fatalf("drift: %s revision %d drift %+v", st.Reason, st.Revision, st.Drift)
	}
	if d, err := cs.AppsV1().Deployments(ns).Get(ctx, "stack-metrics", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas not restored: %v", err)
	}
	if _, err := cs.CoreV1().Services(ns).Get(ctx, "stack-exporter", metav1.GetOptions{}); err != nil {
		t.Errorf("deleted Service not recreated: %v", err)
	}

	// The same chart from an OCI registry has the same content digest:
	// nothing to do. A newer version in the range upgrades.
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	gitopstest.PushChart(t, reg, stackChart("1.0.0"), "charts")
	rel.Chart = ChartRef{RepoURL: reg.URL() + "/charts", Name: "stack", Version: "1.0.0", PlainHTTP: true}
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpToDate || len(st.Actions) != 0 {
		t.Fatalf("same chart from OCI: %s actions %v", st.Reason, st.Actions)
	}
	gitopstest.PushChart(t, reg, stackChart("1.1.0"), "charts")
	rel.Chart.Version = "1.x"
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpgraded || st.ChartVersion != "1.1.0" || st.Revision != 3 {
		t.Fatalf("OCI upgrade: %s chart %s revision %d", st.Reason, st.ChartVersion, st.Revision)
	}
	if d, err := cs.AppsV1().Deployments(ns).Get(ctx, "stack", metav1.GetOptions{}); err != nil || d.Labels["helm.sh/chart"] != "stack-1.1.0" {
		t.Errorf("after OCI upgrade: %v", err)
	}

	// Uninstall: the pre-delete hook runs, the objects go, the CRD stays
	// (Helm never deletes crds/).
	if st, err := r.Uninstall(ctx, rel); err != nil || st.Reason != ReasonUninstalled {
		t.Fatalf("uninstall: %s %v", st.Reason, err)
	}
	if got := configMapData(t, ns, "stack-pre-delete")["revision"]; got != "3" {
		t.Errorf("pre-delete hook: revision %q", got)
	}
	for _, name := range []string{"stack", "stack-metrics", "stack-exporter", "stack-pushgateway"} {
		if _, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("Deployment %s after uninstall: %v", name, err)
		}
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, ns+"-stack-metrics", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole after uninstall: %v", err)
	}
	if _, err := r.dynamic.Resource(widgetGVR).Namespace(ns).Get(ctx, "stack", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Widget after uninstall: %v", err)
	}
	if _, err := r.dynamic.Resource(crdGVR).Get(ctx, "widgets."+stackGroup, metav1.GetOptions{}); err != nil {
		t.Errorf("CRD after uninstall: %v", err)
	}
	want := []EventType{
		EventChartDownloaded, EventChartResolved, EventInstallStarted, EventInstallSucceeded,
		EventChartCacheHit, EventChartResolved, EventUpToDate,
		EventChartCacheHit, EventChartResolved, EventUpgradeStarted, EventUpgradeSucceeded,
		EventChartCacheHit, EventChartResolved, EventUpToDate, EventDriftDetected, EventDriftCorrected,
		EventChartDownloaded, EventChartResolved, EventUpToDate,
		EventChartDownloaded, EventChartResolved, EventUpgradeStarted, EventUpgradeSucceeded,
		EventUninstalled,
	}
	if got := rec.types("stack"); !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
}

// checkHookDeleted checks that a hook with the hook-succeeded deletion
// policy is gone (or going).
func checkHookDeleted(t *testing.T, ns, job string) {
	t.Helper()
	j, err := clientset(t).BatchV1().Jobs(ns).Get(t.Context(), job, metav1.GetOptions{})
	if err == nil && j.DeletionTimestamp == nil {
		t.Errorf("hook Job %s not deleted after it succeeded", job)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
}

func secretToken(t *testing.T, ns, name string) string {
	t.Helper()
	s, err := clientset(t).CoreV1().Secrets(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data["token"]) == 0 {
		t.Fatalf("Secret %s has no token", name)
	}
	return string(s.Data["token"])
}

// Errors name the real cause: a template error the template file (of the
// subchart) and line, a schema error the key. Neither makes a revision.
func TestChartErrorsNameTheCause(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	broken := stackChart("1.0.0")
	broken.Dependencies[1].Chart.Templates["broken.yaml"] = `apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  size: {{ .Values.nope.deeper | quote }}
`
	tests := []struct {
		name   string
		chart  chartrepo.Chart
		values map[string]any
		want   []string
	}{
		{"template", broken, nil, []string{"stack/charts/metrics/templates/broken.yaml:6", "nil pointer"}},
		{"schema type", stackChart("1.0.0"), map[string]any{"replicaCount": "two"}, []string{"replicaCount"}},
		{"schema nested", stackChart("1.0.0"), map[string]any{"widget": map[string]any{"size": 50}}, []string{"widget", "size"}},
		{"schema required", stackChart("1.0.0"), map[string]any{"message": nil}, []string{"message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := Release{
				Name: "errs", Namespace: uniqueNamespace("chart-errors"),
				Chart:  ChartRef{Path: gitopstest.WriteChartDir(t, tt.chart)},
				Values: tt.values,
			}
			st, err := r.Reconcile(t.Context(), rel)
			var chErr *ChartError
			if !errors.As(err, &chErr) || st.Reason != ReasonInvalidChart || len(st.History) != 0 {
				t.Fatalf("reason %s history %s err %v", st.Reason, revisions(st), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q: %v", w, err)
				}
			}
			t.Logf("%v", err)
		})
	}
}
