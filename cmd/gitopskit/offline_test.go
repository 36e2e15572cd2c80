package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/internal/demo"
)

// treeRepo is a bootstrap-style repository: the build of clusters/prod
// declares the Kustomizations infra and apps; apps substitutes variables
// from a ConfigMap infra renders and from a ConfigMap and a Secret only
// the cluster (or --objects) has.
var treeRepo = map[string]string{
	"clusters/prod/kustomization.yaml": "resources: [infra.yaml, apps.yaml]\n",
	"clusters/prod/infra.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: cli-render}
spec:
  interval: 10m
  path: ./infra
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
`,
	"clusters/prod/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: cli-render}
spec:
  interval: 10m
  path: ./apps
  prune: true
  dependsOn: [{name: infra}]
  sourceRef: {kind: GitRepository, name: fleet}
  postBuild:
    substituteFrom:
      - {kind: ConfigMap, name: cluster-vars}
      - {kind: ConfigMap, name: team-vars}
      - {kind: Secret, name: tokens}
`,
	"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cli-apps\n",
	"infra/vars.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: cli-render\ndata:\n  greeting: hello\n",
	"apps/app.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: cli-apps}
data:
  greeting: ${greeting}
  owner: ${owner:=nobody}
---
apiVersion: v1
kind: Secret
metadata: {name: app-token, namespace: cli-apps}
stringData:
  token: ${token:=none}
`,
}

const treeRoot = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: cli-render}
spec: {interval: 1m, url: %q, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: root, namespace: cli-render}
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// render of a tree: the units a build declares, in dependency order, with
// what only the cluster has as gaps, then from --objects; as text, yaml
// and json. No cluster.
func TestRenderTree(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: treeRepo, Message: "tree"})
	root := writeFile(t, dir, "root.yaml", fmt.Sprintf(treeRoot, repo.HTTPURL()))
	secret := "t0ps3cret"
	objects := writeFile(t, dir, "objects.yaml", fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: team-vars, namespace: cli-render}
data: {owner: alice}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: tokens, namespace: cli-render}
    data: {token: %s}
`, base64.StdEncoding.EncodeToString([]byte(secret))))
	noKube := []string{"--kubeconfig", filepath.Join(dir, "none")}

	// Text, no --objects: the tree, and two gaps, not guesses.
	r := gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", root, "-o", "text"}, noKube...)...)
	if r.code != exitOK {
		t.Fatalf("render -o text: exit %d", r.code)
	}
	mustMatch(t, "render -o text", r.stdout,
		`(?s)^root @ main@sha1:\w+\n  declared by the configuration \(Kustomization cli-render/root\)\n  no objects\n`+
			`infra @ main@sha1:\w+\n  declared by unit root \(Kustomization cli-render/infra\)\n  core/ConfigMap/cli-render/cluster-vars\n  core/Namespace//cli-apps\n`+
			`apps @ main@sha1:\w+\n  declared by unit root \(Kustomization cli-render/apps\)\n`,
		`(?m)^  gap: .*team-vars`, `(?m)^  gap: .*tokens`, `(?m)^  core/Secret/cli-apps/app-token$`,
		`(?m)^render: 3 unit\(s\), 4 object\(s\); 2 gap\(s\)$`)

	// A bootstrapped repository's GitRepository names the credentials
	// Secret flux bootstrap made in the cluster: with no such Secret in
	// --objects, a repository that needs none renders, with a note.
	bootstrapped := writeFile(t, dir, "bootstrapped.yaml", strings.Replace(fmt.Sprintf(treeRoot, repo.HTTPURL()),
		"ref: {branch: main}}", "ref: {branch: main}, secretRef: {name: flux-system}}", 1))
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", bootstrapped, "-o", "text"}, noKube...)...)
	if r.code != exitOK || !strings.Contains(r.stderr, "Secret cli-render/flux-system is not in --objects: what names it is read without credentials") {
		t.Fatalf("render of a bootstrapped repository: exit %d, stderr %q", r.code, r.stderr)
	}
	mustMatch(t, "render -o text", r.stdout, `(?m)^render: 3 unit\(s\), 4 object\(s\); 2 gap\(s\)$`)

	// YAML, with --objects: every object after its unit's comment, the
	// substituted values, the Secret's masked.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", root, "--objects", objects}, noKube...)...)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("render --objects: exit %d, stderr %q", r.code, r.stderr)
	}
	docs := strings.Split(r.stdout, "---\n")
	var units []string
	for _, d := range docs {
		unit, rest, ok := strings.Cut(d, "\n")
		units = append(units, strings.TrimPrefix(unit, "# unit: "))
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(rest), &obj); !ok || err != nil || obj["kind"] == nil {
			t.Errorf("document %q: %v", d, err)
		}
	}
	if !slices.Equal(units, []string{"infra", "infra", "apps", "apps"}) {
		t.Errorf("units of the documents: %v", units)
	}
	mustMatch(t, "render yaml", r.stdout, `(?m)^  greeting: hello$`, `(?m)^  owner: alice$`, `(?m)^  token: \(masked\)$`)
	if strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, base64.StdEncoding.EncodeToString([]byte(secret))) {
		t.Error("a Secret value in the output")
	}

	// JSON, with --objects.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", root, "--objects", objects, "-o", "json"}, noKube...)...)
	var v renderView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("render -o json: %v", err)
	}
	if r.code != exitOK || v.Objects != 4 || v.Gaps != 0 || v.Failed != 0 || len(v.Units) != 3 {
		t.Fatalf("render -o json: exit %d, %+v", r.code, v)
	}
	apps := v.Units[2]
	if apps.Name != "apps" || apps.DeclaredBy != "root" || !slices.Equal(apps.Keys, []string{"core/ConfigMap/cli-apps/app", "core/Secret/cli-apps/app-token"}) {
		t.Errorf("apps: %+v", apps)
	}
	if strings.Contains(r.stdout, secret) || !strings.Contains(r.stdout, `"token": "(masked)"`) {
		t.Error("the Secret's value is not masked in json")
	}

	// A unit that cannot be rendered: exit 1, the reason printed.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "--url", repo.HTTPURL(), "--path", "./missing", "-o", "text"}, noKube...)...)
	if r.code != exitError || !strings.Contains(r.stdout, "  error: ") || !strings.Contains(r.stderr, "1 of 1 unit(s) could not be rendered") {
		t.Errorf("render of a missing path: exit %d, want %d", r.code, exitError)
	}
	// --ref naming no source: an invalid configuration.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", root, "--ref", "nope=main"}, noKube...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, `no source "nope"`) {
		t.Errorf("--ref nope=main: exit %d, want %d", r.code, exitUsage)
	}
}

// diff between two commits of the quickstart's Flux repository
// (Kustomizations and a HelmRelease from a chart repository): a new chart
// version, a changed field, an added and a removed object; then no change.
func TestDiffCommits(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	charts := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	if err := charts.AddChart(demo.PrometheusChart()); err != nil {
		t.Fatal(err)
	}
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	files := demo.FluxFiles(repo.HTTPURL(), charts.URL())
	files["infra/prometheus.yaml"] = strings.Replace(files["infra/prometheus.yaml"], `version: "25.x"`, `version: "25.8.0"`, 1)
	first := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "fleet"})
	next := demo.PrometheusChart()
	next.Version = "25.9.0"
	if err := charts.AddChart(next); err != nil {
		t.Fatal(err)
	}
	second := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "prd: 3 replicas, no PDB; dev: settings; prometheus 25.9.0",
		Files: map[string]string{
			"apps/prd/kustomization.yaml": strings.NewReplacer("count: 5", "count: 3", "  - pdb.yaml\n", "").Replace(files["apps/prd/kustomization.yaml"]),
			"apps/dev/kustomization.yaml": strings.Replace(files["apps/dev/kustomization.yaml"], "  - ../base\n", "  - ../base\n  - settings.yaml\n", 1),
			"apps/dev/settings.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
			"infra/prometheus.yaml":       strings.Replace(files["infra/prometheus.yaml"], `version: "25.8.0"`, `version: "25.9.0"`, 1)},
		Delete: []string{"apps/prd/pdb.yaml"}})
	config := writeFile(t, dir, "fleet.yaml", files["clusters/prod/fleet.yaml"])
	noKube := []string{"--kubeconfig", filepath.Join(dir, "none")}

	r := gitopskit(ctx, t, nil, testEnv{}, append([]string{"diff", "-f", config, "--from", first, "--to", second}, noKube...)...)
	if r.code != exitNotCompliant {
		t.Errorf("diff: exit %d, want %d", r.code, exitNotCompliant)
	}
	mustMatch(t, "diff", r.stdout,
		fmt.Sprintf(`(?m)^diff of source fleet: commit %s -> commit %s$`, first, second),
		`(?m)^apps-dev \(changed\)\n  \+ core/ConfigMap/apps-dev/settings$`,
		`(?m)^monitoring-prometheus \(changed\)\n  chart prometheus 25\.8\.0 -> prometheus 25\.9\.0$`,
		`(?m)^apps-prd \(changed\)\n  ~ apps/Deployment/apps-prd/kuard\n      spec\.replicas\n  - policy/PodDisruptionBudget/apps-prd/kuard$`,
		`(?m)^diff: \d+ unit\(s\) differ; objects: 1 added, \d+ changed, 1 removed$`)
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour without a terminal")
	}

	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"diff", "-f", config, "--from", first, "--to", second, "-o", "json"}, noKube...)...)
	var v diffView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("diff -o json: %v", err)
	}
	i := slices.IndexFunc(v.Units, func(u unitDiffView) bool { return u.Name == "apps-prd" })
	if r.code != exitNotCompliant || !v.Changes || v.Source != "fleet" || v.Added != 1 || v.Removed != 1 || i < 0 ||
		!slices.ContainsFunc(v.Units[i].Changed, func(c objectDiffView) bool {
			return c.Object == "apps/Deployment/apps-prd/kuard" && slices.Equal(c.Paths, []string{"spec.replicas"})
		}) {
		t.Errorf("diff -o json: exit %d, %+v", r.code, v)
	}

	// No change: the same commit, and main (the source's own reference,
	// now at the second commit) against it.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"diff", "-f", config, "--from", second, "--to", second}, noKube...)...)
	if r.code != exitOK || !strings.HasSuffix(r.stdout, "no changes\ndiff: no changes\n") {
		t.Errorf("diff of a commit with itself: exit %d, want %d and no changes", r.code, exitOK)
	}
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"diff", "-f", config, "--to", "commit:" + second, "-o", "yaml"}, noKube...)...)
	v = diffView{}
	if err := yaml.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("diff -o yaml: %v", err)
	}
	if r.code != exitOK || v.Changes || v.From != `branch "main"` || len(v.Units) != 0 {
		t.Errorf("diff of main with its head: exit %d, %+v", r.code, v)
	}

	// A unit that cannot be rendered at --to: exit 1.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"diff", "-f", config, "--to", "no-such-branch"}, noKube...)...)
	if r.code != exitError || !strings.Contains(r.stderr, "--to: unit infra: ") ||
		!strings.Contains(r.stdout, "infra (changed)\n  error: at --to: ") || strings.Contains(r.stdout, "  - ") ||
		!strings.Contains(r.stdout, "monitoring-prometheus (unknown)\n  error: declared by unit infra, which could not be rendered\n") {
		t.Errorf("diff to a missing branch: exit %d, want %d", r.code, exitError)
	}
}

// diff --cluster: a commit against what a sync left in the cluster.
func TestDiffCluster(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, f.cluster.Config)
	args := []string{"--name", "diffcluster", "-n", ns, "--url", f.repo.HTTPURL(), "--path", "./deploy",
		"--target-namespace", ns, "--username", "bot", "--password-file", f.passwordFile}
	if r := gitopskit(ctx, t, f, testEnv{}, append([]string{"sync", "-q"}, args...)...); r.code != exitOK {
		t.Fatalf("sync: exit %d", r.code)
	}
	synced, err := f.repo.Head(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	next := gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Message: "green",
		Files: map[string]string{"deploy/settings.yaml": strings.Replace(tinyRepo["deploy/settings.yaml"], "blue", "green", 1)}})

	r := gitopskit(ctx, t, f, testEnv{}, append([]string{"diff", "--cluster", "--to", next}, args...)...)
	if r.code != exitNotCompliant {
		t.Errorf("diff --cluster --to the next commit: exit %d, want %d", r.code, exitNotCompliant)
	}
	mustMatch(t, "diff --cluster", r.stdout, fmt.Sprintf(`(?m)^sync @ sha1:%s$`, next),
		`(?m)^  update core/ConfigMap/`+ns+`/settings\n      /data/color: blue -> green$`)

	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"diff", "--cluster", "--to", synced, "-o", "json"}, args...)...)
	var pv planView
	if err := json.Unmarshal([]byte(r.stdout), &pv); err != nil {
		t.Fatalf("diff --cluster -o json: %v", err)
	}
	if r.code != exitOK || pv.Changes {
		t.Errorf("diff --cluster --to the synced commit: exit %d, %+v", r.code, pv)
	}
}

// Configurations render and diff cannot use: exit 2, saying why.
func TestOfflineBadConfig(t *testing.T) {
	dir := t.TempDir()
	two := writeFile(t, dir, "two.yaml", `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: a, namespace: cli-bad}
spec: {interval: 1m, url: "https://git.example.com/a.git"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: b, namespace: cli-bad}
spec: {interval: 1m, url: "https://git.example.com/b.git"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: k, namespace: cli-bad}
spec: {interval: 1m, sourceRef: {kind: GitRepository, name: a}}
`)
	deployment := writeFile(t, dir, "deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"diff", "-f", two, "--to", "main"}, "the configuration has 2 Git sources (a, b): say which one with --source"},
		{[]string{"diff", "-f", two, "--to", "main", "--cluster"}, "kubeconfig"},
		{[]string{"render", "-f", two, "--objects", deployment}, "apps/v1 Deployment \"web\": want v1 ConfigMaps and Secrets"},
		{[]string{"render", "-f", two, "--objects", filepath.Join(dir, "nope.yaml")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:1], " ")+" "+tt.want, func(t *testing.T) {
			r := gitopskit(t.Context(), t, nil, testEnv{}, append(tt.args, "--kubeconfig", filepath.Join(dir, "none"))...)
			want := exitUsage
			if tt.want == "kubeconfig" {
				want = exitError
			}
			if r.code != want || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, want, tt.want)
			}
		})
	}
}

// render of gitopskit's own format with an OCI artifact source: a private
// registry on loopback, the credentials Secret from --objects, the highest
// tag in a semver range.
func TestRenderOCISource(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{Username: "ci", Password: "reg-pass"})
	for tag, replicas := range map[string]string{"1.0.0": "1", "1.4.2": "3", "2.0.0": "9"} {
		gitopstest.PushArtifact(t, reg, "fleet/app", tag, map[string]string{
			"kustomization.yaml": "resources: [app.yaml]\n",
			"app.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: cli-oci}\ndata: {replicas: \"" + replicas + "\"}\n",
		})
	}
	config := writeFile(t, dir, "config.yaml", fmt.Sprintf(`apiVersion: gitopskit.io/v1alpha1
kind: Configuration
metadata: {name: oci, namespace: cli-oci}
spec:
  sources:
    - name: app
      url: %s/fleet/app
      oci: {semver: "1.x", insecure: true}
      secretRef: {name: registry}
  units:
    - {name: app, source: app, prune: true}
`, reg.URL()))
	objects := writeFile(t, dir, "objects.yaml", `apiVersion: v1
kind: Secret
metadata: {name: registry, namespace: cli-oci}
stringData: {username: ci, password: reg-pass}
`)
	noKube := []string{"--kubeconfig", filepath.Join(dir, "none")}
	r := gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", config, "--objects", objects, "-o", "text"}, noKube...)...)
	if r.code != exitOK {
		t.Fatalf("render: exit %d, stderr %q", r.code, r.stderr)
	}
	mustMatch(t, "render -o text", r.stdout, `(?m)^app @ 1\.4\.2@sha256:[0-9a-f]{64}$`, `(?m)^  core/ConfigMap/cli-oci/app$`)
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", config, "--objects", objects}, noKube...)...)
	mustMatch(t, "render yaml", r.stdout, `(?m)^  replicas: "3"$`)

	// Without the credentials the registry refuses, and render says so.
	r = gitopskit(ctx, t, nil, testEnv{}, append([]string{"render", "-f", config, "-o", "text"}, noKube...)...)
	if r.code == exitOK || !strings.Contains(r.stdout+r.stderr, "authentication failed") {
		t.Errorf("render without credentials: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "reg-pass") {
		t.Error("the registry password in the output")
	}
}
