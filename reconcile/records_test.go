package reconcile_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestRemovedUnits: a unit dropped from the configuration has its objects
// deleted when it pruned, orphaned (left, without our labels) when it did
// not, and its inventory removed; a new process picks up the record.
func TestRemovedUnits(t *testing.T) {
	ctx := t.Context()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "removal")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"keep/ns.yaml":   namespaceYAML("removal"),
		"pruned/cm.yaml": configMapYAML("removal", "pruned", "1"),
		"orphan/cm.yaml": configMapYAML("removal", "orphan", "1"),
	}})
	conf := reconcile.Configuration{
		Name:    "removal",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units: []reconcile.Unit{
			{Name: "keep", Path: "keep", Prune: true},
			{Name: "pruned", Path: "pruned", Prune: true, DependsOn: []string{"keep"}},
			{Name: "orphan", Path: "orphan", DependsOn: []string{"keep"}},
		},
	}
	if s := run(t, newReconciler(t, conf, reconcile.Options{})); !s.Compliant() {
		t.Fatal(s)
	}

	conf.Units = conf.Units[:1]
	var events eventLog
	r := newReconciler(t, conf, reconcile.Options{OnEvent: events.handle})
	s := run(t, r)
	if u := unit(t, s, "keep"); u.Phase != reconcile.PhaseReady || u.Counts != (reconcile.Counts{Unchanged: 1}) {
		t.Errorf("keep after restart: %+v", u)
	}
	cs := clientset(t)
	if _, err := cs.CoreV1().ConfigMaps("removal").Get(ctx, "pruned", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("objects of the removed pruning unit not deleted: %v", err)
	}
	orphan, err := cs.CoreV1().ConfigMaps("removal").Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("orphaned object deleted: %v", err)
	}
	if _, ok := orphan.Labels[inventory.LabelApplySetPartOf]; ok {
		t.Errorf("orphaned object still labelled as ours: %v", orphan.Labels)
	}
	ledger, err := inventory.NewLedger(kube(t), inventory.LedgerOptions{Name: "removal", Namespace: reconcile.DefaultNamespace})
	if err != nil {
		t.Fatal(err)
	}
	if units, err := ledger.Units(ctx); err != nil || strings.Join(units, ",") != "removal-keep" {
		t.Errorf("inventories after the removal: %v (%v), want only removal-keep's", units, err)
	}
	var msgs []string
	for _, e := range events.events {
		if e.Stage == reconcile.StageRemove && e.Type == reconcile.EventProgress {
			msgs = append(msgs, e.Unit+": "+e.Message)
		}
	}
	if got := strings.Join(msgs, "\n"); !strings.Contains(got, "orphan: unit removed from the configuration: orphaned") ||
		!strings.Contains(got, "pruned: unit removed from the configuration: deleted") {
		t.Errorf("removal events:\n%s", got)
	}
}
