package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// shared is a bare API server (the tests apply ConfigMaps, which need no
// controllers to be ready), started by the first test that needs it: -short
// and a -run of tests that need none start none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	os.Exit(shared.Run(m))
}

// testCluster returns the shared cluster, starting it on first use; it
// skips t with -short.
func testCluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	return shared.Get(t)
}

// tinyRepo is a repository with two directories of ConfigMaps; apps go to
// namespace appsNS.
func tinyRepo(appsNS string) map[string]string {
	return map[string]string{
		"deploy/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
		"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + appsNS + "\n",
		"apps/app.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: " + appsNS + "\ndata:\n  greeting: ${greeting}\n",
		"broken/bad.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n",
	}
}

// fixture is a Git server (wanting a password) with tinyRepo, and files
// for the command line.
type fixture struct {
	repo         *gitserver.Repo
	dir          string
	passwordFile string
	appsNS       string // the namespace tinyRepo's apps go to
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := gitopstest.StartGitServer(t, gitserver.Options{Username: "bot", Password: "s3cret"})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	appsNS := gitopstest.UniqueName("sync-apps") // applied by a unit: the test's own
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: tinyRepo(appsNS)})
	f := &fixture{repo: repo, dir: t.TempDir(), appsNS: appsNS}
	f.passwordFile = f.write(t, "password", "s3cret\n")
	return f
}

func (f *fixture) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// gitopsSync runs the command and returns its exit code and output.
func gitopsSync(ctx context.Context, t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, append([]string{"--kubeconfig", testCluster(t).KubeconfigPath()}, args...), &out, &errOut)
	t.Logf("gitops-sync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	return kubernetes.NewForConfigOrDie(testCluster(t).Config)
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	_, err := clientset(t).CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func TestOnceFromFlags(t *testing.T) {
	f := newFixture(t)
	ns := gitopstest.UniqueName("sync-flags")
	createNamespace(t, ns)
	args := []string{"--once", "--name", "flags", "--url", f.repo.HTTPURL(), "--branch", "main", "--path", "./deploy",
		"--namespace", ns, "--prune", "--wait", "--username", "bot", "--password-file", f.passwordFile}

	// --plan changes nothing.
	code, out, _ := gitopsSync(t.Context(), t, append(args[1:], "--plan")...)
	if code != exitCompliant || !strings.Contains(out, "create core/ConfigMap/"+ns+"/settings") {
		t.Errorf("--plan: exit %d, output %q", code, out)
	}
	if _, err := clientset(t).CoreV1().ConfigMaps(ns).Get(t.Context(), "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("--plan created the ConfigMap: %v", err)
	}

	code, out, errOut := gitopsSync(t.Context(), t, args...)
	if code != exitCompliant {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"UNIT", "sync  True", "main@sha1:", "compliant: 1/1 units ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	for _, want := range []string{`sync +fetch +checking http`, `sync +apply +applying 1 objects`, `sync +done +Ready \(ReconciliationSucceeded\)`} {
		if !regexp.MustCompile(want).MatchString(errOut) {
			t.Errorf("stderr does not match %q", want)
		}
	}
	cm, err := clientset(t).CoreV1().ConfigMaps(ns).Get(t.Context(), "settings", metav1.GetOptions{})
	if err != nil || cm.Data["color"] != "blue" {
		t.Errorf("ConfigMap: %v, %v", cm, err)
	}

	// JSON output, and nothing to do the second time.
	code, out, _ = gitopsSync(t.Context(), t, append(args, "--output", "json")...)
	var res struct {
		Compliant bool
		Units     []struct {
			Name, Phase         string
			Created, Objects    int
			LastAppliedRevision string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--output json: %v", err)
	}
	if code != exitCompliant || !res.Compliant || len(res.Units) != 1 || res.Units[0].Phase != "Ready" ||
		res.Units[0].Created != 0 || res.Units[0].Objects != 1 {
		t.Errorf("second run: exit %d, %+v", code, res)
	}
}

func TestOnceFromConfig(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ns := gitopstest.UniqueName("sync-config")
	createNamespace(t, ns)
	cs := clientset(t)
	_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git"},
		StringData: map[string]string{"username": "bot", "password": "s3cret"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	config := f.write(t, "flux.yaml", fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: %[2]s}
spec:
  interval: 1m
  url: %[1]s
  ref: {branch: main}
  secretRef: {name: git}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: %[2]s}
spec:
  interval: 10m
  path: ./infra
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: %[2]s}
spec:
  interval: 10m
  path: ./apps
  prune: true
  wait: true
  dependsOn: [{name: infra}]
  postBuild:
    substitute: {greeting: hello}
  sourceRef: {kind: GitRepository, name: fleet}
`, f.repo.HTTPURL(), ns))

	code, out, _ := gitopsSync(ctx, t, "--once", "--config", config)
	if code != exitCompliant {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{`infra +True +main@sha1:\w+ +1 +1 +0 +0 +-`, `apps +True +main@sha1:\w+ +1 +1 +0 +0 +infra`, `compliant: 2/2 units ready`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stdout does not match %q", want)
		}
	}
	cm, err := cs.CoreV1().ConfigMaps(f.appsNS).Get(ctx, "app", metav1.GetOptions{})
	if err != nil || cm.Data["greeting"] != "hello" {
		t.Errorf("ConfigMap: %v, %v", cm, err)
	}

	// The same configuration with the Secret from files, as mounted in a
	// Pod, and a loop stopped once every unit is Ready.
	secrets := filepath.Join(f.dir, "secrets")
	if err := os.MkdirAll(filepath.Join(secrets, "git"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.write(t, "secrets/git/username", "bot")
	f.write(t, "secrets/git/password", "s3cret")
	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var errOut stopWriter
	errOut.stop = func(s string) bool { return strings.Count(s, "Ready (ReconciliationSucceeded)") == 2 }
	errOut.cancel = cancel
	var stdout bytes.Buffer
	code = run(loopCtx, []string{"--kubeconfig", testCluster(t).KubeconfigPath(), "--config", config, "--secrets-dir", secrets}, &stdout, &errOut)
	t.Logf("loop: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), errOut.String())
	if code != exitCompliant || !strings.Contains(stdout.String(), "compliant: 2/2 units ready") ||
		!strings.Contains(errOut.String(), "until interrupted") {
		t.Errorf("loop: exit %d", code)
	}
}

// stopWriter collects output and calls cancel once stop says so.
type stopWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	stop   func(string) bool
	cancel func()
}

func (w *stopWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, _ := w.buf.Write(p)
	if w.stop(w.buf.String()) {
		w.cancel()
	}
	return n, nil
}

func (w *stopWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestNotCompliant(t *testing.T) {
	f := newFixture(t)
	code, out, errOut := gitopsSync(t.Context(), t, "--once", "--name", "broken", "--url", f.repo.HTTPURL(), "--path", "broken",
		"--username", "bot", "--password-file", f.passwordFile)
	if code != exitNotCompliant || !strings.Contains(out, "NotReady (BuildFailed)") || !strings.Contains(errOut, "bad.yaml") {
		t.Errorf("exit %d, want %d with a build failure naming bad.yaml", code, exitNotCompliant)
	}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	flux := func(kustomizationExtra string) string {
		return f.write(t, "bad.yaml", fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: sync-bad}
spec: {interval: 1m, url: %q}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: a, namespace: sync-bad}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: fleet}
%s`, f.repo.HTTPURL(), kustomizationExtra))
	}
	tests := []struct {
		name string
		args func() []string
		want string // in stderr
	}{
		{"no source", func() []string { return []string{"--once"} }, "--url or --config is required"},
		{"unknown flag", func() []string { return []string{"--url", "x", "--frobnicate"} }, "flag provided but not defined"},
		{"two refs", func() []string { return []string{"--url", "x", "--tag", "v1", "--semver", "1.x"} }, "give one of"},
		{"config and flags", func() []string { return []string{"--config", "x.yaml", "--prune"} }, "--prune cannot be combined with --config"},
		{"missing config file", func() []string { return []string{"--config", filepath.Join(f.dir, "nope.yaml")} }, "no such file"},
		{"unsupported field", func() []string { return []string{"--once", "--config", flux("  decryption: {provider: sops}\n")} },
			"bad.yaml: flux configuration: document 2 (line 6, Kustomization sync-bad/a): spec.decryption: unsupported field"},
		{"cycle", func() []string { return []string{"--once", "--config", flux("  dependsOn: [{name: a}]\n")} }, "a -> a"},
		{"bad ref", func() []string { return []string{"--once", "--url", f.repo.HTTPURL(), "--commit", "abc"} }, "not a full SHA-1"},
		{"missing password file", func() []string {
			return []string{"--once", "--url", f.repo.HTTPURL(), "--password-file", filepath.Join(f.dir, "nope")}
		}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := gitopsSync(t.Context(), t, tt.args()...)
			if code != exitBadInput || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, exitBadInput, tt.want)
			}
		})
	}
}
