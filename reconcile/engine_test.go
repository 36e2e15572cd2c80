package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/reconcile"
)

// events records a reconciler's events.
type events struct {
	mu  sync.Mutex
	all []reconcile.Event
}

func (e *events) add(ev reconcile.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) of(unit string) []reconcile.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []reconcile.Event
	for _, ev := range e.all {
		if ev.Unit == unit {
			out = append(out, ev)
		}
	}
	return out
}

// serviceAccount creates namespace ns, a service account sa in it, and a
// Role there granting verbs on resources (of the core group), bound to it.
func serviceAccount(t *testing.T, ns, sa string, resources, verbs []string) {
	t.Helper()
	ctx := t.Context()
	cs := clientset(t)
	createNamespace(t, ns)
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: sa},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: resources, Verbs: verbs}}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: sa},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestEngineHelmUnitUnderTenancy: a Helm unit passes the configuration's
// admission (templates and hooks alike) before any Helm action, and acts as
// its service account, so RBAC denies what the account may not do.
func TestEngineHelmUnitUnderTenancy(t *testing.T) {
	// A namespace of the run's own: a rerun (go test -count=N) on the shared
	// cluster meets none of this run's objects.
	ns := gitopstest.UniqueName("eng-helm")
	serviceAccount(t, ns, "deployer", []string{"configmaps", "secrets"}, []string{"*"})
	createNamespace(t, ns+"-other")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: b\n"
	crb := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {{ .Release.Name }}-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: " + ns + "\n"
	hook := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  namespace: kube-system\n  annotations:\n    helm.sh/hook: pre-install\ndata:\n  a: b\n"
	chart := func(name string, templates map[string]string) map[string]string {
		files := map[string]string{"charts/" + name + "/Chart.yaml": "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n"}
		for f, c := range templates {
			files["charts/"+name+"/templates/"+f] = c
		}
		return files
	}
	files := map[string]string{}
	for n, tpl := range map[string]map[string]string{
		"inside": {"cm.yaml": cm}, "escalate": {"cm.yaml": cm, "crb.yaml": crb}, "hook": {"cm.yaml": cm, "hook.yaml": hook},
	} {
		for f, c := range chart(n, tpl) {
			files[f] = c
		}
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, ns)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files})
	helmUnit := func(name, ns string) reconcile.Unit {
		return reconcile.Unit{Name: name, Helm: &helmrelease.Release{Name: name, Namespace: ns,
			Chart: helmrelease.ChartRef{Path: "charts/" + name}}}
	}
	other := helmUnit("inside", ns+"-other")
	other.Name = "rbac-denied"
	r := newReconciler(t, reconcile.Configuration{
		Name: ns, Namespace: ns,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{helmUnit("inside", ns), helmUnit("escalate", ns), helmUnit("hook", ns), other},
		// eng-helm-other is allowed by the tenancy, not by the account's RBAC.
		Tenancy: &reconcile.Tenancy{Namespaces: []string{ns, ns + "-other"}, ServiceAccountName: "deployer"},
	}, reconcile.Options{})
	s := run(t, r)
	if u := unit(t, s, "inside"); u.Phase != reconcile.PhaseReady {
		t.Errorf("inside: %+v", u)
	}
	for _, name := range []string{"escalate", "hook"} {
		if u := unit(t, s, name); u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonPolicyViolation {
			t.Errorf("%s: %+v, want PolicyViolation", name, u)
		}
	}
	if u := unit(t, s, "rbac-denied"); u.Phase != reconcile.PhaseNotReady || !strings.Contains(u.Message, "forbidden") {
		t.Errorf("rbac-denied: %+v, want a refusal by RBAC", u)
	}
	cs := clientset(t)
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(t.Context(), "escalate-admin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRoleBinding of a refused Helm unit: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("kube-system").Get(t.Context(), "hook-hook", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("hook of a refused Helm unit: %v", err)
	}
	for _, name := range []string{"escalate", "hook"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: nothing of a refused release may be installed: %v", name, err)
		}
	}
}

// TestEngineRemovalActsAsServiceAccount: a unit removed from the
// configuration is deleted as the service account it acted as: when RBAC
// no longer lets the account delete, the objects stay and the removal is
// retried.
func TestEngineRemovalActsAsServiceAccount(t *testing.T) {
	// A namespace of the run's own: a rerun (go test -count=N) on the shared
	// cluster meets none of this run's objects.
	ns := gitopstest.UniqueName("eng-remove")
	serviceAccount(t, ns, "deployer", []string{"configmaps"}, []string{"*"})
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, ns)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"a/cm.yaml": configMapYAML(ns, "a", "1"), "b/cm.yaml": configMapYAML(ns, "b", "1")}})
	conf := reconcile.Configuration{
		Name: ns, Namespace: ns,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "a", Path: "a", Prune: true}, {Name: "b", Path: "b", Prune: true}},
		Tenancy: &reconcile.Tenancy{Namespaces: []string{ns}, ServiceAccountName: "deployer"},
	}
	if s := run(t, newReconciler(t, conf, reconcile.Options{})); !s.Compliant() {
		t.Fatal(s)
	}
	// The account may no longer delete.
	cs := clientset(t)
	role, err := cs.RbacV1().Roles(ns).Get(t.Context(), "deployer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules[0].Verbs = []string{"get", "list", "watch", "create", "update", "patch"}
	if _, err := cs.RbacV1().Roles(ns).Update(t.Context(), role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	conf.Units = conf.Units[:1] // b leaves the configuration
	ev := &events{}
	run(t, newReconciler(t, conf, reconcile.Options{OnEvent: ev.add}))
	if _, err := configMapValue(t, ns, "b"); err != nil {
		t.Fatalf("b deleted although its service account may not delete: %v", err)
	}
	failed := false
	for _, e := range ev.of("b") {
		if e.Stage == reconcile.StageRemove && e.Type == reconcile.EventFailed && strings.Contains(e.Message, "forbidden") {
			failed = true
		}
	}
	if !failed {
		t.Errorf("no forbidden removal reported for b: %+v", ev.of("b"))
	}
	// Allowed again: the removal is retried and deletes.
	if role, err = cs.RbacV1().Roles(ns).Get(t.Context(), "deployer", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	role.Rules[0].Verbs = []string{"*"}
	if _, err := cs.RbacV1().Roles(ns).Update(t.Context(), role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	run(t, newReconciler(t, conf, reconcile.Options{}))
	if _, err := configMapValue(t, ns, "b"); !apierrors.IsNotFound(err) {
		t.Errorf("b after the retried removal: %v", err)
	}
}

// TestEnginePlanAgreesWithRun: a plan on a fresh cluster of a unit that
// creates its namespace says "would create"; a plan of an empty build says
// what Run will do (refuse to prune), and Run does exactly that.
func TestEnginePlanAgreesWithRun(t *testing.T) {
	// Names of the run's own: a rerun (go test -count=N) on the shared
	// cluster meets none of this run's objects.
	name := gitopstest.UniqueName("eng-plan")
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, name)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/ns.yaml": namespaceYAML(name + "-fresh"), "app/cm.yaml": configMapYAML(name+"-fresh", "c", "1")}})
	conf := reconcile.Configuration{
		Name: name, Namespace: name + "-records",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "app", Path: "app", Prune: true}},
	}
	r := newReconciler(t, conf, reconcile.Options{})
	p, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	up := p.Units[0]
	if up.Err != nil || up.Apply.Count(apply.Created) != 2 {
		t.Fatalf("plan on a fresh cluster: %v %+v", up.Err, up.Apply)
	}
	if _, err := clientset(t).CoreV1().Namespaces().Get(t.Context(), name+"-fresh", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the plan created the namespace: %v", err)
	}
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Delete: []string{"app/ns.yaml", "app/cm.yaml"},
		Files: map[string]string{"app/README.md": "emptied"}, Message: "oops"})
	p, err = r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(p.Units[0].Err, apply.ErrPruneRefused) {
		t.Errorf("plan of an empty build: %v, want the prune refusal Run will give", p.Units[0].Err)
	}
	u := unit(t, run(t, r), "app")
	if u.Reason != reconcile.ReasonPruneFailed || !strings.Contains(u.Message, "desired set is empty") {
		t.Errorf("run of an empty build: %+v", u)
	}
	if _, err := configMapValue(t, name+"-fresh", "c"); err != nil {
		t.Errorf("pruned by an empty build: %v", err)
	}
}

// TestEngineNoLevelBarrier: a unit starts as soon as its own dependency is
// Ready, while an unrelated slow unit of the same level still waits.
func TestEngineNoLevelBarrier(t *testing.T) {
	pvc := "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: never-bound\n  namespace: eng-barrier\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: none\n  resources:\n    requests:\n      storage: 1Gi\n"
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "eng-barrier")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"ns/ns.yaml": namespaceYAML("eng-barrier"), "slow/pvc.yaml": pvc,
		"a/cm.yaml": configMapYAML("eng-barrier", "a", "1"), "b/cm.yaml": configMapYAML("eng-barrier", "b", "1")}})
	ev := &events{}
	r := newReconciler(t, reconcile.Configuration{
		Name:    "eng-barrier",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units: []reconcile.Unit{
			{Name: "ns", Path: "ns"},
			{Name: "slow", Path: "slow", DependsOn: []string{"ns"}, Wait: true, Timeout: 15 * time.Second},
			{Name: "a", Path: "a", DependsOn: []string{"ns"}, Wait: true},
			{Name: "b", Path: "b", DependsOn: []string{"a"}, Wait: true},
		},
	}, reconcile.Options{OnEvent: ev.add})
	s := run(t, r)
	if u := unit(t, s, "b"); u.Phase != reconcile.PhaseReady {
		t.Fatalf("b: %+v", u)
	}
	if u := unit(t, s, "slow"); u.Reason != reconcile.ReasonHealthCheckFailed {
		t.Fatalf("slow: %+v, want a health timeout", u)
	}
	doneAt := func(unit string) time.Time {
		for _, e := range ev.of(unit) {
			if e.Type == reconcile.EventDone {
				return e.Time
			}
		}
		t.Fatalf("no Done event for %s", unit)
		return time.Time{}
	}
	if !doneAt("b").Before(doneAt("slow")) {
		t.Errorf("b (level 2) finished at %s, after slow (level 1) at %s: a level barrier", doneAt("b"), doneAt("slow"))
	}
}

// TestEngineObjectEvents: per-object events, in order: apply, then health
// for each object; a later commit's prune.
func TestEngineObjectEvents(t *testing.T) {
	// A namespace of the run's own: a rerun (go test -count=N) on the shared
	// cluster meets none of this run's objects.
	ns := gitopstest.UniqueName("eng-events")
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, ns)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/ns.yaml": namespaceYAML(ns), "app/a.yaml": configMapYAML(ns, "a", "1"),
		"app/b.yaml": configMapYAML(ns, "b", "1")}})
	ev := &events{}
	r := newReconciler(t, reconcile.Configuration{
		Name:    ns,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "app", Path: "app", Prune: true, Wait: true}},
	}, reconcile.Options{OnEvent: ev.add})
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	var seq []string
	for _, e := range ev.of("app") {
		if e.Type == reconcile.EventObject {
			seq = append(seq, string(e.Stage)+" "+e.Object.Name+" "+e.Action)
		}
	}
	want := []string{"apply " + ns + " created", "apply a created", "apply b created"}
	if len(seq) < 6 || !slices.Equal(seq[:3], want) {
		t.Fatalf("object events %q, want %q then health", seq, want)
	}
	for _, name := range []string{ns, "a", "b"} {
		if !slices.Contains(seq[3:], "health "+name+" Current") {
			t.Errorf("no health event for %s in %q", name, seq)
		}
	}
	ev.mu.Lock()
	ev.all = nil
	ev.mu.Unlock()
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Delete: []string{"app/b.yaml"}})
	if s := run(t, r); !s.Compliant() {
		t.Fatal(s)
	}
	seq = nil
	for _, e := range ev.of("app") {
		if e.Type == reconcile.EventObject && e.Stage != reconcile.StageHealth {
			seq = append(seq, string(e.Stage)+" "+e.Object.Name+" "+e.Action)
		}
	}
	if !slices.Equal(seq, []string{"apply " + ns + " unchanged", "apply a unchanged", "prune b deleted"}) {
		t.Errorf("events of the second run: %q", seq)
	}
}

// TestEngineOwnershipConflict: two units of a configuration declaring the
// same object is a configuration error naming both, before either applies
// it twice, whatever the order.
func TestEngineOwnershipConflict(t *testing.T) {
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "eng-own")
	createNamespace(t, "eng-own")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"x/cm.yaml": configMapYAML("eng-own", "shared", "x"), "y/cm.yaml": configMapYAML("eng-own", "shared", "y")}})
	r := newReconciler(t, reconcile.Configuration{
		Name:    "eng-own",
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units:   []reconcile.Unit{{Name: "x", Path: "x"}, {Name: "y", Path: "y"}},
	}, reconcile.Options{})
	s := run(t, r)
	x, y := unit(t, s, "x"), unit(t, s, "y")
	if (x.Phase == reconcile.PhaseReady) == (y.Phase == reconcile.PhaseReady) {
		t.Fatalf("exactly one unit may own the object: x %+v, y %+v", x, y)
	}
	loser := y
	if x.Phase != reconcile.PhaseReady {
		loser = x
	}
	if loser.Reason != reconcile.ReasonPolicyViolation || !strings.Contains(loser.Message, "also declared by unit") {
		t.Errorf("conflict: %+v", loser)
	}
}

// TestEngineTimeoutPerStage: Unit.Timeout bounds each stage on its own. The
// unit's build fetches a remote file that a loopback server sends after
// stageTime, and its wait lasts stageTime more (the ConfigMap it applies is
// ready, by its CEL check, only when the test marks it so): the unit as a
// whole takes longer than its Timeout, each stage less, and it is Ready.
func TestEngineTimeoutPerStage(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	const stageTime, timeout = 5 * time.Second, 8 * time.Second
	ns := gitopstest.UniqueName("eng-stages")
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(stageTime):
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, configMapYAML(ns, "gate", "1"))
	}))
	t.Cleanup(remote.Close)
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, ns)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"app/ns.yaml":            namespaceYAML(ns),
		"app/kustomization.yaml": "resources: [ns.yaml, " + remote.URL + "/gate.yaml]\n"}})

	// Once the unit applied the ConfigMap, mark it ready stageTime later.
	marked := make(chan error, 1)
	go func() {
		cms := clientset(t).CoreV1().ConfigMaps(ns)
		err := wait.PollUntilContextCancel(t.Context(), 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			_, err := cms.Get(ctx, "gate", metav1.GetOptions{})
			return err == nil, nil
		})
		if err == nil {
			select {
			case <-time.After(stageTime):
				_, err = cms.Patch(t.Context(), "gate", types.MergePatchType, []byte(`{"data":{"ready":"yes"}}`), metav1.PatchOptions{})
			case <-t.Context().Done():
				err = t.Context().Err()
			}
		}
		marked <- err
	}()

	r := newReconciler(t, reconcile.Configuration{
		Name:    ns,
		Sources: []reconcile.Source{{Name: "repo", URL: repo.HTTPURL()}},
		Units: []reconcile.Unit{{Name: "app", Path: "app", Wait: true, Timeout: timeout,
			Build: build.KustomizeOptions{AllowRemoteBases: true},
			HealthChecks: []health.CELCheck{{APIVersion: "v1", Kind: "ConfigMap",
				Current: `has(self.data.ready) && self.data.ready == "yes"`}}}},
	}, reconcile.Options{})
	s := run(t, r)
	if err := <-marked; err != nil {
		t.Fatalf("marking the ConfigMap ready: %v", err)
	}
	u := unit(t, s, "app")
	if u.Phase != reconcile.PhaseReady {
		t.Fatalf("app: %s (%s) %s; want Ready, each stage within its own %s", u.Phase, u.Reason, u.Message, timeout)
	}
	if u.Duration <= timeout {
		t.Fatalf("app took %s, not more than its Timeout %s: the test did not make two slow stages", u.Duration, timeout)
	}
}
