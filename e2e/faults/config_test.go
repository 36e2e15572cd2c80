package faults_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestConfigurationRefused edits a reconciled configuration into one with a
// dependency cycle or a missing dependency. reconcile.New must refuse it
// with a *reconcile.ConfigError whose cause errors.As finds as the depgraph
// error (naming the cycle, or the unit and what it misses), without a single
// request to the cluster; what the valid configuration applied stays.
func TestConfigurationRefused(t *testing.T) {
	c := sharedCluster(t)
	name := unique("config")
	ns := name
	e := newEnv(t, c, name, map[string]string{
		"a/cm.yaml": cmYAML(ns, "a", "1"), "b/cm.yaml": cmYAML(ns, "b", "1"), "c/cm.yaml": cmYAML(ns, "c", "1"),
	},
		reconcile.Unit{Name: "a", Path: "a", Prune: true},
		reconcile.Unit{Name: "b", Path: "b", Prune: true, DependsOn: []string{"a"}},
		reconcile.Unit{Name: "c", Path: "c", Prune: true, DependsOn: []string{"b"}},
	)
	e.plantSentinels(ns)
	if s := e.run(e.reconciler(nil, reconcile.Options{})); !s.Compliant() {
		t.Fatal(s)
	}
	valid := slices.Clone(e.conf.Units)
	before := e.snapshot()

	tests := []struct {
		name   string
		modify func(units []reconcile.Unit)
		check  func(t *testing.T, err error)
	}{
		{
			name:   "cycle a -> c -> b -> a",
			modify: func(u []reconcile.Unit) { u[0].DependsOn = []string{"c"} },
			check: func(t *testing.T, err error) {
				var cycle *depgraph.CycleError[string]
				if !errors.As(err, &cycle) || !slices.Equal(cycle.Cycle, []string{"a", "c", "b"}) {
					t.Errorf("CycleError = %+v", cycle)
				}
				if !errors.Is(err, depgraph.ErrCycle) || !strings.Contains(err.Error(), "a -> c -> b -> a") {
					t.Errorf("err %v does not name the cycle", err)
				}
			},
		},
		{
			name:   "unit depending on itself",
			modify: func(u []reconcile.Unit) { u[1].DependsOn = []string{"a", "b"} },
			check: func(t *testing.T, err error) {
				var cycle *depgraph.CycleError[string]
				if !errors.As(err, &cycle) || !slices.Equal(cycle.Cycle, []string{"b"}) {
					t.Errorf("CycleError = %+v", cycle)
				}
			},
		},
		{
			name:   "missing dependencies",
			modify: func(u []reconcile.Unit) { u[2].DependsOn = []string{"b", "crds", "infra"} },
			check: func(t *testing.T, err error) {
				var missing *depgraph.MissingDependencyError[string]
				if !errors.As(err, &missing) || missing.Node != "c" || !slices.Equal(missing.Missing, []string{"crds", "infra"}) {
					t.Errorf("MissingDependencyError = %+v", missing)
				}
				if !errors.Is(err, depgraph.ErrMissingDependency) {
					t.Errorf("err %v is not depgraph.ErrMissingDependency", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := e.conf
			conf.Units = slices.Clone(valid)
			for i := range conf.Units {
				conf.Units[i].DependsOn = slices.Clone(conf.Units[i].DependsOn)
			}
			tt.modify(conf.Units)
			kube, err := cluster.New(c.Config, cluster.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r, err := reconcile.New(kube, conf, reconcile.Options{})
			if r != nil {
				_ = r.Close()
				t.Fatal("New accepted the configuration")
			}
			t.Logf("New: %v", err)
			var ce *reconcile.ConfigError
			if !errors.As(err, &ce) || ce.Configuration != name || !errors.Is(err, reconcile.ErrInvalidConfiguration) {
				t.Fatalf("err %v (%T), want a *reconcile.ConfigError for %s", err, err, name)
			}
			tt.check(t, err)
			if n := kube.Requests(); n.Total() != 0 {
				t.Errorf("New made requests to the cluster for a configuration it refuses: %v", n)
			}
			e.unchanged(before)
			e.check()
		})
	}
}

// TestTenantWritesOutside: a configuration limited to the tenant's
// namespace, whose unit was reconciled, gets commits that try to write
// elsewhere: into another namespace (directly, by a kustomize namespace
// transformer, or by leaving the namespace out), or cluster-scoped objects.
// The whole unit must be refused before anything is applied: NotReady with
// PolicyViolation, reconcile.ErrPolicyViolation and the *reconcile.PolicyError
// naming the object, the allowed half not applied either, nothing pruned.
func TestTenantWritesOutside(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name  string
		files map[string]string // %[1]s: the tenant's namespace, %[2]s: the victim's
		want  string            // in the PolicyError's objects
	}{
		{
			name:  "object in another namespace",
			files: map[string]string{"app/x.yaml": cmYAML("%[2]s", "planted", "x")},
			want:  `core/ConfigMap/%[2]s/planted: namespace "%[2]s" is not one of [%[1]s]`,
		},
		{
			name:  "kustomize namespace transformer pointing elsewhere",
			files: map[string]string{"app/kustomization.yaml": "namespace: %[2]s\nresources:\n- a.yaml\n"},
			want:  `core/ConfigMap/%[2]s/a: namespace "%[2]s"`,
		},
		{
			name:  "namespaced object without a namespace",
			files: map[string]string{"app/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nowhere\n"},
			want:  "core/ConfigMap//nowhere",
		},
		{
			name:  "cluster-scoped ClusterRoleBinding to cluster-admin",
			files: map[string]string{"app/x.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: escalate-%[1]s\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects:\n- {kind: ServiceAccount, name: default, namespace: %[1]s}\n"},
			want:  "rbac.authorization.k8s.io/ClusterRoleBinding//escalate-%[1]s: cluster-scoped objects are not allowed",
		},
		{
			name:  "the tenant's own Namespace object",
			files: map[string]string{"app/x.yaml": nsYAML("%[1]s")},
			want:  "core/Namespace//%[1]s: cluster-scoped",
		},
		{
			name: "CRD with a cluster-scoped custom resource",
			files: map[string]string{
				"app/crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.%[1]s.example.com\nspec:\n  group: %[1]s.example.com\n  scope: Cluster\n  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n",
				"app/w.yaml":   "apiVersion: %[1]s.example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: %[1]s\n",
			},
			want: "%[1]s.example.com/Widget/%[1]s/w: cluster-scoped",
		},
		{
			name:  "unknown kind in another namespace",
			files: map[string]string{"app/x.yaml": "apiVersion: nowhere.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: %[2]s\n"},
			want:  `nowhere.example.com/Gadget/%[2]s/g: namespace "%[2]s"`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("tenant-%d", i))
			tenant, victim := name, name+"-victim"
			good := map[string]string{"app/a.yaml": cmYAML(tenant, "a", "1"), "app/b.yaml": cmYAML(tenant, "b", "1")}
			e := newEnv(t, c, name, good, reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.conf.Tenancy = &reconcile.Tenancy{Namespaces: []string{tenant}}
			e.plantSentinels(tenant, victim)
			r := e.reconciler(nil, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatalf("before the escape: %s", s)
			}
			files := map[string]string{"app/a.yaml": cmYAML(tenant, "a", "2")}
			for p, content := range tt.files {
				files[p] = expand(content, tenant, victim)
			}
			e.commit(gitserver.CommitOptions{Files: files, Delete: []string{"app/b.yaml"}, Message: tt.name})
			before := e.snapshot()
			u := unitStatus(t, e.run(r), "app")
			if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonPolicyViolation {
				t.Errorf("unit %s (%s), want NotReady (PolicyViolation)", u.Phase, u.Reason)
			}
			if !e.events.errorIs("app", reconcile.ErrPolicyViolation) {
				t.Errorf("no event error matches reconcile.ErrPolicyViolation: %v", e.events.errs("app"))
			}
			var pe *reconcile.PolicyError
			for _, err := range e.events.errs("app") {
				errors.As(err, &pe)
			}
			want := expand(tt.want, tenant, victim)
			if pe == nil || !strings.Contains(strings.Join(pe.Objects, "; "), want) {
				t.Errorf("PolicyError %+v does not name %q", pe, want)
			}
			e.unchanged(before)
			e.check()

			e.commit(gitserver.CommitOptions{Files: merge(good, map[string]string{"app/a.yaml": cmYAML(tenant, "a", "3")}), ReplaceAll: true, Message: "fix"})
			e.converge(r)
		})
	}
}

// expand replaces %[1]s and %[2]s in s.
func expand(s, tenant, victim string) string {
	return strings.NewReplacer("%[1]s", tenant, "%[2]s", victim).Replace(s)
}
