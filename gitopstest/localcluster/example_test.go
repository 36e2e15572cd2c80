package localcluster_test

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// Start a simulated cluster from a program (the quickstart does this), use
// it through its admin rest.Config, and stop it.
func ExampleStart() {
	ctx := context.Background()
	c, err := localcluster.Start(ctx, localcluster.Options{Simulated: true, Log: os.Stderr})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Stop()
	nodes, err := kubernetes.NewForConfigOrDie(c.Config).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err == nil {
		fmt.Println(len(nodes.Items), "fake nodes; kubectl --kubeconfig", c.KubeconfigPath())
	}
}

// Simulate an API server outage in a fault test.
func ExampleCluster_StopAPIServer() {
	var c *localcluster.Cluster // from localcluster.Start
	_ = c.StopAPIServer()
	// ... requests fail here ...
	_ = c.StartAPIServer(context.Background())
}
