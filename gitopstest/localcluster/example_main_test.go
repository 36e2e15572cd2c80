package localcluster_test

import (
	"os"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// cluster is the bare API server the package's examples share.
var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{}, &cluster))
}
