package helmrelease

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// The whole lifecycle of a release from a chart directory (as found in a
// source artifact): install, no-op, upgrade on new values, upgrade on a new
// chart version, uninstall.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	ns := uniqueNamespace("lifecycle")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Values:  map[string]any{"message": "one"},
		Timeout: time.Minute,
	}

	st := mustReconcile(t, r, rel)
	if st.Reason != ReasonInstalled || st.Revision != 1 || st.ChartVersion != "1.0.0" || !slices.Equal(st.Actions, []Action{ActionInstall}) {
		t.Fatalf("install: reason %s revision %d chart %s actions %v", st.Reason, st.Revision, st.ChartVersion, st.Actions)
	}
	if got := configMapData(t, ns, "web-config")["message"]; got != "one" {
		t.Fatalf("message %q after install", got)
	}

	// Nothing changed: no new revision. Values equal but written
	// differently (another map) are the same values.
	rel.Values = map[string]any{"message": "one"}
	for range 2 {
		st = mustReconcile(t, r, rel)
		if st.Reason != ReasonUpToDate || len(st.Actions) != 0 || revisions(st) != "1:deployed" {
			t.Fatalf("no-op: reason %s actions %v history %s", st.Reason, st.Actions, revisions(st))
		}
	}

	// New values: upgrade.
	rel.Values = map[string]any{"message": "two"}
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpgraded || revisions(st) != "2:deployed 1:superseded" {
		t.Fatalf("values change: reason %s history %s", st.Reason, revisions(st))
	}
	if got := configMapData(t, ns, "web-config")["message"]; got != "two" {
		t.Fatalf("message %q after upgrade", got)
	}

	// New chart version: upgrade.
	rel.Chart.Path = gitopstest.WriteChartDir(t, appChart("1.1.0"))
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpgraded || st.Revision != 3 || st.ChartVersion != "1.1.0" {
		t.Fatalf("chart change: reason %s revision %d chart %s", st.Reason, st.Revision, st.ChartVersion)
	}
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpToDate || st.Revision != 3 {
		t.Fatalf("no-op after chart change: %s %d", st.Reason, st.Revision)
	}

	// Uninstall removes the objects and the history.
	st, err := r.Uninstall(t.Context(), rel)
	if err != nil || st.Reason != ReasonUninstalled {
		t.Fatalf("uninstall: %s %v", st.Reason, err)
	}
	cs := clientset(t)
	if _, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment after uninstall: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap after uninstall: %v", err)
	}
	secrets, err := cs.CoreV1().Secrets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "owner=helm,name=web"})
	if err != nil || len(secrets.Items) != 0 {
		t.Errorf("release records after uninstall: %d (%v)", len(secrets.Items), err)
	}
	st, err = r.Uninstall(t.Context(), rel)
	if err != nil || st.Reason != ReasonNotInstalled {
		t.Errorf("second uninstall: %s %v", st.Reason, err)
	}
	want := []EventType{
		EventChartResolved, EventInstallStarted, EventInstallSucceeded,
		EventChartResolved, EventUpToDate, EventChartResolved, EventUpToDate,
		EventChartResolved, EventUpgradeStarted, EventUpgradeSucceeded,
		EventChartResolved, EventUpgradeStarted, EventUpgradeSucceeded,
		EventChartResolved, EventUpToDate, EventUninstalled,
	}
	if got := rec.types("web"); !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
}

// A failed upgrade (its Pods never become ready, so Helm's wait times out)
// is rolled back to the last successful revision and retried; when the
// retries are exhausted the release stays rolled back and is reported so,
// without further attempts, until the values change.
func TestFailedUpgradeRollsBackThenRetriesExhaustedUntilValuesChange(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	ns := uniqueNamespace("rollback")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Values:  map[string]any{"message": "good"},
		Timeout: 8 * time.Second,
		Upgrade: UpgradePolicy{Retries: 1},
	}
	mustReconcile(t, r, rel)

	rel.Values = map[string]any{"message": "bad", "neverReady": true}
	st, err := r.Reconcile(t.Context(), rel)
	var exhausted *RetriesExhaustedError
	if !errors.As(err, &exhausted) || !errors.Is(err, ErrRetriesExhausted) || st.Reason != ReasonRetriesExhausted || st.Ready {
		t.Fatalf("failing upgrade: reason %s err %v", st.Reason, err)
	}
	var relErr *ReleaseError
	if !errors.As(err, &relErr) || relErr.Action != ActionUpgrade || relErr.Remediation != ActionRollback {
		t.Errorf("last attempt error: %#v", relErr)
	}
	if exhausted.Failures != 2 || st.Failures != 2 {
		t.Errorf("failures %d/%d, want 2", exhausted.Failures, st.Failures)
	}
	if got := revisions(st); got != "5:deployed 4:failed! 3:superseded 2:failed! 1:superseded" {
		t.Errorf("history %s", got)
	}
	wantActions := []Action{ActionUpgrade, ActionRollback, ActionUpgrade, ActionRollback}
	if !slices.Equal(st.Actions, wantActions) {
		t.Errorf("actions %v, want %v", st.Actions, wantActions)
	}
	if got := configMapData(t, ns, "web-config")["message"]; got != "good" {
		t.Errorf("message %q after rollback, want the good revision's", got)
	}
	if !rec.has("web", EventRolledBack) || !rec.has("web", EventRetriesExhausted) {
		t.Errorf("events %v", rec.types("web"))
	}

	// Terminal: the same spec makes no attempt.
	st, err = r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) || len(st.Actions) != 0 || st.Revision != 5 {
		t.Fatalf("again: err %v actions %v revision %d", err, st.Actions, st.Revision)
	}

	// New values reset the count.
	rel.Values = map[string]any{"message": "fixed"}
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpgraded || st.Revision != 6 || st.Failures != 0 {
		t.Fatalf("after fix: %s revision %d failures %d", st.Reason, st.Revision, st.Failures)
	}
	if got := configMapData(t, ns, "web-config")["message"]; got != "fixed" {
		t.Errorf("message %q", got)
	}
}

// A failed install is uninstalled after each attempt; when the retries are
// exhausted nothing is left running, and a new chart version starts over.
func TestFailedInstallUninstallsAfterRetries(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	ns := uniqueNamespace("failinstall")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Values:  map[string]any{"neverReady": true},
		Timeout: 8 * time.Second,
		Install: InstallPolicy{Retries: 1},
	}
	st, err := r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) || st.Reason != ReasonRetriesExhausted {
		t.Fatalf("failing install: reason %s err %v", st.Reason, err)
	}
	wantActions := []Action{ActionInstall, ActionUninstall, ActionInstall, ActionUninstall}
	if !slices.Equal(st.Actions, wantActions) {
		t.Errorf("actions %v, want %v", st.Actions, wantActions)
	}
	if st.ReleaseStatus != string(driver.StatusUninstalled) || st.Failures != 2 {
		t.Errorf("status %s failures %d", st.ReleaseStatus, st.Failures)
	}
	if _, err := clientset(t).AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment left after failed installs: %v", err)
	}
	if got := rec.types("web"); !slices.Contains(got, EventUninstalled) {
		t.Errorf("events %v", got)
	}

	st, err = r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) || len(st.Actions) != 0 {
		t.Fatalf("again: err %v actions %v", err, st.Actions)
	}

	// A new chart version (that works with these values) starts over.
	fixed := appChart("1.0.1")
	fixed.Templates["deployment.yaml"] = stripNeverReady(fixed.Templates["deployment.yaml"])
	rel.Chart.Path = gitopstest.WriteChartDir(t, fixed)
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonInstalled || st.ChartVersion != "1.0.1" || st.Revision != 3 {
		t.Fatalf("after new version: %s %s revision %d (%s)", st.Reason, st.ChartVersion, st.Revision, revisions(st))
	}
}

// stripNeverReady drops the never-ready label from the template.
func stripNeverReady(tpl string) string {
	out := ""
	skip := false
	for _, line := range splitLines(tpl) {
		switch {
		case containsStr(line, "if .Values.neverReady"):
			skip = true
			continue
		case skip && containsStr(line, "end"):
			skip = false
			continue
		case skip:
			continue
		}
		out += line + "\n"
	}
	return out
}

// A revision left pending (as by a crash in the middle of an operation)
// is unlocked and the release converges.
func TestStuckPendingReleaseIsUnlocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stuck  driver.Status
		setup  func(t *testing.T, r *Reconciler, rel *Release) int // returns the revision to mark
		reason Reason
	}{
		{"pending-upgrade", driver.StatusPendingUpgrade, func(t *testing.T, r *Reconciler, rel *Release) int {
			mustReconcile(t, r, *rel)
			rel.Values = map[string]any{"message": "second"}
			return mustReconcile(t, r, *rel).Revision
		}, ReasonUpgraded},
		{"pending-rollback", driver.StatusPendingRollback, func(t *testing.T, r *Reconciler, rel *Release) int {
			mustReconcile(t, r, *rel)
			rel.Values = map[string]any{"message": "second"}
			return mustReconcile(t, r, *rel).Revision
		}, ReasonUpgraded},
		{"pending-install", driver.StatusPendingInstall, func(t *testing.T, r *Reconciler, rel *Release) int {
			return mustReconcile(t, r, *rel).Revision
		}, ReasonInstalled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, rec := newTestReconciler(t)
			rel := Release{
				Name: "web", Namespace: uniqueNamespace("stuck-" + tt.name), CreateNamespace: true,
				Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, cmChart("cm", "1.0.0"))},
				Timeout: time.Minute,
			}
			rev := tt.setup(t, r, &rel)
			drv, err := r.newDriver(rel.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			if err := drv.Mark(t.Context(), rel.Name, rev, driver.Mark{Status: tt.stuck}); err != nil {
				t.Fatal(err)
			}
			rel.Values = map[string]any{"message": "after crash"}
			st := mustReconcile(t, r, rel)
			if st.Reason != tt.reason || st.Actions[0] != ActionUnlock || !rec.has("web", EventUnlocked) {
				t.Fatalf("reason %s actions %v events %v", st.Reason, st.Actions, rec.types("web"))
			}
			if got := configMapData(t, rel.Namespace, "web")["message"]; got != "after crash" {
				t.Errorf("message %q", got)
			}
			t.Logf("history %s", revisions(st))
		})
	}
}

// Drift in rendered objects (a scaled Deployment, an edited ConfigMap, a
// deleted ConfigMap) is reported, and corrected in Correct mode, without a
// new revision.
func TestDriftDetectedAndCorrected(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	ns := uniqueNamespace("drift")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Timeout: time.Minute,
		Drift:   DriftPolicy{Mode: DriftWarn},
	}
	mustReconcile(t, r, rel)
	ctx := t.Context()
	cs := clientset(t)

	// Drift the objects.
	scaleDeployment(t, ns, "web", 3)
	editConfigMap(t, ns, "web-config", func(cm *corev1.ConfigMap) { cm.Data["message"] = "edited by hand" })

	// Warn: reported, left alone.
	st := mustReconcile(t, r, rel)
	if st.Reason != ReasonUpToDate || len(st.Drift) != 2 || st.Drift[0].Corrected {
		t.Fatalf("warn: reason %s drift %+v", st.Reason, st.Drift)
	}
	got := map[string][]string{}
	for _, d := range st.Drift {
		got[d.Kind] = d.Fields
	}
	if !slices.Equal(got["Deployment"], []string{"spec.replicas"}) || !slices.Equal(got["ConfigMap"], []string{"data.message"}) {
		t.Errorf("drifted fields %v", got)
	}
	if configMapData(t, ns, "web-config")["message"] != "edited by hand" {
		t.Error("Warn mode changed the ConfigMap")
	}

	// Correct: applied again; a deleted object is recreated.
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rel.Drift.Mode = DriftCorrect
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonDriftCorrected || len(st.Drift) != 2 || !st.Drift[0].Corrected || st.Revision != 1 {
		t.Fatalf("correct: reason %s revision %d drift %+v", st.Reason, st.Revision, st.Drift)
	}
	for _, d := range st.Drift {
		if d.Kind == "ConfigMap" && !d.Missing {
			t.Errorf("deleted ConfigMap not reported missing: %+v", d)
		}
	}
	if configMapData(t, ns, "web-config")["message"] != "hello" {
		t.Error("ConfigMap not restored")
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 1 {
		t.Errorf("replicas not restored: %v", err)
	}
	if dep.Labels["app.kubernetes.io/managed-by"] != "Helm" || dep.Annotations["meta.helm.sh/release-name"] != "web" {
		t.Errorf("Helm ownership metadata lost: %v %v", dep.Labels, dep.Annotations)
	}

	// Converged: no drift left.
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpToDate || len(st.Drift) != 0 || revisions(st) != "1:deployed" {
		t.Fatalf("after correction: %s drift %+v history %s", st.Reason, st.Drift, revisions(st))
	}
	if !rec.has("web", EventDriftDetected) || !rec.has("web", EventDriftCorrected) {
		t.Errorf("events %v", rec.types("web"))
	}
}

// A chart whose template fails gives a clear typed error and creates no
// revision.
func TestInvalidTemplate(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	bad := cmChart("bad", "1.0.0")
	bad.Templates["oops.yaml"] = "{{ required \"values.name is required\" .Values.name }}\n"
	rel := Release{
		Name: "bad", Namespace: uniqueNamespace("invalid"), CreateNamespace: true,
		Chart: ChartRef{Path: gitopstest.WriteChartDir(t, bad)},
	}
	st, err := r.Reconcile(t.Context(), rel)
	var chErr *ChartError
	if !errors.As(err, &chErr) || !errors.Is(err, ErrInvalidChart) || st.Reason != ReasonInvalidChart {
		t.Fatalf("reason %s err %v", st.Reason, err)
	}
	if !containsStr(err.Error(), "values.name is required") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	if len(st.History) != 0 {
		t.Errorf("history %s", revisions(st))
	}
}

// CRDs: Create makes missing ones and leaves existing ones; CreateReplace
// replaces them with the chart's.
func TestCRDPolicy(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	// A group of its own per run: CRDs are cluster-wide and outlive the
	// test (-count=2).
	group := uniqueNamespace("crds") + ".test.gitopskit.io"
	withCRD := func(version string) string {
		c := cmChart("crds", version)
		c.CRDs = map[string]string{"widget.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + group + `
  labels:
    chart-version: "` + version + `"
spec:
  group: ` + group + `
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`}
		c.Templates["widget.yaml"] = "apiVersion: " + group + "/v1\nkind: Widget\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  size: 1\n"
		return gitopstest.WriteChartDir(t, c)
	}
	crdLabel := func() string {
		t.Helper()
		u, err := r.dynamic.Resource(crdGVR).Get(context.Background(), "widgets."+group, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return u.GetLabels()["chart-version"]
	}
	rel := Release{
		Name: "crds", Namespace: uniqueNamespace("crds"), CreateNamespace: true,
		Chart:   ChartRef{Path: withCRD("1.0.0")},
		Timeout: time.Minute,
	}
	mustReconcile(t, r, rel) // the Widget in templates/ needs the CRD first
	if got := crdLabel(); got != "1.0.0" {
		t.Fatalf("CRD label %q after install", got)
	}
	rel.Chart.Path = withCRD("1.1.0")
	mustReconcile(t, r, rel)
	if got := crdLabel(); got != "1.0.0" {
		t.Errorf("Create replaced the CRD: label %q", got)
	}
	rel.Chart.Path = withCRD("1.2.0")
	rel.CRDs = CRDCreateReplace
	mustReconcile(t, r, rel)
	if got := crdLabel(); got != "1.2.0" {
		t.Errorf("CreateReplace did not replace the CRD: label %q", got)
	}
}
