package faults_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestBadCommits pushes, on top of a reconciled unit of three objects, a
// commit that empties the unit (the common accident) or breaks its YAML. The
// unit must refuse it: NotReady, nothing applied, nothing pruned, no
// inventory write. A broken build stops at the build (BuildFailed); an empty
// one applies nothing and its prune is refused by apply's guard (PruneFailed,
// an *apply.PruneRefusedError). Only a unit that allows an empty build
// prunes everything. Once the commit is fixed, the unit converges.
func TestBadCommits(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name       string
		bad        gitserver.CommitOptions
		allowEmpty bool
		empty      bool   // the build succeeds with no objects: the prune is refused
		is         error  // matched by an event error, when set
		want       string // in the unit's message
	}{
		{
			name:  "every manifest deleted, README left",
			bad:   gitserver.CommitOptions{Delete: []string{"app/a.yaml", "app/b.yaml", "app/c.yaml"}},
			empty: true,
			is:    apply.ErrPruneRefused,
			want:  "refusing to prune 3 of the unit's 3 objects",
		},
		{
			name: "the unit's directory deleted",
			bad:  gitserver.CommitOptions{Delete: []string{"app"}, Files: map[string]string{"other/README.md": "moved away"}},
			want: "app",
		},
		{
			name:  "kustomization listing no resources",
			bad:   gitserver.CommitOptions{Files: map[string]string{"app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"}},
			empty: true,
			is:    apply.ErrPruneRefused,
			want:  "AllowEmpty",
		},
		{
			name:  ".sourceignore hiding the unit's manifests",
			bad:   gitserver.CommitOptions{Files: map[string]string{".sourceignore": "app/*.yaml\n"}},
			empty: true,
			is:    apply.ErrPruneRefused,
			want:  "refusing to prune",
		},
		{
			name: "invalid YAML",
			bad: gitserver.CommitOptions{
				Files:  map[string]string{"app/a.yaml": cmYAML("%s", "a", "2"), "app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: %s\ndata:\n  value: '2'\n bad: indent\n"},
				Delete: []string{"app/c.yaml"},
			},
			is:   build.ErrMalformedYAML,
			want: "app/b.yaml",
		},
		{
			name: "tab-indented kustomization",
			bad:  gitserver.CommitOptions{Files: map[string]string{"app/kustomization.yaml": "resources:\n\t- a.yaml\n"}},
			is:   build.ErrMalformedYAML,
			want: "kustomization.yaml",
		},
		{
			name: "a document that is not an object",
			bad:  gitserver.CommitOptions{Files: map[string]string{"app/b.yaml": "- just\n- a list\n"}},
			want: "app/b.yaml",
		},
		{
			name: "an object without a kind",
			bad:  gitserver.CommitOptions{Files: map[string]string{"app/b.yaml": "apiVersion: v1\nmetadata: {name: b}\n"}},
			want: "app/b.yaml",
		},
		{
			name: "binary garbage",
			bad:  gitserver.CommitOptions{Files: map[string]string{"app/b.yaml": "\x00\xff\xfe\x01garbage\x00"}},
			want: "app/b.yaml",
		},
		{
			name:       "empty build allowed",
			bad:        gitserver.CommitOptions{Delete: []string{"app/a.yaml", "app/b.yaml", "app/c.yaml"}},
			allowEmpty: true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("commit-%d", i))
			ns := name
			good := map[string]string{
				"app/README.md": "the app",
				"app/a.yaml":    cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1"), "app/c.yaml": cmYAML(ns, "c", "1"),
			}
			e := newEnv(t, c, name, good, reconcile.Unit{Name: "app", Path: "app", Prune: true, AllowEmpty: tt.allowEmpty})
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatalf("before the bad commit: %s", s)
			}
			bad := tt.bad
			for p, content := range bad.Files {
				if strings.Contains(content, "%s") {
					bad.Files[p] = fmt.Sprintf(content, ns)
				}
			}
			bad.Message = tt.name
			e.commit(bad)
			before := e.snapshot()
			e.events.reset()
			u := unitStatus(t, e.run(r), "app")

			if tt.allowEmpty {
				if u.Phase != reconcile.PhaseReady || u.Counts.Deleted != 3 {
					t.Errorf("allowed empty build: %s (%s) %s, want Ready with 3 pruned", u.Phase, u.Reason, u.Counts)
				}
				if n := e.loadInventory("app").Len(); n != 0 {
					t.Errorf("inventory holds %d objects after an allowed empty build", n)
				}
				e.check()
				e.converge(r)
				return
			}
			wantReason := reconcile.ReasonBuildFailed
			if tt.empty {
				wantReason = reconcile.ReasonPruneFailed
			}
			if u.Phase != reconcile.PhaseNotReady || u.Reason != wantReason || u.Counts.Deleted != 0 {
				t.Errorf("unit %s (%s) %s, want NotReady (%s) with nothing pruned", u.Phase, u.Reason, u.Counts, wantReason)
			}
			if !strings.Contains(u.Message, tt.want) {
				t.Errorf("message %q lacks %q", u.Message, tt.want)
			}
			if tt.is != nil && !e.events.errorIs("app", tt.is) {
				t.Errorf("no event error matches %v: %v", tt.is, e.events.errs("app"))
			}
			if !tt.empty && e.events.reached("app", reconcile.StageApply, reconcile.StagePrune) {
				t.Error("the reconcile went on to apply or prune")
			}
			e.unchanged(before)
			e.check()

			// The fix: the unit's files back, a changed.
			fixed := merge(good, map[string]string{"app/a.yaml": cmYAML(ns, "a", "2")})
			e.commit(gitserver.CommitOptions{Files: fixed, ReplaceAll: true, Message: "fix"})
			e.converge(r)
			if v, err := e.configMapValue(ns, "a"); v != "2" {
				t.Errorf("a = %q (%v) after the fix, want 2", v, err)
			}
		})
	}
}

// TestServerRefusesCommit pushes, on top of a reconciled unit, a commit that
// builds but that the API server refuses for one object (an immutable field
// changed, an invalid name, a kind it does not serve) and that also deletes
// another object. The unit must end NotReady with ApplyFailed and prune
// nothing: pruning is only done after a complete apply. Once fixed, it
// converges and prunes.
func TestServerRefusesCommit(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name  string
		files map[string]string // %s: the unit's namespace
		want  string
	}{
		{
			name:  "immutable field changed",
			files: map[string]string{"app/frozen.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen, namespace: %s}\nimmutable: true\ndata: {value: '2'}\n"},
			want:  "immutable",
		},
		{
			name:  "name the server rejects",
			files: map[string]string{"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: %s}\n"},
			want:  "Bad_Name",
		},
		{
			name:  "kind the server does not serve",
			files: map[string]string{"app/w.yaml": "apiVersion: nowhere.example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: %s}\n"},
			want:  "Widget",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("refused-%d", i))
			ns := name
			good := map[string]string{
				"app/a.yaml":      cmYAML(ns, "a", "1"),
				"app/b.yaml":      cmYAML(ns, "b", "1"),
				"app/frozen.yaml": fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen, namespace: %s}\nimmutable: true\ndata: {value: '1'}\n", ns),
			}
			e := newEnv(t, c, name, good, reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatalf("before the refused commit: %s", s)
			}
			files := map[string]string{}
			for p, content := range tt.files {
				files[p] = fmt.Sprintf(content, ns)
			}
			e.commit(gitserver.CommitOptions{Files: files, Delete: []string{"app/b.yaml"}, Message: tt.name})
			u := unitStatus(t, e.run(r), "app")
			if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonApplyFailed || u.Counts.Deleted != 0 {
				t.Errorf("unit %s (%s) %s, want NotReady (ApplyFailed) with nothing pruned", u.Phase, u.Reason, u.Counts)
			}
			if !strings.Contains(u.Message, tt.want) {
				t.Errorf("message %q lacks %q", u.Message, tt.want)
			}
			if v, err := e.configMapValue(ns, "b"); err != nil || v != "1" {
				t.Errorf("b, deleted from Git, was pruned although the apply failed: %q %v", v, err)
			}
			if _, ok := e.loadInventory("app").Get(inventoryID(ns, "b")); !ok {
				t.Error("b left the inventory although it was not pruned")
			}
			e.check()

			fixed := merge(good, map[string]string{"app/a.yaml": cmYAML(ns, "a", "3")})
			delete(fixed, "app/b.yaml")
			e.commit(gitserver.CommitOptions{Files: fixed, ReplaceAll: true, Message: "fix"})
			e.converge(r)
			if _, err := e.configMapValue(ns, "b"); !apierrors.IsNotFound(err) {
				t.Errorf("b not pruned after the fix: %v", err)
			}
		})
	}
}

func inventoryID(ns, configMap string) inventory.ID {
	return inventory.ID{Kind: "ConfigMap", Namespace: ns, Name: configMap}
}
