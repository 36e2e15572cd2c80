package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

func namespaceYAML(ns string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
}

func configMapYAML(ns, name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  value: %q\n", name, ns, value)
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	_, err := clientset(t).CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func configMapValue(t *testing.T, ns, name string) (string, error) {
	t.Helper()
	cm, err := clientset(t).CoreV1().ConfigMaps(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return cm.Data["value"], nil
}

// TestPlanMatchesRun checks that Plan reports what the following Run does,
// and changes nothing itself.
func TestPlanMatchesRun(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "plan")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/ns.yaml": namespaceYAML("plan"),
		"app/a.yaml":  configMapYAML("plan", "a", "1"),
		"app/b.yaml":  configMapYAML("plan", "b", "1"),
	}})
	r := newReconciler(t, reconcile.Configuration{
		Name:    "plan",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "app", Path: "app", Prune: true}},
	}, reconcile.Options{})
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{
		Files:  map[string]string{"app/a.yaml": configMapYAML("plan", "a", "2"), "app/c.yaml": configMapYAML("plan", "c", "1")},
		Delete: []string{"app/b.yaml"},
	})
	p, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Log(text.String())
	for _, want := range []string{"create core/ConfigMap/plan/c", "update core/ConfigMap/plan/a", "/data/value: 1 -> 2", "delete core/ConfigMap/plan/b"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	// Plan changed nothing.
	if v, err := configMapValue(t, "plan", "a"); err != nil || v != "1" {
		t.Errorf("plan changed a: %q %v", v, err)
	}
	if _, err := configMapValue(t, "plan", "b"); err != nil {
		t.Errorf("plan deleted b: %v", err)
	}
	up := p.Units[0]
	s := run(t, r)
	got := unit(t, s, "app").Counts
	want := reconcile.Counts{Created: up.Apply.Count(apply.Created), Configured: up.Apply.Count(apply.Configured),
		Unchanged: up.Apply.Count(apply.Unchanged), Deleted: up.Prune.Count(apply.Deleted)}
	if got != want || want != (reconcile.Counts{Created: 1, Configured: 1, Unchanged: 1, Deleted: 1}) {
		t.Errorf("run did %+v, plan said %+v", got, want)
	}
}

// TestTenancy restricts a team's configuration to its namespace, with a
// service account that RBAC allows to write only there.
func TestTenancy(t *testing.T) {
	// Namespaces of the run's own: a rerun (go test -count=N) on the shared
	// cluster meets none of this run's objects.
	teamA, teamB, teamC := gitopstest.UniqueName("team-a"), gitopstest.UniqueName("team-b"), gitopstest.UniqueName("team-c")
	ctx := t.Context()
	cs := clientset(t)
	for _, ns := range []string{teamA, teamB} {
		createNamespace(t, ns)
	}
	if _, err := cs.CoreV1().ServiceAccounts(teamA).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reconciler"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(teamA).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "reconciler"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(teamA).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reconciler"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reconciler"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reconciler", Namespace: teamA}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, teamA)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"own/cm.yaml":           configMapYAML(teamA, "mine", "1"),
		"other/cm.yaml":         configMapYAML(teamB, "theirs", "1"),
		"cluster/ns.yaml":       namespaceYAML(teamC),
		"rbac-blocked/cm.yaml":  configMapYAML(teamB, "sneaky", "1"),
		"own-and-other/a.yaml":  configMapYAML(teamA, "half", "1"),
		"own-and-other/b.yaml":  configMapYAML(teamB, "half", "1"),
		"own-and-other/README":  "nothing of this unit may be applied",
		"cluster/README.md":     "cluster-scoped objects are refused",
		"rbac-blocked/README":   "allowed by tenancy, refused by RBAC",
		"other/README.md":       "another team's namespace",
		"own/README.md":         "this team's namespace",
		"own-and-other/c.yaml":  configMapYAML(teamA, "half-2", "1"),
		"rbac-blocked/.keep":    "",
		"cluster/.keep":         "",
		"other/.keep":           "",
		"own/.keep":             "",
		"own-and-other/.keep":   "",
		"own/nested/other.yaml": configMapYAML(teamA, "nested", "1"),
	}})
	units := []reconcile.Unit{
		{Name: "own", Path: "own"}, {Name: "other", Path: "other"}, {Name: "cluster", Path: "cluster"},
		{Name: "own-and-other", Path: "own-and-other"},
	}
	r := newReconciler(t, reconcile.Configuration{
		Name: teamA, Namespace: teamA,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   units,
		Tenancy: &reconcile.Tenancy{Namespaces: []string{teamA}, ServiceAccountName: "reconciler"},
	}, reconcile.Options{})
	s := run(t, r)
	if u := unit(t, s, "own"); u.Phase != reconcile.PhaseReady || u.Counts.Created != 2 {
		t.Errorf("own: %+v", u)
	}
	for _, name := range []string{"other", "cluster", "own-and-other"} {
		u := unit(t, s, name)
		if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonPolicyViolation {
			t.Errorf("%s: %+v, want NotReady PolicyViolation", name, u)
		}
	}
	if !strings.Contains(unit(t, s, "cluster").Message, "cluster-scoped objects are not allowed") ||
		!strings.Contains(unit(t, s, "other").Message, `namespace "`+teamB+`" is not one of [`+teamA+`]`) {
		t.Errorf("policy messages: %q / %q", unit(t, s, "cluster").Message, unit(t, s, "other").Message)
	}
	// Nothing of a refused unit was applied, not even its allowed half.
	if _, err := configMapValue(t, teamA, "half"); !apierrors.IsNotFound(err) {
		t.Errorf("team-a/half applied although its unit was refused: %v", err)
	}
	if _, err := configMapValue(t, teamB, "theirs"); !apierrors.IsNotFound(err) {
		t.Errorf("team-b/theirs: %v", err)
	}

	// Tenancy allowing team-b does not help: the service account's RBAC
	// stops the write, because the unit impersonates it.
	r2 := newReconciler(t, reconcile.Configuration{
		Name: teamA + "-wide", Namespace: teamA,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "rbac-blocked", Path: "rbac-blocked"}},
		Tenancy: &reconcile.Tenancy{Namespaces: []string{teamA, teamB}, ServiceAccountName: "reconciler"},
	}, reconcile.Options{})
	u := unit(t, run(t, r2), "rbac-blocked")
	if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonApplyFailed || !strings.Contains(u.Message, "forbidden") {
		t.Errorf("rbac-blocked: %+v", u)
	}
	if _, err := configMapValue(t, teamB, "sneaky"); !apierrors.IsNotFound(err) {
		t.Errorf("team-b/sneaky: %v", err)
	}
}

// TestSemVerUnitMovesToNewTag tracks a semver range and moves when a new
// matching tag appears, ignoring pre-releases and tags outside the range.
func TestSemVerUnitMovesToNewTag(t *testing.T) {
	ctx := t.Context()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "semver")
	tag := func(version, value string) {
		sha := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
			"ns.yaml": namespaceYAML("semver"), "cm.yaml": configMapYAML("semver", "release", value)}})
		if _, err := repo.Tag(ctx, version, sha); err != nil {
			t.Fatal(err)
		}
	}
	tag("v1.0.0", "1.0.0")
	r := newReconciler(t, reconcile.Configuration{
		Name:    "semver",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL(), Ref: source.Ref{SemVer: "1.x"}}},
		Units:   []reconcile.Unit{{Name: "app"}},
	}, reconcile.Options{})
	if u := unit(t, run(t, r), "app"); !strings.HasPrefix(u.LastAppliedRevision, "v1.0.0@sha1:") {
		t.Fatalf("first run: %+v", u)
	}
	tag("v1.1.0-rc.1", "rc")
	tag("v2.0.0", "2.0.0")
	tag("v1.1.0", "1.1.0")
	u := unit(t, run(t, r), "app")
	if !strings.HasPrefix(u.LastAppliedRevision, "v1.1.0@sha1:") || u.Counts.Configured != 1 {
		t.Errorf("after new tags: %+v", u)
	}
	if v, err := configMapValue(t, "semver", "release"); v != "1.1.0" {
		t.Errorf("release = %q (%v), want 1.1.0", v, err)
	}
}

// TestEmptyBuildRefusesToPrune: a commit that deletes every manifest of a
// unit must not wipe its objects unless the unit allows an empty build.
func TestEmptyBuildRefusesToPrune(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "empty")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/README.md": "the app", "app/ns.yaml": namespaceYAML("empty"), "app/cm.yaml": configMapYAML("empty", "keep", "1")}})
	conf := reconcile.Configuration{
		Name:    "empty",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "app", Path: "app", Prune: true}},
	}
	r := newReconciler(t, conf, reconcile.Options{})
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Delete: []string{"app/ns.yaml", "app/cm.yaml"}, Message: "oops"})
	u := unit(t, run(t, r), "app")
	if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonPruneFailed || !strings.Contains(u.Message, "refusing to prune 2 of the unit's 2 objects") {
		t.Errorf("empty build: %+v", u)
	}
	if _, err := configMapValue(t, "empty", "keep"); err != nil {
		t.Fatalf("object pruned by an empty build: %v", err)
	}
	conf.Units[0].AllowEmpty = true
	r2 := newReconciler(t, conf, reconcile.Options{})
	if u := unit(t, run(t, r2), "app"); u.Phase != reconcile.PhaseReady || u.Counts.Deleted != 2 {
		t.Errorf("allowed empty build: %+v", u)
	}
}

// TestFetchFailureKeepsLastRevision: the Git server failing leaves the unit
// NotReady with the reason, at its last applied revision, nothing pruned;
// the source's status says it failed and keeps the last revision.
func TestFetchFailureKeepsLastRevision(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "down")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"ns.yaml": namespaceYAML("down"), "cm.yaml": configMapYAML("down", "cm", "1")}})
	r := newReconciler(t, reconcile.Configuration{
		Name:    "down",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "app", Prune: true}},
	}, reconcile.Options{})
	if s := r.Status(); len(s.Sources) != 1 || s.Sources[0].Message != "not fetched yet" || s.Sources[0].Ready {
		t.Errorf("before the first run: %+v", s.Sources)
	}
	s := run(t, r)
	before := unit(t, s, "app")
	if src := s.Sources; len(src) != 1 || !src[0].Ready || src[0].Revision != before.LastAppliedRevision || src[0].URL != repo.HTTPURL() {
		t.Errorf("sources: %+v, want repo Ready at %s", src, before.LastAppliedRevision)
	}
	srv.SetHTTPFault(gitserver.FailHTTP(500))
	s = run(t, r)
	u := unit(t, s, "app")
	if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonFetchFailed || u.LastAppliedRevision != before.LastAppliedRevision {
		t.Errorf("git down: %+v", u)
	}
	if src := s.Sources[0]; src.Ready || src.Message == "" || src.Revision != before.LastAppliedRevision {
		t.Errorf("source while git is down: %+v, want not Ready with a message, at the last revision", src)
	}
	if _, err := configMapValue(t, "down", "cm"); err != nil {
		t.Errorf("object lost while Git was down: %v", err)
	}
	srv.SetHTTPFault(nil)
	if u := unit(t, run(t, r), "app"); u.Phase != reconcile.PhaseReady {
		t.Errorf("git back: %+v", u)
	}
}

// TestSourceLimits: a revision over the source's Limits fails the fetch
// with a *source.TooLargeError, and the unit keeps what it applied from the
// revision before.
func TestSourceLimits(t *testing.T) {
	name := gitopstest.UniqueName("limits")
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, name)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"ns.yaml": namespaceYAML(name), "cm.yaml": configMapYAML(name, "cm", "1")}})
	ev := &events{}
	r := newReconciler(t, reconcile.Configuration{
		Name:    name,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL(), Limits: source.Limits{MaxFiles: 3}}},
		Units:   []reconcile.Unit{{Name: "app", Prune: true}},
	}, reconcile.Options{OnEvent: ev.add})
	before := unit(t, run(t, r), "app")
	if before.Phase != reconcile.PhaseReady {
		t.Fatalf("two files, at most three: %+v", before)
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "two more files", Files: map[string]string{
		"b.yaml": configMapYAML(name, "b", "1"), "c.yaml": configMapYAML(name, "c", "1")}})
	u := unit(t, run(t, r), "app")
	if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonFetchFailed || u.LastAppliedRevision != before.LastAppliedRevision {
		t.Errorf("four files, at most three: %+v", u)
	}
	var tooLarge *source.TooLargeError
	if !slices.ContainsFunc(ev.of("app"), func(e reconcile.Event) bool { return errors.As(e.Err, &tooLarge) }) {
		t.Errorf("no event carries a *source.TooLargeError")
	}
	if _, err := configMapValue(t, name, "cm"); err != nil {
		t.Errorf("object lost when the revision was too large: %v", err)
	}
}

// TestStartLoop: the loop applies, flows a new revision down the dependency
// chain, puts drift back on its interval, and stops on cancel.
func TestStartLoop(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "loop")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"base/ns.yaml": namespaceYAML("loop"), "app/cm.yaml": configMapYAML("loop", "cm", "1")}})
	var events eventLog
	r := newReconciler(t, reconcile.Configuration{
		Name:    "loop",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units: []reconcile.Unit{
			{Name: "base", Path: "base", Interval: 300 * time.Millisecond},
			{Name: "app", Path: "app", DependsOn: []string{"base"}, Interval: 300 * time.Millisecond, RetryInterval: time.Hour},
		},
	}, reconcile.Options{OnEvent: events.handle})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Start(ctx); err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status %s", what, r.Status())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// app starts Pending (base not Ready yet) and is woken by base, not by
	// its one-hour retry interval.
	waitFor("compliance", func() bool { return r.Status().Compliant() })

	sha := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{"app/cm.yaml": configMapYAML("loop", "cm", "2")}})
	waitFor("the new revision", func() bool {
		u, _ := r.Status().Unit("app")
		return strings.HasSuffix(u.LastAppliedRevision, sha)
	})
	if v, _ := configMapValue(t, "loop", "cm"); v != "2" {
		t.Errorf("cm = %q after the new revision", v)
	}

	cm, err := clientset(t).CoreV1().ConfigMaps("loop").Get(t.Context(), "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = "drifted"
	if _, err := clientset(t).CoreV1().ConfigMaps("loop").Update(t.Context(), cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitFor("drift put back", func() bool { v, _ := configMapValue(t, "loop", "cm"); return v == "2" })

	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after cancel")
	}
	if errors.Is(t.Context().Err(), context.Canceled) {
		t.Fatal("test context cancelled")
	}
}
