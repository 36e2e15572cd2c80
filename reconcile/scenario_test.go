package reconcile_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestSeedScenario runs the scenario end to end on the simulated cluster:
// infra -> apps-dev -> apps-prd, a no-op, a commit that changes and removes
// objects, drift put back, and a broken commit that leaves dependents
// Pending and prunes nothing.
func TestSeedScenario(t *testing.T) {
	// Names of the run's own: a rerun (go test -count=N) on the shared
	// cluster meets none of this run's objects.
	name := gitopstest.UniqueName("company")
	sfx := strings.TrimPrefix(name, "company-")
	devNS, prdNS, monitoringNS := "apps-dev-"+sfx, "apps-prd-"+sfx, "monitoring-"+sfx
	files := seedFiles(sfx)
	ctx := t.Context()
	_, repo := demoRepo(t, name, files)
	var events eventLog
	r := newReconciler(t, seedConfiguration(name, repo.HTTPURL()), reconcile.Options{OnEvent: events.handle})
	cs := clientset(t)

	// First run: everything created, healthy, compliant.
	s := run(t, r)
	if !s.Compliant() {
		t.Fatalf("first run not compliant: %s", s)
	}
	for name, want := range map[string]int32{devNS: 1, prdNS: 5} {
		d, err := cs.AppsV1().Deployments(name).Get(ctx, "kuard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas != want {
			t.Errorf("%s/kuard: %d ready replicas, want %d", name, d.Status.ReadyReplicas, want)
		}
	}
	infra := unit(t, s, "infra")
	if infra.Counts.Created == 0 || infra.Objects != infra.Counts.Created || !strings.HasPrefix(infra.LastAppliedRevision, "main@sha1:") {
		t.Errorf("infra status: %+v", infra)
	}
	if got, want := events.stages("apps-prd"), []reconcile.Stage{reconcile.StageFetch, reconcile.StageBuild,
		reconcile.StageApply, reconcile.StageHealth, reconcile.StageDone}; !slices.Equal(got, want) {
		t.Errorf("apps-prd stages %v, want %v", got, want)
	}

	// Nothing changed: nothing created or configured.
	s = run(t, r)
	for _, u := range s.Units {
		if u.Phase != reconcile.PhaseReady || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
			t.Errorf("no-op run changed %s: %+v", u.Name, u)
		}
	}

	// A commit: prd down to 3 replicas, its PodDisruptionBudget removed.
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{
		Message: "prd: 3 replicas, no PDB",
		Files: map[string]string{"apps/prd/kustomization.yaml": strings.NewReplacer(
			"count: 5", "count: 3", "  - pdb.yaml\n", "").Replace(mustFile(t, files, "apps/prd/kustomization.yaml"))},
		Delete: []string{"apps/prd/pdb.yaml"},
	})
	s = run(t, r)
	prd := unit(t, s, "apps-prd")
	if !s.Compliant() || prd.Counts.Deleted != 1 || prd.Counts.Configured != 1 {
		t.Fatalf("after the commit: %s; apps-prd %+v", s, prd)
	}
	if _, err := cs.PolicyV1().PodDisruptionBudgets(prdNS).Get(ctx, "kuard", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("PDB not pruned: %v", err)
	}
	if d, _ := cs.AppsV1().Deployments(prdNS).Get(ctx, "kuard", metav1.GetOptions{}); *d.Spec.Replicas != 3 {
		t.Errorf("apps-prd replicas %d, want 3", *d.Spec.Replicas)
	}

	// Drift: someone scales apps-dev by hand; the next run puts it back.
	scale, err := cs.AppsV1().Deployments(devNS).GetScale(ctx, "kuard", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 4
	if _, err := cs.AppsV1().Deployments(devNS).UpdateScale(ctx, "kuard", scale, metav1.UpdateOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	s = run(t, r)
	if dev := unit(t, s, "apps-dev"); dev.Counts.Configured != 1 || !s.Compliant() {
		t.Errorf("drift run: %s; apps-dev %+v", s, dev)
	}
	if d, _ := cs.AppsV1().Deployments(devNS).Get(ctx, "kuard", metav1.GetOptions{}); *d.Spec.Replicas != 1 {
		t.Errorf("drift not put back: apps-dev replicas %d", *d.Spec.Replicas)
	}

	// A broken commit in infra: infra NotReady, dependents Pending, nothing
	// applied or pruned anywhere.
	before := unit(t, s, "infra").LastAppliedRevision
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{
		Message: "broken",
		Files:   map[string]string{"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: [oops\n"},
	})
	s = run(t, r)
	infra = unit(t, s, "infra")
	if infra.Phase != reconcile.PhaseNotReady || infra.Reason != reconcile.ReasonBuildFailed || infra.LastAppliedRevision != before ||
		!strings.Contains(infra.Message, "namespace.yaml") {
		t.Errorf("broken infra: %+v", infra)
	}
	for _, name := range []string{"apps-dev", "apps-prd"} {
		if u := unit(t, s, name); u.Phase != reconcile.PhasePending || u.Reason != reconcile.ReasonDependencyNotReady {
			t.Errorf("%s after infra broke: %+v", name, u)
		}
	}
	if s.Compliant() {
		t.Error("configuration compliant with a broken unit")
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, monitoringNS, metav1.GetOptions{}); err != nil {
		t.Errorf("monitoring namespace gone after a broken commit: %v", err)
	}
}

func TestConfigurationErrors(t *testing.T) {
	base := func() reconcile.Configuration {
		return reconcile.Configuration{
			Name:    "errs",
			Sources: []reconcile.Source{{Name: "repo", URL: "http://127.0.0.1:1/x.git"}},
			Units:   []reconcile.Unit{{Name: "a"}, {Name: "b", DependsOn: []string{"a"}}, {Name: "c", DependsOn: []string{"b"}}},
		}
	}
	tests := []struct {
		name   string
		modify func(*reconcile.Configuration)
		want   string
	}{
		{"cycle", func(c *reconcile.Configuration) { c.Units[0].DependsOn = []string{"c"} }, "a -> c -> b -> a"},
		{"missing dependency", func(c *reconcile.Configuration) { c.Units[2].DependsOn = []string{"nope"} }, "c depends on missing nope"},
		{"unknown source", func(c *reconcile.Configuration) { c.Units[1].Source = "other" }, `unknown source "other"`},
		{"duplicate unit", func(c *reconcile.Configuration) { c.Units[2].Name = "a" }, `unit "a" defined twice`},
		{"bad unit name", func(c *reconcile.Configuration) { c.Units[0].Name = "A_B" }, "DNS label"},
		{"no units", func(c *reconcile.Configuration) { c.Units = nil }, "no units"},
		{"deletion policy", func(c *reconcile.Configuration) { c.Units[0].DeletionPolicy = "Keep" }, `deletion policy "Keep"`},
		{"decryption without a Secret", func(c *reconcile.Configuration) { c.Units[0].Decryption = &reconcile.Decryption{} }, "the Secret's name is required"},
		{"health check without a name", func(c *reconcile.Configuration) {
			c.Units[0].HealthCheckRefs = []reconcile.ObjectRef{{APIVersion: "apps/v1", Kind: "Deployment"}}
		}, "apiVersion, kind and name are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.modify(&c)
			_, err := reconcile.New(offline(t), c, reconcile.Options{})
			if !errors.Is(err, reconcile.ErrInvalidConfiguration) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an invalid configuration error containing %q", err, tt.want)
			}
		})
	}
}
