package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/gitopstest"
)

func mustMatch(t *testing.T, what, s string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			t.Errorf("%s does not match %q", what, p)
		}
	}
}

// One path of one repository from flags: plan, sync, plan again, drift,
// status.
func TestSyncPlanStatusFromFlags(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, f.cluster.Config)
	args := []string{"--name", "flags", "-n", ns, "--url", f.repo.HTTPURL(), "--branch", "main", "--path", "./deploy",
		"--target-namespace", ns, "--prune", "--wait", "--username", "bot", "--password-file", f.passwordFile}
	cs := f.clientset(t)

	// Plan: something would be created (exit 3), nothing is.
	r := gitopskit(ctx, t, f, testEnv{}, append([]string{"plan"}, args...)...)
	if r.code != exitNotCompliant {
		t.Errorf("plan before sync: exit %d, want %d", r.code, exitNotCompliant)
	}
	mustMatch(t, "plan", r.stdout, `(?m)^sync @ main@sha1:\w+$`, `(?m)^  create core/ConfigMap/`+ns+`/settings$`,
		`(?m)^plan: 1 to create, 0 to update, 0 to delete$`)
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("plan created the ConfigMap: %v", err)
	}

	// Sync once: converges, exit 0, events on stderr, table on stdout.
	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"sync"}, args...)...)
	if r.code != exitOK {
		t.Fatalf("sync: exit %d", r.code)
	}
	mustMatch(t, "sync stdout", r.stdout, `(?m)^UNIT +READY +REVISION +OBJECTS +CREATED +CONFIGURED +PRUNED +DEPENDS ON +MESSAGE$`,
		`(?m)^sync +True +main@sha1:\w{12} +1 +1 +0 +0 +-$`,
		`(?m)^compliant: 1/1 units ready \(configuration flags in namespace `+ns+`\)$`)
	mustMatch(t, "sync stderr", r.stderr, `sync +fetch +checking http`, `core/ConfigMap/`+ns+`/settings created`,
		`sync +done +Ready \(ReconciliationSucceeded\)`)
	if strings.Contains(r.stdout+r.stderr, "\x1b[") {
		t.Error("colour without a terminal")
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || cm.Data["color"] != "blue" {
		t.Fatalf("ConfigMap: %v, %v", cm, err)
	}

	// Nothing to do: plan exit 0; sync again as JSON, quiet.
	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"plan"}, args...)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "  no changes\nplan: no changes\n") {
		t.Errorf("plan after sync: exit %d, want 0 and no changes", r.code)
	}
	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"sync", "-o", "json", "-q"}, args...)...)
	var sv statusView
	if err := json.Unmarshal([]byte(r.stdout), &sv); err != nil {
		t.Fatalf("sync -o json: %v", err)
	}
	if r.code != exitOK || r.stderr != "" || !sv.Compliant || sv.Configuration != "flags" || len(sv.Units) != 1 ||
		sv.Units[0].Phase != "Ready" || *sv.Units[0].Objects != 1 || sv.Units[0].Counts.Created != 0 {
		t.Errorf("second sync: exit %d, %+v", r.code, sv)
	}

	// Drift made by hand: plan names the field, exit 3, as JSON too.
	cm.Data["color"] = "red"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"plan"}, args...)...)
	if r.code != exitNotCompliant {
		t.Errorf("plan after drift: exit %d, want %d", r.code, exitNotCompliant)
	}
	mustMatch(t, "plan after drift", r.stdout, `(?m)^  update core/ConfigMap/`+ns+`/settings$`, `(?m)^      /data/color: red -> blue$`)
	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"plan", "-o", "json"}, args...)...)
	var pv planView
	if err := json.Unmarshal([]byte(r.stdout), &pv); err != nil {
		t.Fatalf("plan -o json: %v", err)
	}
	if r.code != exitNotCompliant || !pv.Changes || pv.Update != 1 || len(pv.Units) != 1 || len(pv.Units[0].Changes) != 1 ||
		pv.Units[0].Changes[0].Action != "update" || pv.Units[0].Changes[0].Drift[0].Path != "/data/color" {
		t.Errorf("plan -o json: exit %d, %+v", r.code, pv)
	}

	// Status from the record, no configuration: text and json.
	r = gitopskit(ctx, t, f, testEnv{}, "status", "flags", "-n", ns)
	if r.code != exitOK {
		t.Errorf("status: exit %d", r.code)
	}
	mustMatch(t, "status", r.stdout, `(?m)^UNIT +READY +REVISION +LAST RECONCILED +DEPENDS ON +MESSAGE$`,
		`(?m)^sync +True +main@sha1:\w{12} +\d+s ago +-$`,
		`(?m)^SOURCE +READY +REVISION +DECLARED BY +LAST FETCHED +URL +MESSAGE$`,
		`(?m)^git +True +main@sha1:\w{12} +- +\d+s ago +http://127\.0\.0\.1:\d+/\S+$`,
		`(?m)^compliant: 1/1 units ready \(configuration flags in namespace `+ns+`\)$`)
	r = gitopskit(ctx, t, f, testEnv{}, "status", "flags", "-n", ns, "-o", "json")
	sv = statusView{}
	if err := json.Unmarshal([]byte(r.stdout), &sv); err != nil {
		t.Fatalf("status -o json: %v", err)
	}
	if r.code != exitOK || !sv.Compliant || sv.Namespace != ns || len(sv.Units) != 1 || sv.Units[0].Name != "sync" ||
		!strings.HasPrefix(sv.Units[0].LastAppliedRevision, "main@sha1:") || sv.Units[0].LastReconciled.IsZero() ||
		sv.Units[0].Objects != nil || !strings.Contains(r.stdout, `"lastReconciled": "`) ||
		len(sv.Sources) != 1 || sv.Sources[0].Name != "git" || !sv.Sources[0].Ready || sv.Sources[0].Revision != sv.Units[0].LastAppliedRevision {
		t.Errorf("status -o json: exit %d, %+v", r.code, sv)
	}

	// Colour only on a terminal, and never with NO_COLOR.
	r = gitopskit(ctx, t, f, testEnv{terminal: true}, "status", "flags", "-n", ns)
	if !strings.Contains(r.stdout, green+"True"+reset) {
		t.Errorf("no colour on a terminal: %q", r.stdout)
	}
	r = gitopskit(ctx, t, f, testEnv{terminal: true, vars: map[string]string{"NO_COLOR": "1"}}, "status", "flags", "-n", ns)
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour with NO_COLOR: %q", r.stdout)
	}
}

// A Flux configuration over two namespaces, with dependsOn, Secrets from
// the cluster and then from files, once and in a loop; status of all
// configurations.
func TestSyncFlux(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, ns := range []string{"cli-platform", "cli-team"} {
		f.ensureNamespace(t, ns)
		_, err := f.clientset(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git"},
			StringData: map[string]string{"username": "bot", "password": "s3cret"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	flux := func(teamSource string) string {
		return fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: cli-platform}
spec:
  interval: 1m
  url: %[1]s
  ref: {branch: main}
  secretRef: {name: git}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: cli-platform}
spec:
  interval: 10m
  path: ./infra
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: cli-team}
spec:
  interval: 1m
  url: %[1]s
  ref: {branch: main}
  secretRef: {name: git}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: cli-team}
spec:
  interval: 10m
  path: ./apps
  prune: true
  wait: true
  dependsOn: [{name: infra, namespace: cli-platform}]
  postBuild:
    substitute: {greeting: hello}
  sourceRef: {kind: GitRepository, name: fleet%[2]s}
`, f.repo.HTTPURL(), teamSource)
	}
	config := f.write(t, "flux.yaml", flux(""))

	// A dependsOn across namespaces is what --no-cross-namespace-refs refuses.
	r := gitopskit(ctx, t, f, testEnv{}, "sync", "-f", config, "--name", "fluxcfg", "--no-cross-namespace-refs")
	if r.code != exitUsage || !strings.Contains(r.stderr, "cross-namespace reference") || !strings.Contains(r.stderr, "flux.yaml: ") {
		t.Errorf("--no-cross-namespace-refs: exit %d, want %d and the reference named", r.code, exitUsage)
	}

	r = gitopskit(ctx, t, f, testEnv{}, "sync", "-f", config, "--name", "fluxcfg", "-o", "yaml")
	var sv statusView
	if err := yaml.Unmarshal([]byte(r.stdout), &sv); err != nil {
		t.Fatalf("sync -o yaml: %v", err)
	}
	if r.code != exitOK || !sv.Compliant || len(sv.Units) != 2 {
		t.Fatalf("sync: exit %d, %+v", r.code, sv)
	}
	cm, err := f.clientset(t).CoreV1().ConfigMaps("cli-apps").Get(ctx, "app", metav1.GetOptions{})
	if err != nil || cm.Data["greeting"] != "hello" {
		t.Errorf("ConfigMap: %v, %v", cm, err)
	}
	r = gitopskit(ctx, t, f, testEnv{}, "status", "fluxcfg", "-n", sv.Namespace)
	if r.code != exitOK || !strings.Contains(r.stdout, "compliant: 2/2 units ready") {
		t.Errorf("status: exit %d", r.code)
	}

	// The same from stdin, Secrets from files as mounted in a Pod, in a
	// loop stopped once both units are Ready.
	f.write(t, "secrets/git/username", "bot")
	f.write(t, "secrets/git/password", "s3cret")
	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errOut := &stopWriter{cancel: cancel,
		stop: func(s string) bool { return strings.Count(s, "Ready (ReconciliationSucceeded)") == 2 }}
	r = gitopskit(loopCtx, t, f, testEnv{stdin: flux(""), stderr: errOut}, "sync", "-f", "-", "--name", "fluxcfg",
		"--secrets-dir", filepath.Join(f.dir, "secrets"), "--interval", "1h")
	if r.code != exitOK || !strings.Contains(r.stdout, "compliant: 2/2 units ready") || !strings.Contains(r.stderr, "until interrupted") {
		t.Errorf("loop: exit %d", r.code)
	}

	// Every configuration in the cluster: this one and the other tests'.
	r = gitopskit(ctx, t, f, testEnv{}, "status", "-A", "-o", "json")
	var all struct {
		Configurations []statusView
	}
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil {
		t.Fatalf("status -A -o json: %v", err)
	}
	found := false
	for _, c := range all.Configurations {
		found = found || c.Configuration == "fluxcfg" && c.Compliant
	}
	if r.code == exitUsage || r.code == exitError || !found {
		t.Errorf("status -A: exit %d, %+v", r.code, all)
	}
}

// gitopskit's own Configuration format.
func TestSyncOwnFormat(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ns := gitopstest.CreateNamespace(t, f.cluster.Config)
	_, err := f.clientset(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git-auth"},
		StringData: map[string]string{"username": "bot", "password": "s3cret"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	own := func(extra string) string {
		return f.write(t, "own.yaml", fmt.Sprintf(`# gitopskit's own format
apiVersion: gitopskit.io/v1alpha1
kind: Configuration
metadata: {name: own, namespace: %[1]s}
spec:
  sources:
    - name: fleet
      url: %[2]s
      ref: {branch: main}
      secretRef: {name: git-auth}
  units:
    - {name: settings, source: fleet, path: ./deploy, targetNamespace: %[1]s, prune: true, wait: true, timeout: 1m%[3]s}
`, ns, f.repo.HTTPURL(), extra))
	}
	r := gitopskit(ctx, t, f, testEnv{}, "sync", "-f", own(""))
	if r.code != exitOK {
		t.Fatalf("sync: exit %d", r.code)
	}
	mustMatch(t, "sync", r.stdout, `(?m)^settings +True +main@sha1:\w+ +1 +1 `, `configuration own in namespace `+ns)

	r = gitopskit(ctx, t, f, testEnv{}, "plan", "-f", own(", replicas: 3"))
	if r.code != exitUsage || !strings.Contains(r.stderr, `own.yaml: invalid configuration: Configuration: error unmarshaling JSON: while decoding JSON: json: unknown field "replicas"`) {
		t.Errorf("unknown field: exit %d, want %d naming the field", r.code, exitUsage)
	}
}

// A unit that fails: sync and status exit 3, plan exit 1.
func TestNotCompliant(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	args := []string{"--name", "broken", "--url", f.repo.HTTPURL(), "--path", "broken", "--username", "bot", "--password-file", f.passwordFile}
	r := gitopskit(ctx, t, f, testEnv{}, append([]string{"sync"}, args...)...)
	if r.code != exitNotCompliant || !strings.Contains(r.stdout, "NotReady (BuildFailed)") || !strings.Contains(r.stderr, "bad.yaml") {
		t.Errorf("sync: exit %d, want %d with a build failure naming bad.yaml", r.code, exitNotCompliant)
	}
	r = gitopskit(ctx, t, f, testEnv{}, "status", "broken")
	if r.code != exitNotCompliant || !strings.Contains(r.stdout, "non-compliant: 0/1 units ready; sync NotReady (BuildFailed)") {
		t.Errorf("status: exit %d, want %d", r.code, exitNotCompliant)
	}
	r = gitopskit(ctx, t, f, testEnv{}, append([]string{"plan"}, args...)...)
	if r.code != exitError || !strings.Contains(r.stdout, "error: build broken") || !strings.Contains(r.stderr, "1 of 1 unit(s) could not be planned") {
		t.Errorf("plan: exit %d, want %d", r.code, exitError)
	}
	r = gitopskit(ctx, t, f, testEnv{}, "status", "never-synced", "-n", "cli-nowhere")
	if r.code != exitError || !strings.Contains(r.stderr, "configuration never-synced has no record in namespace cli-nowhere") {
		t.Errorf("status of an unknown configuration: exit %d, want %d", r.code, exitError)
	}
}

// Bad command lines exit 2 before touching a cluster; bad configurations
// exit 2 with an error naming the problem.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"sync", "--frobnicate"}, "unknown flag: --frobnicate"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"sync"}, "give a configuration file (-f) or a repository (--url)"},
		{[]string{"sync", "extra"}, `unknown command "extra" for "gitopskit sync"`},
		{[]string{"plan", "-f", "x.yaml", "--prune"}, "--prune cannot be combined with -f"},
		{[]string{"plan", "--url", "x", "--tag", "v1", "--semver", "1.x"}, "give one of --branch"},
		{[]string{"sync", "--url", "x", "--secrets-dir", "s"}, "--secrets-dir needs a configuration file"},
		{[]string{"sync", "--url", "x", "--timeout", "soon"}, `invalid argument "soon" for "--timeout"`},
		{[]string{"sync", "--url", "x", "--interval", "0s"}, "--interval 0s: want a positive duration"},
		{[]string{"status", "-o", "xml"}, `--output "xml": want text, json or yaml`},
		{[]string{"status", "a", "b"}, "accepts at most 1 arg(s), received 2"},
		{[]string{"status", "a", "-A"}, "cannot be combined with --all-namespaces"},
		{[]string{"render"}, "give a configuration file (-f) or a repository (--url)"},
		{[]string{"render", "--url", "x", "-o", "xml"}, `--output "xml": want text, json or yaml`},
		{[]string{"render", "--url", "x", "--ref", "main"}, `--ref "main": want SOURCE=REF`},
		{[]string{"render", "--url", "x", "--ref", "git=main", "--ref", "git=dev"}, `source "git" is pinned twice`},
		{[]string{"render", "-f", "x.yaml", "--prune"}, "--prune cannot be combined with -f"},
		{[]string{"diff", "--url", "x"}, "--to is required"},
		{[]string{"diff", "--url", "x", "--to", "origin/main"}, `looks like a branch of a local clone's remote`},
		{[]string{"diff", "--url", "x", "--to", "commit:abc"}, "not a full SHA-1"},
		{[]string{"diff", "--url", "x", "--to", "main", "--from", "tag:"}, `--from: "tag:": empty tag`},
		{[]string{"diff", "--url", "x", "--to", "main", "--from", "head:x"}, `unknown kind "head"`},
		{[]string{"diff", "--url", "x", "--to", "main", "--from", "main", "--cluster"}, "--from cannot be combined with --cluster"},
		{[]string{"diff", "--url", "x", "--to", "main", "--cluster", "--objects", "o.yaml"}, "--objects cannot be combined with --cluster"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := gitopskit(t.Context(), t, nil, testEnv{}, append(tt.args, "--kubeconfig", filepath.Join(dir, "none"))...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
	r := gitopskit(t.Context(), t, nil, testEnv{}, "sync", "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "--no-cross-namespace-refs") {
		t.Errorf("--help: exit %d", r.code)
	}
}

// Configuration files that cannot be loaded: exit 2, naming the file, the
// document and the field.
func TestBadConfig(t *testing.T) {
	f := newFixture(t)
	flux := func(extra string) string {
		return f.write(t, "bad.yaml", fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: cli-bad}
spec: {interval: 1m, url: %q}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: a, namespace: cli-bad}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: fleet}
%s`, f.repo.HTTPURL(), extra))
	}
	tests := []struct {
		name string
		args func() []string
		want string
	}{
		{"missing file", func() []string { return []string{"sync", "-f", filepath.Join(f.dir, "nope.yaml")} }, "no such file"},
		{"unsupported field", func() []string { return []string{"sync", "-f", flux("  kubeConfig: {secretRef: {name: kc}}\n")} },
			"bad.yaml: flux configuration: document 2 (line 6, Kustomization cli-bad/a): spec.kubeConfig: unsupported field"},
		{"cycle", func() []string { return []string{"plan", "-f", flux("  dependsOn: [{name: a}]\n")} }, "a -> a"},
		{"missing secret", func() []string {
			// A GitRepository's secretRef is read while loading (a
			// substituteFrom is read when the unit builds).
			return []string{"sync", "-f", f.write(t, "bad.yaml", fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: cli-bad}
spec: {interval: 1m, url: %q, secretRef: {name: vars}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: a, namespace: cli-bad}
spec: {interval: 10m, sourceRef: {kind: GitRepository, name: fleet}}
`, f.repo.HTTPURL()))}
		}, "vars"},
		{"bad ref", func() []string { return []string{"sync", "--url", f.repo.HTTPURL(), "--commit", "abc"} }, "not a full SHA-1"},
		{"missing password file", func() []string {
			return []string{"sync", "--url", f.repo.HTTPURL(), "--password-file", filepath.Join(f.dir, "nope")}
		}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gitopskit(t.Context(), t, f, testEnv{}, tt.args()...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "for usage") {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}
