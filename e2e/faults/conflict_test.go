package faults_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestFieldOwnedByAnotherManager: after a unit applied a ConfigMap, another
// field manager takes its data.value (and adds a field of its own). Applying
// the unit's objects with package apply and no takeover must fail with a
// *apply.FieldConflictError naming the manager and change nothing. A
// reconcile (which always takes conflicts over: Git wins) must put the value
// back, leave the other manager's own field alone, and say beforehand, in
// its plan, which manager it takes the field from.
func TestFieldOwnedByAnotherManager(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name    string
		manager string
		// take changes data.value and adds data.extra as manager.
		take func(e *env, ns, manager string) error
	}{
		{
			name: "kubectl edit (update)", manager: "kubectl-edit",
			take: func(e *env, ns, manager string) error {
				cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(e.t.Context(), "cm", metav1.GetOptions{})
				if err != nil {
					return err
				}
				cm.Data["value"], cm.Data["extra"] = "edited", "theirs"
				_, err = e.kube.CoreV1().ConfigMaps(ns).Update(e.t.Context(), cm, metav1.UpdateOptions{FieldManager: manager})
				return err
			},
		},
		{
			name: "another server-side applier (forced)", manager: "other-applier",
			take: func(e *env, ns, manager string) error {
				body, _ := json.Marshal(map[string]any{
					"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cm", "namespace": ns},
					"data": map[string]any{"value": "edited", "extra": "theirs"},
				})
				_, err := e.kube.CoreV1().ConfigMaps(ns).Patch(e.t.Context(), "cm", types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: manager, Force: new(true)})
				return err
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			name := unique(fmt.Sprintf("fields-%d", i))
			ns := name
			manifest := cmYAML(ns, "cm", "git")
			e := newEnv(t, c, name, map[string]string{"app/cm.yaml": manifest, "app/b.yaml": cmYAML(ns, "b", "git")},
				reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatal(s)
			}
			if err := tt.take(e, ns, tt.manager); err != nil {
				t.Fatalf("%s takes data.value: %v", tt.manager, err)
			}

			// Package apply without takeover: a typed conflict naming the
			// manager; nothing changed.
			var obj unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
				t.Fatal(err)
			}
			m, err := apply.NewManager(e.admin(), apply.ManagerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Apply(ctx, []*unstructured.Unstructured{&obj}, apply.ApplyOptions{Inventory: e.store("app")})
			var conflict *apply.FieldConflictError
			if !errors.As(err, &conflict) {
				t.Fatalf("apply without takeover: %v, want a *apply.FieldConflictError", err)
			}
			if text := strings.Join(conflict.Conflicts, "; "); !strings.Contains(text, tt.manager) || !strings.Contains(text, ".data.value") {
				t.Errorf("conflicts %q do not name %s and .data.value", text, tt.manager)
			}
			if v, _ := e.configMapValue(ns, "cm"); v != "edited" {
				t.Errorf("a refused apply changed data.value to %q", v)
			}

			// The plan says what the reconcile will take, and from whom.
			plan, err := r.Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var change *apply.Change
			for i, ch := range plan.Units[0].Apply.Changes {
				if ch.Object.Name == "cm" {
					change = &plan.Units[0].Apply.Changes[i]
				}
			}
			if change == nil || change.Action != apply.Configured || !strings.Contains(change.Reason, tt.manager) {
				t.Fatalf("plan for cm: %+v, want configured with a reason naming %s", change, tt.manager)
			}
			drift := fmt.Sprint(change.Drift)
			if !strings.Contains(drift, "/data/value: edited -> git") {
				t.Errorf("planned drift %s lacks /data/value: edited -> git", drift)
			}
			t.Logf("plan: %s; drift %s", change.Reason, drift)

			// The reconcile takes the value back and leaves the other
			// manager's own field.
			u := unitStatus(t, e.run(r), "app")
			if u.Phase != reconcile.PhaseReady || u.Counts.Configured != 1 {
				t.Errorf("reconcile: %s %s, want Ready with 1 configured", u.Phase, u.Counts)
			}
			cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cm.Data["value"] != "git" || cm.Data["extra"] != "theirs" {
				t.Errorf("data after the reconcile: %v, want value=git and extra=theirs kept", cm.Data)
			}
			for _, mf := range cm.ManagedFields {
				owns := mf.FieldsV1 != nil && strings.Contains(mf.FieldsV1.GetRawString(), `"f:value"`)
				switch {
				case mf.Manager == tt.manager && owns:
					t.Errorf("%s still owns data.value", tt.manager)
				case mf.Manager == apply.DefaultFieldManager && !owns:
					t.Errorf("%s does not own data.value after the takeover", apply.DefaultFieldManager)
				}
			}
			e.check()
			e.converge(r)
		})
	}
}
