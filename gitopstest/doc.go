// Package gitopstest starts the real parts gitopskit is tested against, for
// our tests and for the tests of programs that embed gitopskit:
//
//   - a Kubernetes API server (kube-apiserver and etcd) with
//     [StartCluster], or a simulated full cluster (adding
//     kube-controller-manager, kube-scheduler and kwok fake nodes, where
//     Deployments really roll out and really fail) with [StartSimCluster];
//   - a Git server on 127.0.0.1 speaking smart HTTP and SSH, and a builder
//     of repositories with real commits, branches and tags ([StartGitServer],
//     [NewGitRepo], [GitCommit]);
//   - a Helm chart repository (index.yaml over HTTP) and an OCI registry on
//     127.0.0.1, with charts built from Go ([StartChartRepo],
//     [StartOCIRegistry], [AddChart], [PushChart]).
//
// # Cluster binaries
//
// The binaries are built from the Go module proxy the first time they are
// needed and cached outside the work tree (see package
// [github.com/gitopskit/gitopskit/gitopstest/kubeassets]); later starts reuse
// the cache. Nothing is downloaded from anywhere else.
//
// # One cluster per test package
//
// Starting an API server costs seconds, so share one per test package,
// started by the first test that needs it ([SharedCluster]):
//
//	var shared = gitopstest.NewSharedCluster(localcluster.Options{})
//
//	func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
//
//	func TestApply(t *testing.T) {
//		cfg := shared.Get(t).Config // skips the test with -short
//		ns := gitopstest.CreateNamespace(t, cfg)
//		...
//	}
//
// With -short no cluster starts: the tests that need one are the slow
// end-to-end tests, and are skipped. Tests sharing a cluster must not
// collide, with each other nor with themselves under go test -count=N: give
// objects names from [UniqueName], or put them in a namespace of the test's
// own ([CreateNamespace]).
//
// The starters that take a testing.TB stop what they started in t.Cleanup.
// Programs that are not tests (such as the quickstart example) use packages
// [github.com/gitopskit/gitopskit/gitopstest/localcluster],
// [github.com/gitopskit/gitopskit/gitopstest/gitserver] and
// [github.com/gitopskit/gitopskit/gitopstest/chartrepo] directly.
package gitopstest
