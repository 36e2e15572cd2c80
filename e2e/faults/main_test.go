package faults_test

import (
	"os"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// testCluster is the bare API server the package's tests share, started by
// the first test that needs it: fuzz targets (whose worker processes run
// TestMain too) and -short start none. The API server fault stops and
// restarts it, so no test of the package runs in parallel.
var testCluster = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	os.Exit(testCluster.Run(m))
}

// sharedCluster returns the package's cluster, starting it on first use. It
// skips the test with -short (the cases are slow end-to-end tests).
func sharedCluster(t *testing.T) *localcluster.Cluster {
	t.Helper()
	return testCluster.Get(t)
}
