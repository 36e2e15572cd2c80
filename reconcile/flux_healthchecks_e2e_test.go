package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestFluxHealthChecks: a Kustomization without wait health-checks a
// Deployment it did not apply and two Kustomizations of the
// configuration, one of which depends on it (as Flux's spec.healthChecks).
// The unit is NotReady while the Deployment does not roll out; once it
// does, its dependent waits for the Kustomization it health-checks to be
// Ready; the one that depends on the unit itself does not deadlock the
// round; when everything is Ready the dependent is applied.
func TestFluxHealthChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	cs := clientset(t)

	// The Deployment infra health-checks belongs to nobody in Git: its
	// Pods never become ready until the test lets them.
	replicas := int32(1)
	backend := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			ProgressDeadlineSeconds: new(int32(5)),
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{"app": "backend"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "backend", kubeassets.NeverReadyLabel: "true"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/backend:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, backend, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cm := func(name string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\n", name, ns)
	}
	kust := func(name, extra string) string {
		return fleetKustomization(name, ns, "  timeout: 30s\n"+extra)
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "units; db has no directory yet", Files: map[string]string{
		"clusters/prod/units.yaml": strings.Join([]string{
			kust("infra", `  healthChecks:
    - {apiVersion: apps/v1, kind: Deployment, name: backend}
    - {kind: Kustomization, name: db}
    - {kind: Kustomization, name: late}
`),
			kust("db", ""),
			kust("late", "  dependsOn: [{name: infra}]\n"),
			kust("apps", "  dependsOn: [{name: infra}]\n"),
		}, "---\n"),
		"infra/cm.yaml": cm("infra"),
		"late/cm.yaml":  cm("late"),
		"apps/cm.yaml":  cm("apps"),
	}})
	conf := bootstrapRoot(t, ns, repo.HTTPURL(), "./clusters/prod", "healthchecks")
	r := newReconciler(t, conf, reconcile.Options{})
	exists := func(name string) bool {
		t.Helper()
		_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	// runBounded runs once; the round must end well before the units'
	// timeouts would have ended a deadlock.
	runBounded := func(step string) reconcile.Status {
		t.Helper()
		t0 := time.Now()
		s := run(t, r)
		if d := time.Since(t0); d > 2*time.Minute {
			t.Fatalf("%s: the round took %s", step, d)
		}
		for _, u := range s.Units {
			t.Logf("%s: %s %s (%s): %s", step, u.Name, u.Phase, u.Reason, u.Message)
		}
		return s
	}

	// 1. The Deployment does not roll out: infra is NotReady, though it
	// applied its ConfigMap, and what depends on it waits.
	s := runBounded("backend never ready")
	if u := unit(t, s, "infra"); u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonHealthCheckFailed || !strings.Contains(u.Message, "backend") {
		t.Errorf("infra: %s (%s) %q, want NotReady, HealthCheckFailed naming backend", u.Phase, u.Reason, u.Message)
	}
	if !exists("infra") {
		t.Error("infra's ConfigMap was not applied before its health check")
	}
	for _, name := range []string{"apps", "late"} {
		if u := unit(t, s, name); u.Phase != reconcile.PhasePending || exists(name) {
			t.Errorf("%s: %s (%s) %q, exists %v; want Pending and not applied", name, u.Phase, u.Reason, u.Message, exists(name))
		}
	}

	// 2. The Deployment rolls out; infra is Ready, but it health-checks db,
	// which has no directory: apps waits for db, and says so; late, which
	// infra health-checks too, does not wait for itself.
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"labels":{%q:null}}}}}`, kubeassets.NeverReadyLabel)
	if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, "backend", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	s = runBounded("backend ready, db broken")
	if u := unit(t, s, "infra"); !u.Compliant() {
		t.Errorf("infra: %s (%s) %q, want Ready", u.Phase, u.Reason, u.Message)
	}
	if u := unit(t, s, "db"); u.Phase != reconcile.PhaseNotReady {
		t.Errorf("db: %s (%s) %q, want NotReady (no directory)", u.Phase, u.Reason, u.Message)
	}
	if u := unit(t, s, "apps"); u.Phase != reconcile.PhasePending || !strings.Contains(u.Message, "db is NotReady") || exists("apps") {
		t.Errorf("apps: %s (%s) %q, want Pending for db and not applied", u.Phase, u.Reason, u.Message)
	}
	if u := unit(t, s, "late"); u.Phase != reconcile.PhasePending || !strings.Contains(u.Message, "db is NotReady") {
		t.Errorf("late: %s (%s) %q, want Pending for db (not for itself)", u.Phase, u.Reason, u.Message)
	}

	// 3. db gets its directory: everything is Ready in one round, apps
	// and late applied after db.
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "db", Files: map[string]string{"db/cm.yaml": cm("db")}})
	s = runBounded("db fixed")
	if !s.Compliant() {
		t.Fatalf("not compliant: %s", s)
	}
	for _, name := range []string{"infra", "db", "late", "apps"} {
		if !exists(name) {
			t.Errorf("ConfigMap %s missing", name)
		}
	}
}
