package faults_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestInventoryEditedToGarbage edits the Secret holding a unit's inventory
// (the page of the configuration's ledger) by hand (kubectl edit) to
// garbage, after a commit that changes a and deletes b.
// Where the inventory cannot be trusted the unit must stop with a typed
// error of package inventory (ApplyFailed), apply nothing and prune
// nothing; once the garbage is removed by hand — the data key deleted, or
// the label put back, the Secret itself kept — the next run converges and
// prunes b (found by the lost-inventory search when the data is gone).
// An inventory that decodes but lists objects the unit does not own (someone
// else's ConfigMaps, Secret and ClusterRole, an object labelled as another
// unit's, a kind nobody serves, an object that never existed) is used: the
// prune must skip all of them (not labelled as the unit's, or gone) and
// delete only b. (One that lists an object with the unit's copied labels is
// TestPruneSkipsCopiedLabels.)
func TestInventoryEditedToGarbage(t *testing.T) {
	c := sharedCluster(t)
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.Bytes()
	}
	dropData := func(s *corev1.Secret) { delete(s.Data, inventory.DataKey) }
	tests := []struct {
		name string
		edit func(e *env, ns string, s *corev1.Secret)
		// rewrite, instead of edit, stores a valid inventory.
		rewrite func(e *env, ns string)
		// fix removes the garbage by hand; nil when the unit must not stop.
		fix func(s *corev1.Secret)
		is  error
		as  func(error) bool
	}{
		{
			name: "random bytes",
			edit: func(_ *env, _ string, s *corev1.Secret) {
				s.Data[inventory.DataKey] = []byte("\x00\xffthis is not an inventory\x7f")
			},
			fix: dropData, is: inventory.ErrCorrupt,
		},
		{
			name: "gzip of text",
			edit: func(_ *env, _ string, s *corev1.Secret) { s.Data[inventory.DataKey] = gz("hello, world") },
			fix:  dropData, is: inventory.ErrCorrupt,
		},
		{
			name: "gzip of JSON of another format",
			edit: func(_ *env, _ string, s *corev1.Secret) {
				s.Data[inventory.DataKey] = gz(`{"format": 99, "groups": [{"k": "ConfigMap", "objects": [["a"]]}]}`)
			},
			fix: dropData, is: inventory.ErrCorrupt,
		},
		{
			name: "truncated gzip",
			edit: func(_ *env, _ string, s *corev1.Secret) {
				d := s.Data[inventory.DataKey]
				s.Data[inventory.DataKey] = d[:len(d)/2]
			},
			fix: dropData, is: inventory.ErrCorrupt,
		},
		{
			name: "ledger label garbage",
			edit: func(_ *env, _ string, s *corev1.Secret) { s.Labels[inventory.LabelLedger] = "garbage" },
			fix: func(s *corev1.Secret) {
				s.Labels[inventory.LabelLedger] = s.Annotations["faults.gitopskit.io/ledger"]
			},
			as: func(err error) bool {
				var fe *inventory.ForeignToolError
				return errors.As(err, &fe)
			},
		},
		{
			name: "data key deleted",
			edit: func(_ *env, _ string, s *corev1.Secret) { dropData(s) },
		},
		{
			name: "valid encoding listing objects the unit does not own",
			rewrite: func(e *env, ns string) {
				e.rewriteInventory("app", func(inv *inventory.Inventory) {
					for _, sn := range e.sentinels {
						if e.foreign[inventory.ID{Kind: "ConfigMap", Namespace: sn.namespace, Name: sn.name}] {
							continue // see TestPruneSkipsCopiedLabels
						}
						inv.Entries = append(inv.Entries, inventory.Entry{Group: sn.gvr.Group, Version: sn.gvr.Version,
							Kind:      map[string]string{"configmaps": "ConfigMap", "secrets": "Secret", "clusterroles": "ClusterRole"}[sn.gvr.Resource],
							Namespace: sn.namespace, Name: sn.name})
					}
					inv.Entries = append(inv.Entries,
						inventory.Entry{Group: "nowhere.example.com", Version: "v1", Kind: "Widget", Namespace: ns, Name: "w"},
						inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "never-existed"})
				})
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("garbage-%d", i))
			ns := name
			e := newEnv(t, c, name, map[string]string{
				"app/a.yaml": cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1"), "app/c.yaml": cmYAML(ns, "c", "1"),
			}, reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)
			e.plantForeign("app", ns, "foreign")
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatal(s)
			}
			if tt.rewrite != nil {
				tt.rewrite(e, ns)
			} else if err := e.updateInventorySecret(func(s *corev1.Secret) {
				s.Annotations["faults.gitopskit.io/ledger"] = e.conf.Name // where the fix finds it
				tt.edit(e, ns, s)
			}); err != nil {
				t.Fatalf("edit: %v", err)
			}
			e.commit(gitserver.CommitOptions{Files: map[string]string{"app/a.yaml": cmYAML(ns, "a", "2")}, Delete: []string{"app/b.yaml"}})

			if tt.fix != nil {
				before := e.snapshot()
				e.events.reset()
				u := unitStatus(t, e.run(r), "app")
				t.Logf("with the garbage: %s (%s) %q", u.Phase, u.Reason, u.Message)
				if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonApplyFailed || u.Counts.Deleted != 0 {
					t.Errorf("unit %s (%s) %s, want NotReady (ApplyFailed) with nothing pruned", u.Phase, u.Reason, u.Counts)
				}
				matched := false
				for _, err := range e.events.errs("app") {
					matched = matched || (tt.is != nil && errors.Is(err, tt.is)) || (tt.as != nil && tt.as(err))
				}
				if !matched {
					t.Errorf("no event error says why: %v", e.events.errs("app"))
				}
				e.unchanged(before)
				e.checkSentinels()
				t.Log("the garbage removed by hand, the Secret kept")
				if err := e.updateInventorySecret(tt.fix); err != nil {
					t.Fatalf("fix: %v", err)
				}
			}
			e.events.reset()
			u := unitStatus(t, e.run(r), "app")
			if u.Phase != reconcile.PhaseReady || u.Counts.Deleted != 1 {
				t.Errorf("after the garbage: %s (%s) %s %q, want Ready with b pruned", u.Phase, u.Reason, u.Counts, u.Message)
			}
			if _, err := e.configMapValue(ns, "b"); !apierrors.IsNotFound(err) {
				t.Errorf("b left Git but still exists: %v", err)
			}
			if v, err := e.configMapValue(ns, "a"); v != "2" {
				t.Errorf("a = %q (%v), want 2", v, err)
			}
			e.check()
			e.converge(r)
		})
	}
}
