package gitopstest_test

// The helpers of this package take the test's testing.TB, which an Example
// cannot have: the Examples below are compiled, not run. Each shows one
// helper the way a test calls it.

import (
	"fmt"
	"os"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// A bare API server of the test's own, stopped when the test ends (most
// packages share one through RunWithCluster instead).
func ExampleStartCluster() {
	var t *testing.T // the test's
	c := gitopstest.StartCluster(t)
	ns, err := kubernetes.NewForConfigOrDie(c.Config).CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ns.Name)
}

// A simulated cluster, where Deployments roll out on kwok fake nodes.
func ExampleStartSimCluster_nodes() {
	var t *testing.T // the test's
	sim := gitopstest.StartSimCluster(t)
	nodes, err := kubernetes.NewForConfigOrDie(sim.Config).CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(len(nodes.Items), "ready fake nodes")
}

// A Git server for the test, closed when the test ends.
func ExampleStartGitServer() {
	var t *testing.T // the test's
	srv := gitopstest.StartGitServer(t, gitserver.Options{Username: "git", Password: "s3cret"})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	fmt.Println(repo.HTTPURL()) // http://127.0.0.1:PORT/fleet.git, asks for basic auth
}

// An empty repository on the test's Git server.
func ExampleNewGitRepo() {
	var t *testing.T // the test's
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "team/fleet")
	fmt.Println(repo.Name(), repo.HTTPURL(), repo.SSHURL())
}

// Commits in a test: the same calls give the same commit IDs on every run.
func ExampleGitCommit() {
	var t *testing.T // the test's
	repo := gitopstest.NewGitRepo(t, gitopstest.StartGitServer(t, gitserver.Options{}), "fleet")
	first := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo, namespace: default}\n",
	}})
	second := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "remove demo", Delete: []string{"apps/cm.yaml"}})
	fmt.Println(first, "->", second)
}

// A client key, authorized on the server for SSH logins.
func ExampleNewSSHKey() {
	var t *testing.T // the test's
	key := gitopstest.NewSSHKey(t)
	srv := gitopstest.StartGitServer(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	// The private key as a Kubernetes SSH-auth Secret holds it:
	secretData := map[string][]byte{"identity": key.PrivateKeyPEM, "known_hosts": []byte(srv.KnownHostsLine())}
	fmt.Println(len(secretData["identity"]) > 0)
}

// Clone over SSH with go-git, checking the server's host key as production
// code does.
func ExampleGitSSHAuth() {
	var t *testing.T // the test's
	key := gitopstest.NewSSHKey(t)
	srv := gitopstest.StartGitServer(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{"README": "hi\n"}})

	clone, err := git.CloneContext(t.Context(), memory.NewStorage(), nil, &git.CloneOptions{
		URL:  repo.SSHURL(),
		Auth: gitopstest.GitSSHAuth(t, srv, key),
	})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := clone.Head()
	fmt.Println(head.Name()) // refs/heads/main
}

// A known_hosts file for code that takes a path (SSH_KNOWN_HOSTS, ssh -o
// UserKnownHostsFile=...).
func ExampleKnownHostsFile() {
	var t *testing.T // the test's
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	path := gitopstest.KnownHostsFile(t, srv)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Print(string(data)) // [127.0.0.1]:PORT ssh-ed25519 AAAA...
}

// A Helm chart repository for the test, closed when the test ends.
func ExampleStartChartRepo() {
	var t *testing.T // the test's
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, repo, chartrepo.Chart{Name: "podinfo", Version: "6.0.0"})
	fmt.Println(repo.URL()) // http://127.0.0.1:PORT, serving /index.yaml
}

// An OCI registry for the test, closed when the test ends.
func ExampleStartOCIRegistry() {
	var t *testing.T // the test's
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{Username: "helm", Password: "s3cret"})
	fmt.Println(reg.URL()) // oci://127.0.0.1:PORT
}

// Serve a chart built in code from the test's chart repository.
func ExampleAddChart() {
	var t *testing.T // the test's
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, repo, chartrepo.Chart{
		Name: "hello", Version: "1.0.0",
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n"},
	})
	fmt.Println(repo.URL() + "/charts/hello-1.0.0.tgz")
}

// Push a chart built in code to the test's OCI registry.
func ExamplePushChart() {
	var t *testing.T // the test's
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	ref := gitopstest.PushChart(t, reg, chartrepo.Chart{Name: "hello", Version: "1.0.0"}, "charts")
	fmt.Println(ref) // 127.0.0.1:PORT/charts/hello:1.0.0
}

// A chart archive (.tgz) built in code, e.g. to load with Helm's loader.
func ExamplePackageChart() {
	var t *testing.T // the test's
	archive := gitopstest.PackageChart(t, chartrepo.Chart{Name: "hello", Version: "1.0.0"})
	fmt.Println(chartrepo.Digest(archive))
}

// A chart directory in the test's temp dir, e.g. to render from a path.
func ExampleWriteChartDir() {
	var t *testing.T // the test's
	dir := gitopstest.WriteChartDir(t, chartrepo.Chart{Name: "hello", Version: "1.0.0", Values: "replicas: 1\n"})
	fmt.Println(dir) // .../hello, holding Chart.yaml and values.yaml
}
