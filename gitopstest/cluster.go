package gitopstest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// StartCluster starts a bare API server (etcd and kube-apiserver) for the
// test and stops it in tb.Cleanup. It fails the test when the cluster cannot
// start, and skips it with -short (a test that needs a cluster is a slow
// end-to-end test). Building the binaries the first time takes minutes; run
// hack/kube-assets.sh first to keep that out of the test's time budget.
func StartCluster(tb testing.TB) *localcluster.Cluster {
	tb.Helper()
	return startCluster(tb, localcluster.Options{})
}

// StartSimCluster starts a simulated full cluster (API server, controller
// manager, scheduler and kwok fake nodes) for the test and stops it in
// tb.Cleanup. Deployments roll out on it as on a real cluster. It returns
// once every fake node is Ready and schedulable and the default
// ServiceAccount exists. Like StartCluster, it skips tb with -short.
func StartSimCluster(tb testing.TB) *localcluster.Cluster {
	tb.Helper()
	return startCluster(tb, localcluster.Options{Simulated: true})
}

func startCluster(tb testing.TB, opts localcluster.Options) *localcluster.Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a cluster: skipped with -short")
	}
	opts.Log = testLogWriter{tb}
	c, err := localcluster.Start(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("start cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Stop(); err != nil {
			tb.Errorf("stop cluster: %v", err)
		}
	})
	return c
}

// RunWithCluster is for TestMain: it starts a cluster with opts, stores it in
// *cluster for the package's tests, runs them and stops the cluster. It
// returns the exit code for os.Exit. Progress and errors go to stderr.
//
//	var cluster *localcluster.Cluster
//
//	func TestMain(m *testing.M) {
//		os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{}, &cluster))
//	}
func RunWithCluster(m *testing.M, opts localcluster.Options, cluster **localcluster.Cluster) int {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // includes a cold build
	c, err := localcluster.Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gitopstest: %v\n", err)
		return 1
	}
	*cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "gitopstest: stop cluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// testLogWriter sends progress lines to the test log.
type testLogWriter struct{ tb testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}
