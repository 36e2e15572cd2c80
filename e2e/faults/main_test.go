package faults_test

import (
	"flag"
	"os"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// testCluster is the bare API server the package's tests share. The API server
// fault stops and restarts it, so no test of the package runs in parallel.
var testCluster *localcluster.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	if fuzzing() || testing.Short() {
		// Fuzz targets need no cluster, and the fuzzing engine runs this
		// TestMain in every worker process: do not start one per worker.
		// With -short the end-to-end cases are skipped.
		os.Exit(m.Run())
	}
	os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{}, &testCluster))
}

// fuzzing reports whether the binary runs the fuzzing engine (go test
// -fuzz): as its coordinator or as one of its workers.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// sharedCluster returns the package's cluster. It skips the test with
// -short (the cases are slow end-to-end tests) and fails it when the binary
// runs the fuzzing engine (run fuzz targets alone, with -run '^$').
func sharedCluster(t *testing.T) *localcluster.Cluster {
	t.Helper()
	switch {
	case testCluster != nil:
		return testCluster
	case testing.Short():
		t.Skip("end to end: needs the API server (not with -short)")
	default:
		t.Fatal("no cluster: with -fuzz, run the fuzz target alone (-run '^$')")
	}
	return nil
}
