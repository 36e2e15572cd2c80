package reconcile_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestFluxDeletionPolicy: when the bootstrap root (which prunes) stops
// declaring its Kustomizations, each one's spec.deletionPolicy decides,
// as in Flux: MirrorPrune follows the child's prune (keep), Delete deletes though
// the child does not prune, Orphan keeps though it does, and
// WaitForTermination deletes and fails the removal while a finalizer
// holds an object.
func TestFluxDeletionPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, testCluster(t).Config)
	cs := clientset(t)
	const finalizer = "example.com/hold"

	children := map[string]string{ // name: spec lines
		"mirror": "  prune: false\n", // stays
		"keep":   "  prune: false\n",
		"delete": "  prune: false\n  deletionPolicy: Delete\n",
		"orphan": "  deletionPolicy: Orphan\n",
		"wait":   "  deletionPolicy: WaitForTermination\n  timeout: 3s\n",
	}
	files := map[string]string{}
	var units []string
	for name, spec := range children {
		// fleetKustomization prunes; a later "prune:" line wins in YAML.
		units = append(units, strings.Replace(fleetKustomization(name, ns, spec), "  prune: true\n", "", 1))
		meta := fmt.Sprintf("{name: %s, namespace: %s}", name, ns)
		if name == "wait" {
			meta = fmt.Sprintf("{name: %s, namespace: %s, finalizers: [%s]}", name, ns, finalizer)
		}
		files[name+"/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: " + meta + "\n"
	}
	files["clusters/prod/units.yaml"] = strings.Join(units, "---\n")
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "four children", Files: files})
	conf := bootstrapRoot(t, ns, repo.HTTPURL(), "./clusters/prod", "deletion")
	var events eventLog
	r := newReconciler(t, conf, reconcile.Options{OnEvent: events.handle})
	t.Cleanup(func() { // let the namespace go
		_, _ = cs.CoreV1().ConfigMaps(ns).Patch(ctx, "wait", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})

	if s := run(t, r); !s.Compliant() {
		t.Fatalf("not compliant: %s", s)
	}
	// One child stays: a build that declares none is refused (an
	// empty build never wipes a unit).
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "one child left", Files: map[string]string{
		"clusters/prod/units.yaml": fleetKustomization("mirror", ns, ""),
	}})
	run(t, r)

	state := func(name string) string {
		t.Helper()
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return "deleted"
		case err != nil:
			t.Fatal(err)
		case cm.DeletionTimestamp != nil:
			return "terminating"
		}
		if len(cm.Labels) > 0 {
			return "kept, labelled"
		}
		return "kept"
	}
	for name, want := range map[string]string{"mirror": "kept, labelled", "keep": "kept", "delete": "deleted", "orphan": "kept", "wait": "terminating"} {
		if got := state(name); got != want {
			t.Errorf("%s's ConfigMap: %s, want %s", name, got, want)
		}
	}
	events.mu.Lock()
	var waitFailed string
	for _, e := range events.events {
		if e.Unit == "wait" && e.Type == reconcile.EventFailed && e.Stage == reconcile.StageRemove {
			waitFailed = e.Message
		}
	}
	events.mu.Unlock()
	if !strings.Contains(waitFailed, "waiting for the termination of 1 object(s), core/ConfigMap/"+ns+"/wait") {
		t.Errorf("the removal of wait: %q, want it failed waiting for its ConfigMap", waitFailed)
	}

	// The finalizer goes: the next round removes the unit for good.
	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "wait", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	events.mu.Lock()
	events.events = nil
	events.mu.Unlock()
	if s := run(t, r); !s.Compliant() {
		t.Errorf("after the finalizer went: %s", s)
	}
	if got := state("wait"); got != "deleted" {
		t.Errorf("wait's ConfigMap: %s, want deleted", got)
	}
	events.mu.Lock()
	defer events.mu.Unlock()
	for _, e := range events.events {
		if e.Unit == "wait" && e.Type == reconcile.EventFailed {
			t.Errorf("wait: %s", e.Message)
		}
	}
}
