package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// shared is a bare API server, started by the first test that needs one:
// the tests apply ConfigMaps and Namespaces, which need no controllers. The
// usage tests run without it (and with -short).
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

// runAsCLI makes the test binary the command line itself, for tests that
// run it from a shell script (TestCIRecipe).
const runAsCLI = "GITOPSKIT_TEST_RUN_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(runAsCLI) == "1" {
		main()
	}
	os.Exit(shared.Run(m))
}

// tinyRepo is a repository with a few directories of ConfigMaps.
var tinyRepo = map[string]string{
	"deploy/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
	"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cli-apps\n",
	"apps/app.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: cli-apps\ndata:\n  greeting: ${greeting}\n",
	"broken/bad.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n",
}

// fixture is a cluster, a Git server (wanting a password) with tinyRepo,
// and a folder for files of the command line.
type fixture struct {
	cluster      *localcluster.Cluster
	repo         *gitserver.Repo
	dir          string
	passwordFile string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{cluster: shared.Get(t), dir: t.TempDir()}
	srv := gitopstest.StartGitServer(t, gitserver.Options{Username: "bot", Password: "s3cret"})
	f.repo = gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, f.repo, gitserver.CommitOptions{Files: tinyRepo})
	f.passwordFile = f.write(t, "password", "s3cret\n")
	return f
}

func (f *fixture) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	return kubernetes.NewForConfigOrDie(f.cluster.Config)
}

// ensureNamespace creates the namespace name unless it exists. A test uses
// it (rather than gitopstest.CreateNamespace) when its configuration's units apply
// objects whose names are fixed by the repository: a rerun then reconciles
// the same units, which own those objects already.
func (f *fixture) ensureNamespace(t *testing.T, name string) {
	t.Helper()
	_, err := f.clientset(t).CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// result is what one execution of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// testEnv is an env with captured output; terminal says which streams
// pretend to be terminals.
type testEnv struct {
	stdin    string
	vars     map[string]string
	terminal bool
	stderr   io.Writer // default: a buffer
}

// gitopskit executes the command in-process with args (and the fixture's
// kubeconfig, when f is not nil).
func gitopskit(ctx context.Context, t *testing.T, f *fixture, te testEnv, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(te.stdin), stdout: &stdout, stderr: &stderr,
		getenv:     func(k string) string { return te.vars[k] },
		isTerminal: func(io.Writer) bool { return te.terminal }}
	if te.stderr != nil {
		e.stderr = te.stderr
	}
	all := args
	if f != nil {
		all = append(append([]string{}, args...), "--kubeconfig", f.cluster.KubeconfigPath())
	}
	code := execute(ctx, e, all)
	errOut := stderr.String()
	if te.stderr != nil {
		errOut = fmt.Sprint(te.stderr)
	}
	t.Logf("gitopskit %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), errOut)
	return result{code, stdout.String(), errOut}
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
