package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// tenantsRepo: the platform's folder creates a tenant's namespace, its
// service account with admin rights there plus the right to create Flux
// Kustomizations there, and the tenant's GitRepository and Kustomization
// (acting as that account); the tenant's folder holds a ConfigMap and a
// nested Kustomization of its own namespace. PLAT, TEAM, OTHER and URL are
// replaced per test.
const tenantsRepo = `-- platform/tenant.yaml --
apiVersion: v1
kind: Namespace
metadata: {name: TEAM}
---
apiVersion: v1
kind: Namespace
metadata: {name: OTHER}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: TEAM}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer-admin, namespace: TEAM}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: ServiceAccount, name: deployer, namespace: TEAM}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: flux-tenant, namespace: TEAM}
rules:
  - apiGroups: [kustomize.toolkit.fluxcd.io]
    resources: [kustomizations]
    verbs: [create, get, list, watch, patch, update, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer-flux, namespace: TEAM}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: flux-tenant}
subjects: [{kind: ServiceAccount, name: deployer, namespace: TEAM}]
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: GitRepository
metadata: {name: tenant, namespace: TEAM}
spec:
  interval: 5m
  url: URL
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata: {name: tenant, namespace: TEAM}
spec:
  interval: 5m
  path: ./tenant
  prune: true
  serviceAccountName: deployer
  sourceRef: {kind: GitRepository, name: tenant}
-- tenant/hello.yaml --
apiVersion: v1
kind: ConfigMap
metadata: {name: hello, namespace: TEAM}
data: {from: tenant}
-- tenant/nested.yaml --
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: nested, namespace: TEAM}
spec:
  interval: 5m
  path: ./nested
  prune: true
  sourceRef: {kind: GitRepository, name: tenant}
-- nested/cm.yaml --
apiVersion: v1
kind: ConfigMap
metadata: {name: nested, namespace: TEAM}
data: {from: nested}
`

const tenantsRoot = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: PLAT}
spec:
  interval: 5m
  url: URL
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: platform, namespace: PLAT}
spec:
  interval: 5m
  path: ./platform
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
`

// splitFiles reads "-- path --" sections.
func splitFiles(s string, names *strings.Replacer) map[string]string {
	files := map[string]string{}
	var path string
	for _, line := range strings.SplitAfter(s, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "-- "); ok && strings.HasSuffix(p, " --") {
			path = strings.TrimSuffix(p, " --")
			continue
		}
		files[path] += names.Replace(line)
	}
	return files
}

// TestFluxTenants: a platform's build declares a tenant whose Kustomization
// acts as the tenant's service account, and whose own build declares a
// nested Kustomization (which acts as the same account). A tenant that
// declares a Kustomization in another namespace, naming that namespace's
// account, is refused before anything of its build is applied: the
// account may not create it (RBAC), as Flux's apply of it would be denied.
func TestFluxTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := t.Context()
	id := fmt.Sprintf("%05d", time.Now().UnixNano()%100000)
	plat, team, other := "plat-"+id, "team-"+id, "other-"+id
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	names := strings.NewReplacer("PLAT", plat, "TEAM", team, "OTHER", other, "URL", repo.HTTPURL())
	files := splitFiles(tenantsRepo, names)
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "a platform and a tenant"})
	conf, err := reconcile.LoadFlux(ctx, []byte(names.Replace(tenantsRoot)), reconcile.FluxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newReconciler(t, conf, reconcile.Options{})
	s := run(t, r)
	tenantUnit, nestedUnit := team+"-tenant", team+"-nested"
	if !s.Compliant() || len(s.Units) != 3 {
		t.Fatalf("want platform, %s and %s Ready: %s", tenantUnit, nestedUnit, s)
	}
	if n := unit(t, s, nestedUnit); n.DeclaredBy != tenantUnit {
		t.Errorf("nested declared by %q", n.DeclaredBy)
	}
	// The tenant's GitRepository, declared by the platform's build, is in
	// the status tree under the platform.
	declared := 0
	for _, src := range s.Sources {
		if src.DeclaredBy != "" {
			declared++
			if !src.Ready || src.Revision == "" || src.DeclaredBy != unit(t, s, tenantUnit).DeclaredBy {
				t.Errorf("source %+v, want Ready, declared by the unit that declared %s", src, tenantUnit)
			}
		}
	}
	if declared != 1 {
		t.Errorf("sources %+v: want one declared by a build", s.Sources)
	}
	// A render with no cluster gives what the reconcile applied.
	rendering, err := reconcile.Render(ctx, conf, reconcile.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rendering.Units) != 3 {
		t.Errorf("rendered %d units, want 3", len(rendering.Units))
	}
	assertRenderMatches(t, rendering, s)
	cs := clientset(t)
	cm, err := cs.CoreV1().ConfigMaps(team).Get(ctx, "nested", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mf := cm.ManagedFields; len(mf) == 0 {
		t.Errorf("nested ConfigMap has no managed fields")
	}
	// Every unit converges: a second run changes nothing.
	s = run(t, r)
	for _, u := range s.Units {
		if !u.Compliant() || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
			t.Errorf("second run: %s %s %v", u.Name, u.Phase, u.Counts)
		}
	}

	// The tenant tries to get out: a Kustomization in another namespace,
	// acting as that namespace's default account.
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "escape", Files: map[string]string{
		"tenant/hello.yaml": strings.Replace(files["tenant/hello.yaml"], "{from: tenant}", "{from: tenant, changed: \"yes\"}", 1),
		"tenant/escape.yaml": names.Replace("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n" +
			"metadata: {name: escape, namespace: OTHER}\nspec: {interval: 5m, path: ./nested, serviceAccountName: default, targetNamespace: OTHER,\n" +
			"  sourceRef: {kind: GitRepository, name: tenant, namespace: TEAM}}\n"),
	}})
	s = run(t, r)
	tu := unit(t, s, tenantUnit)
	if tu.Reason != reconcile.ReasonPolicyViolation || !strings.Contains(tu.Message, "may not create it (RBAC)") ||
		!strings.Contains(tu.Message, "Kustomization/"+other+"/escape") {
		t.Errorf("tenant after the escape attempt: %s %s", tu.Reason, tu.Message)
	}
	if _, ok := s.Unit(other + "-escape"); ok {
		t.Errorf("the escaping Kustomization became a unit: %s", s)
	}
	cm, err = cs.CoreV1().ConfigMaps(team).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil || cm.Data["changed"] != "" {
		t.Errorf("the refused build was applied: %v %v", cm.Data, err)
	}
	if _, err := cs.CoreV1().ConfigMaps(other).Get(ctx, "nested", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a ConfigMap in %s: %v, want NotFound", other, err)
	}
}
