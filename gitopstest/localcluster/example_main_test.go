package localcluster_test

import (
	"context"
	"os"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// shared is the bare API server the package's examples share, started by the
// first that needs it.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	// Examples cannot skip themselves: with -short, Run skips these.
	os.Exit(shared.Run(m, "ExampleCluster_Host", "ExampleCluster_Kubeconfig", "ExampleCluster_KubeconfigPath",
		"ExampleCluster_StartAPIServer", "ExampleCluster_Stop", "ExampleCluster_UserConfig"))
}

// exampleCluster returns the shared cluster, for the Examples.
func exampleCluster() *localcluster.Cluster {
	c, err := shared.Start(context.Background())
	if err != nil {
		panic(err)
	}
	return c
}
