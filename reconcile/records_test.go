package reconcile_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/cluster"
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

// TestInventoryWritesShared: the units' inventories share the writes of a
// ledger. A first run of 40 new units writes inventories at most once per
// unit plus once per page (each unit's own record cost two writes), and a
// no-op run writes none; a new process loads them all with one LIST.
func TestInventoryWritesShared(t *testing.T) {
	const units = 40
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "shared-writes")
	files := map[string]string{}
	conf := reconcile.Configuration{
		Name:    gitopstest.UniqueName("shared-writes"),
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
	}
	for i := range units {
		name := fmt.Sprintf("u%02d", i)
		files[name+"/a.yaml"] = configMapYAML(ns, name+"-a", "1")
		files[name+"/b.yaml"] = configMapYAML(ns, name+"-b", "1")
		conf.Units = append(conf.Units, reconcile.Unit{Name: name, Path: name, Prune: true})
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files})

	writes := func(c *cluster.Cluster) int { return c.Requests().Verb("create") + c.Requests().Verb("update") }
	c := kube(t)
	r, err := reconcile.New(c, conf, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	first := writes(c)
	t.Logf("first run of %d units: %d creates and updates (inventory pages, the record's namespace)", units, first)
	if first > units+2 {
		t.Errorf("first run: %d creates and updates for %d units, want at most one per unit, the page and the namespace", first, units)
	}
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	if writes(c)-first > 1 {
		t.Errorf("no-op run: %d more creates and updates, want none but the namespace's", writes(c)-first)
	}

	ledger, err := inventory.NewLedger(kube(t), inventory.LedgerOptions{Name: conf.Name, Namespace: reconcile.DefaultNamespace})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ledger.Units(t.Context())
	if err != nil || len(stored) != units {
		t.Fatalf("the ledger holds %d units (%v), want %d", len(stored), err, units)
	}
	for _, name := range stored {
		u, err := ledger.Unit(name)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := u.Load(t.Context())
		if err != nil || inv.Len() != 2 || inv.Entries[0].Hash == "" || inv.Entries[0].ResourceVersion == "" {
			t.Errorf("%s: %v (%v), want its 2 objects with their hashes and resourceVersions", name, inv.Entries, err)
		}
	}
}
