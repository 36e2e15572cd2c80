package gitopstest_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// One API server for a whole test package, started by the first test that
// needs it and stopped after the last; with -short, the tests that need it
// are skipped and none starts.
func ExampleSharedCluster() {
	shared := gitopstest.NewSharedCluster(localcluster.Options{}) // a package variable
	var m *testing.M                                              // the argument of TestMain
	os.Exit(shared.Run(m))
}

// In a test of that package:
func ExampleSharedCluster_Get() {
	var shared *gitopstest.SharedCluster // the package's
	var t *testing.T                     // the test's
	ns := gitopstest.CreateNamespace(t, shared.Get(t).Config)
	_ = ns // objects of this test go there: no collision with other tests or runs
}

// One API server for a whole test package, started before any test.
// Prefer [gitopstest.SharedCluster], which starts none when no test needs it.
func ExampleRunWithCluster() {
	var cluster *localcluster.Cluster // a package variable
	var m *testing.M                  // the argument of TestMain
	os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{}, &cluster))
}

// A name no other test uses, nor another run of the same test.
func ExampleUniqueName() {
	name := gitopstest.UniqueName("settings")
	fmt.Println(len(name) == len("settings-12345"), strings.HasPrefix(name, "settings-"))
	// Output: true true
}

// In a test: a simulated cluster and a Git repository with one commit.
func ExampleStartSimCluster() {
	var t *testing.T // the test's
	cluster := gitopstest.StartSimCluster(t)
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{
		"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo, namespace: default}\n",
	}})
	_ = cluster.Config // reconcile repo.HTTPURL() into the cluster
}
