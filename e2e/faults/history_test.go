package faults_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// TestGitHistoryRewritten force-pushes the branch a source is pinned to
// ("release"), under a unit that reconciled it, three ways:
//
//  1. reset to an older commit, then a new commit on top (the commit the
//     unit applied is no longer in the branch's history): a, d back / gone,
//     b changed, c deleted;
//  2. reset to a commit of an unrelated history (a root commit made on
//     another branch, as after `git push --force` of a re-initialised
//     repository);
//  3. reset back to the first commit the unit ever applied (a revision it
//     saw before).
//
// Each time the unit must follow the branch's new tip (LastAppliedRevision
// names it), apply exactly its tree and prune what is not in it: nothing
// the new tip declares is lost, nothing else is touched, and the next run
// converges.
func TestGitHistoryRewritten(t *testing.T) {
	c := sharedCluster(t)
	const branch = "release"
	name := unique("rewrite")
	ns := name
	ctx := t.Context()
	e := newEnv(t, c, name, map[string]string{
		"app/a.yaml": cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1"), "app/c.yaml": cmYAML(ns, "c", "1"),
	}, reconcile.Unit{Name: "app", Path: "app", Prune: true})
	e.conf.Sources[0].Ref = source.Ref{Branch: branch}
	e.plantSentinels(ns)
	first, err := e.repo.Head(ctx, gitserver.DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.Branch(ctx, branch, first); err != nil {
		t.Fatal(err)
	}
	r := e.reconciler(nil, reconcile.Options{})
	e.follows(r, first, map[string]string{"a": "1", "b": "1", "c": "1"})

	second := e.commit(gitserver.CommitOptions{Branch: branch, Files: map[string]string{"app/a.yaml": cmYAML(ns, "a", "2"), "app/d.yaml": cmYAML(ns, "d", "2")}, Message: "a=2, d"})
	e.follows(r, second, map[string]string{"a": "2", "b": "1", "c": "1", "d": "2"})

	t.Log("force-push: release reset to the first commit, then a new commit on top")
	if err := e.repo.ResetBranch(ctx, branch, first); err != nil {
		t.Fatal(err)
	}
	third := e.commit(gitserver.CommitOptions{Branch: branch, Files: map[string]string{"app/b.yaml": cmYAML(ns, "b", "3")}, Delete: []string{"app/c.yaml"}, Message: "rewritten: b=3, no c"})
	e.follows(r, third, map[string]string{"a": "1", "b": "3"}, "c", "d")

	t.Log("force-push: release reset to an unrelated history")
	orphan := e.commit(gitserver.CommitOptions{Branch: "reinit", Files: map[string]string{
		"app/a.yaml": cmYAML(ns, "a", "4"), "app/e.yaml": cmYAML(ns, "e", "4"),
	}, Message: "re-initialised"})
	if err := e.repo.ResetBranch(ctx, branch, orphan); err != nil {
		t.Fatal(err)
	}
	e.follows(r, orphan, map[string]string{"a": "4", "e": "4"}, "b", "c", "d")

	t.Log("force-push: release reset to the first commit the unit applied")
	if err := e.repo.ResetBranch(ctx, branch, first); err != nil {
		t.Fatal(err)
	}
	e.follows(r, first, map[string]string{"a": "1", "b": "1", "c": "1"}, "d", "e")

	t.Log("a fresh Reconciler (its record says first) after a rewrite to second's tree")
	if err := e.repo.ResetBranch(ctx, branch, second); err != nil {
		t.Fatal(err)
	}
	e.follows(e.reconciler(nil, reconcile.Options{}), second, map[string]string{"a": "2", "b": "1", "c": "1", "d": "2"}, "e")
}

// follows runs r and asserts that the unit applied revision commit: its
// ConfigMaps hold want, the ones named in gone do not exist, and the
// invariants hold.
func (e *env) follows(r *reconcile.Reconciler, commit string, want map[string]string, gone ...string) {
	e.t.Helper()
	u := unitStatus(e.t, e.run(r), "app")
	if u.Phase != reconcile.PhaseReady || !strings.Contains(u.LastAppliedRevision, commit) {
		e.t.Errorf("unit %s (%s) at %q, want Ready at %s: %s", u.Phase, u.Reason, u.LastAppliedRevision, commit, u.Message)
	}
	ns := e.conf.Name
	for cm, v := range want {
		if got, err := e.configMapValue(ns, cm); err != nil || got != v {
			e.t.Errorf("%s = %q (%v), want %q", cm, got, err, v)
		}
	}
	for _, cm := range gone {
		if _, err := e.configMapValue(ns, cm); !apierrors.IsNotFound(err) {
			e.t.Errorf("%s is not in the new history but still exists (%v)", cm, err)
		}
	}
	if n := e.loadInventory("app").Len(); n != len(want) {
		e.t.Errorf("the inventory lists %d objects, want %d", n, len(want))
	}
	e.check()
	e.converge(r)
}
