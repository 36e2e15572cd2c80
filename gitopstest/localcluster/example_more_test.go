package localcluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// The API server's URL: HTTPS on the loopback interface.
func ExampleCluster_Host() {
	cluster := exampleCluster() // from localcluster.Start
	u, err := url.Parse(cluster.Host())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Scheme, u.Hostname())
	fmt.Println(cluster.Host() == cluster.Config.Host)
	// Output:
	// https 127.0.0.1
	// true
}

// The admin kubeconfig as bytes, e.g. for a Secret or clientcmd.
func ExampleCluster_Kubeconfig() {
	cluster := exampleCluster() // from localcluster.Start
	cfg, err := clientcmd.RESTConfigFromKubeConfig(cluster.Kubeconfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	version, err := kubernetes.NewForConfigOrDie(cfg).Discovery().ServerVersion()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Host == cluster.Host(), strings.HasPrefix(version.GitVersion, "v1."))
	// Output: true true
}

// The admin kubeconfig file, for `kubectl --kubeconfig` or KUBECONFIG.
func ExampleCluster_KubeconfigPath() {
	cluster := exampleCluster() // from localcluster.Start
	path := cluster.KubeconfigPath()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
	fmt.Println(cfg.Host == cluster.Host(), err)
	// Output: true <nil>
}

// Bring the API server back after StopAPIServer, as a fault test does.
func ExampleCluster_StartAPIServer() {
	ctx := context.Background()
	cluster := exampleCluster() // from localcluster.Start
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	if err := cluster.StopAPIServer(); err != nil {
		fmt.Println(err)
		return
	}
	_, err := client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	fmt.Println("while stopped:", err != nil)

	if err := cluster.StartAPIServer(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_, err = client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	fmt.Println("after restart:", err)
	// Output:
	// while stopped: true
	// after restart: <nil>
}

// Stop a cluster of your own; its folder goes too, and stopping again is
// harmless.
func ExampleCluster_Stop() {
	c, err := localcluster.Start(context.Background(), localcluster.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir := c.Dir

	fmt.Println(c.Stop(), c.Stop())
	_, err = os.Stat(dir)
	fmt.Println("folder removed:", errors.Is(err, os.ErrNotExist))
	// Output:
	// <nil> <nil>
	// folder removed: true
}

// Act as an ordinary user to test RBAC: without a binding every request is
// forbidden, while the system:masters group may do anything.
func ExampleCluster_UserConfig() {
	cluster := exampleCluster() // from localcluster.Start
	ctx := context.Background()
	alice, err := cluster.UserConfig("alice", "developers")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = kubernetes.NewForConfigOrDie(alice).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	fmt.Println("alice forbidden:", apierrors.IsForbidden(err))

	admin, err := cluster.UserConfig("root", "system:masters")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = kubernetes.NewForConfigOrDie(admin).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	fmt.Println("admin:", err)
	// Output:
	// alice forbidden: true
	// admin: <nil>
}
