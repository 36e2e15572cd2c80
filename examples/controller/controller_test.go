package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// A bare API server is enough: the objects of the test unit (ConfigMaps, a
// Service, a ServiceAccount) are ready as soon as they exist, so wait=true
// is exercised without a simulated cluster.
// It starts with the first test that needs it: -short and a -run of tests
// that need none start none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	// controller-runtime's logger is process-wide and takes only the first
	// SetLogger: one bound to a test (testr) would outlive it and panic
	// when a rerun (go test -count=N) logs through it.
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil)))
	os.Exit(shared.Run(m))
}

// testCluster returns the shared cluster, starting it on first use; it
// skips t with -short.
func testCluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	return shared.Get(t)
}

func newClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(testCluster(t).Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond every 200ms until it returns "" (done), and fails
// the test with its last answer after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var repoFiles = map[string]string{
	"app/kustomization.yaml": "resources:\n  - config.yaml\n  - extra.yaml\n  - service.yaml\n",
	"app/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
	"app/extra.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  note: to be removed\n",
	"app/service.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`,
}

func TestGitOpsUnitLifecycle(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)

	git := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, git, "app")
	sha1 := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: repoFiles, Message: "app"})

	// Namespaces of the test's own: a rerun (go test -count=N) on the shared
	// API server meets none of this run's objects.
	unitNS := gitopstest.CreateNamespace(t, testCluster(t).Config)
	target := gitopstest.CreateNamespace(t, testCluster(t).Config)

	// The manager, as main wires it, without metrics, probes or election.
	mgrCtx, stop := context.WithCancel(context.Background())
	mgr, err := newManager(mgrCtx, testCluster(t).Config, options{CacheDir: t.TempDir(), MetricsAddr: "0", ProbeAddr: "0", Concurrency: 2, skipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	unit := &GitOpsUnit{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: unitNS},
		Spec: GitOpsUnitSpec{
			URL: repo.HTTPURL(), Ref: GitRef{Branch: "main"}, Path: "app",
			Prune: true, Wait: true, TargetNamespace: target,
			Interval: metav1.Duration{Duration: time.Second}, Timeout: metav1.Duration{Duration: time.Minute},
		},
	}
	if err := c.Create(ctx, unit); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(unit)
	wantID := inventory.ApplySetID("app", unitNS, "GitOpsUnit", "gitops.example.com")

	// waitFor polls the unit until check returns "".
	waitFor := func(what string, check func(u *GitOpsUnit) string) *GitOpsUnit {
		t.Helper()
		u := &GitOpsUnit{}
		eventually(t, time.Minute, what, func() string {
			if err := c.Get(ctx, key, u); err != nil {
				return err.Error()
			}
			if msg := check(u); msg != "" {
				return fmt.Sprintf("%s; status: %+v", msg, u.Status)
			}
			return ""
		})
		return u
	}
	readyAt := func(sha string) func(u *GitOpsUnit) string {
		return func(u *GitOpsUnit) string {
			cond := apimeta.FindStatusCondition(u.Status.Conditions, ReadyCondition)
			switch want := "main@sha1:" + sha; {
			case cond == nil || cond.Status != metav1.ConditionTrue:
				return "not Ready"
			case u.Status.LastAppliedRevision != want:
				return "lastAppliedRevision is not " + want
			case cond.ObservedGeneration != u.Generation || u.Status.ObservedGeneration != u.Generation:
				return "generation not observed"
			}
			return ""
		}
	}
	inventoryIDs := func(u *GitOpsUnit) []string {
		var ids []string
		for _, e := range u.Status.Inventory {
			ids = append(ids, inventory.Entry(e).String())
			if e.Hash == "" || e.ResourceVersion == "" || e.Version != "v1" {
				t.Errorf("inventory entry %+v lacks hash, resourceVersion or version", e)
			}
		}
		return ids
	}
	owned := func() []string {
		var names []string
		for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{}} {
			if err := c.List(ctx, list, client.InNamespace(target), client.MatchingLabels{inventory.LabelApplySetPartOf: wantID}); err != nil {
				t.Fatal(err)
			}
			_ = apimeta.EachListItem(list, func(o runtime.Object) error {
				m, _ := apimeta.Accessor(o)
				names = append(names, fmt.Sprintf("%T/%s", o, m.GetName()))
				return nil
			})
		}
		slices.Sort(names)
		return names
	}

	// 1. Created: applied, waited for, recorded in the status.
	u := waitFor("first reconcile", readyAt(sha1))
	wantInv := []string{
		"core/ConfigMap/" + target + "/extra", "core/ConfigMap/" + target + "/settings",
		"core/Service/" + target + "/web", "core/ServiceAccount/" + target + "/web",
	}
	if got := inventoryIDs(u); !slices.Equal(got, wantInv) {
		t.Errorf("inventory = %v, want %v", got, wantInv)
	}
	if got, want := u.Status.LastAttemptedRevision, "main@sha1:"+sha1; got != want {
		t.Errorf("lastAttemptedRevision = %q, want %q", got, want)
	}
	if !strings.Contains(u.Status.LastChange, "4 created") {
		t.Errorf("lastChange = %q, want 4 created", u.Status.LastChange)
	}
	if !slices.Contains(u.Finalizers, Finalizer) {
		t.Errorf("finalizers = %v, want %s", u.Finalizers, Finalizer)
	}
	if u.Labels[inventory.LabelApplySetID] != wantID ||
		u.Annotations[inventory.AnnotationApplySetGroupKinds] != "ConfigMap,Service,ServiceAccount" ||
		u.Annotations[inventory.AnnotationApplySetNamespaces] != target {
		t.Errorf("ApplySet parent metadata: labels %v annotations %v", u.Labels, u.Annotations)
	}
	want := []string{"*v1.ConfigMap/extra", "*v1.ConfigMap/settings", "*v1.Service/web", "*v1.ServiceAccount/web"}
	if got := owned(); !slices.Equal(got, want) {
		t.Errorf("objects labelled with the unit's ApplySet ID = %v, want %v", got, want)
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: target, Name: "settings"}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Labels[inventory.LabelUnit] != "app" || cm.Labels[inventory.LabelUnitNamespace] != unitNS {
		t.Errorf("settings labels = %v", cm.Labels)
	}

	// 2. A broken commit: Ready=False, the last good revision and its
	// objects stay.
	sha2 := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "broken",
		Files: map[string]string{"app/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map\n"}})
	u = waitFor("broken revision reported", func(u *GitOpsUnit) string {
		cond := apimeta.FindStatusCondition(u.Status.Conditions, ReadyCondition)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonBuildFailed {
			return "not BuildFailed"
		}
		if u.Status.LastAttemptedRevision != "main@sha1:"+sha2 {
			return "broken revision not attempted"
		}
		return ""
	})
	if u.Status.LastAppliedRevision != "main@sha1:"+sha1 || len(u.Status.Inventory) != 4 {
		t.Errorf("after a failed build: lastAppliedRevision %q, %d inventory entries; want %s and 4",
			u.Status.LastAppliedRevision, len(u.Status.Inventory), sha1)
	}

	// 3. A fix that also removes an object: pruned, inventory updated.
	sha3 := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "fix, drop extra",
		Files: map[string]string{
			"app/config.yaml":        repoFiles["app/config.yaml"],
			"app/kustomization.yaml": "resources:\n  - config.yaml\n  - service.yaml\n",
		},
		Delete: []string{"app/extra.yaml"}})
	u = waitFor("removal reconciled", readyAt(sha3))
	wantInv = slices.DeleteFunc(wantInv, func(s string) bool { return strings.HasSuffix(s, "/extra") })
	if got := inventoryIDs(u); !slices.Equal(got, wantInv) {
		t.Errorf("inventory = %v, want %v", got, wantInv)
	}
	if !strings.Contains(u.Status.LastChange, "1 pruned") {
		t.Errorf("lastChange = %q, want 1 pruned", u.Status.LastChange)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: target, Name: "extra"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap extra: %v, want NotFound", err)
	}
	want = slices.DeleteFunc(want, func(s string) bool { return strings.HasSuffix(s, "/extra") })
	if got := owned(); !slices.Equal(got, want) {
		t.Errorf("objects after prune = %v, want %v", got, want)
	}

	// 4. Drift: someone edits settings by hand. A later reconcile, on the
	// no-op path (same revision: no fetch, no build), puts Git's value back.
	cm = &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: target, Name: "settings"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "red"
	if err := c.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "drift corrected", func() string {
		if err := c.Get(ctx, client.ObjectKey{Namespace: target, Name: "settings"}, cm); err != nil {
			return err.Error()
		}
		if cm.Data["color"] != "blue" {
			return "color is " + cm.Data["color"]
		}
		return ""
	})
	u = waitFor("drift recorded", func(u *GitOpsUnit) string {
		if msg := readyAt(sha3)(u); msg != "" {
			return msg
		}
		if !strings.HasPrefix(u.Status.LastChange, "1 configured") {
			return "lastChange is not the drift correction"
		}
		return ""
	})

	// 5. Deleted: the finalizer prunes every object, then goes.
	if err := c.Delete(ctx, u); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "unit deleted", func() string {
		err := c.Get(ctx, key, &GitOpsUnit{})
		if apierrors.IsNotFound(err) {
			return ""
		}
		return fmt.Sprintf("still there (%v)", err)
	})
	if got := owned(); len(got) != 0 {
		t.Errorf("objects left after the unit was deleted: %v", got)
	}

	// 6. Without prune, deleting a unit orphans its objects: they stay,
	// without the ownership labels.
	kept := &GitOpsUnit{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: target},
		Spec: GitOpsUnitSpec{URL: repo.HTTPURL(), Path: "app", TargetNamespace: target,
			Interval: metav1.Duration{Duration: time.Second}, Timeout: metav1.Duration{Duration: time.Minute}}}
	if err := c.Create(ctx, kept); err != nil {
		t.Fatal(err)
	}
	key = client.ObjectKeyFromObject(kept)
	waitFor("unit without prune ready", readyAt(sha3))
	if err := c.Delete(ctx, kept); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "unit without prune deleted", func() string {
		if err := c.Get(ctx, key, &GitOpsUnit{}); !apierrors.IsNotFound(err) {
			return fmt.Sprintf("still there (%v)", err)
		}
		return ""
	})
	if err := c.Get(ctx, client.ObjectKey{Namespace: target, Name: "settings"}, cm); err != nil {
		t.Fatalf("orphaned ConfigMap: %v", err)
	}
	for _, l := range []string{inventory.LabelApplySetPartOf, inventory.LabelUnit, inventory.LabelUnitNamespace} {
		if _, ok := cm.Labels[l]; ok {
			t.Errorf("orphaned ConfigMap still has label %s: %v", l, cm.Labels)
		}
	}
}

// TestStatusStorage checks the inventory.Storage over the status on its own:
// round trip, and a stale version refused with *inventory.ConflictError.
func TestStatusStorage(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	kube, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	applier, err := apply.NewManager(kube, apply.ManagerOptions{FieldManager: fieldManager})
	if err != nil {
		t.Fatal(err)
	}
	if err := installCRD(ctx, applier); err != nil {
		t.Fatal(err)
	}
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	unit := &GitOpsUnit{ObjectMeta: metav1.ObjectMeta{Name: "storage", Namespace: ns},
		Spec: GitOpsUnitSpec{URL: "https://example.com/none.git", Suspend: true}}
	if err := c.Create(ctx, unit); err != nil {
		t.Fatal(err)
	}
	// Names are label values on every object: the CRD refuses longer ones.
	long := &GitOpsUnit{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 64), Namespace: ns},
		Spec: GitOpsUnitSpec{URL: "https://example.com/none.git"}}
	if err := c.Create(ctx, long); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "63 characters") {
		t.Errorf("create a unit with a 64-character name: %v, want Invalid", err)
	}

	s, err := newStatusStorage(c, c, unit)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Owner().ID, inventory.ApplySetID("storage", ns, "GitOpsUnit", "gitops.example.com"); got != want {
		t.Errorf("owner ID = %q, want %q", got, want)
	}

	inv, err := s.Load(ctx)
	if err != nil || inv.Len() != 0 || inv.ResourceVersion != unit.ResourceVersion {
		t.Fatalf("Load of a new unit = %+v, %v; want empty at %s", inv, err, unit.ResourceVersion)
	}
	stale := inv
	inv.Entries = []inventory.Entry{
		{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "b", Hash: "h", ResourceVersion: "7"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "a"},
	}
	if err := s.Save(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	if inv.ResourceVersion == stale.ResourceVersion {
		t.Error("Save did not update the resourceVersion")
	}
	back, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !inventory.Equal(back, inv) || back.ResourceVersion != inv.ResourceVersion {
		t.Errorf("Load after Save = %+v, want %+v", back, inv)
	}

	err = s.Save(ctx, &stale)
	var conflict *inventory.ConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, inventory.ErrConflict) || !apierrors.IsConflict(errors.Unwrap(err)) {
		t.Fatalf("Save at a stale version: %v, want *inventory.ConflictError", err)
	}
	if again, _ := s.Load(ctx); !inventory.Equal(again, inv) {
		t.Errorf("a refused Save changed the inventory: %+v", again)
	}
	// An empty inventory is stored as [], and loads empty.
	empty := inventory.Inventory{ResourceVersion: back.ResourceVersion}
	if err := s.Save(ctx, &empty); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Load(ctx); err != nil || again.Len() != 0 {
		t.Errorf("Load after saving an empty inventory = %+v, %v", again, err)
	}
}
