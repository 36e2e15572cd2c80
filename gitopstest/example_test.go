package gitopstest_test

import (
	"os"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

var shared *localcluster.Cluster

// One API server for a whole test package: start it in TestMain.
func ExampleRunWithCluster() {
	var m *testing.M // the argument of TestMain
	os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{}, &shared))
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
