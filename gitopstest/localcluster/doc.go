// Package localcluster starts a local Kubernetes cluster made of real
// processes on 127.0.0.1, for tests and example programs:
//
//   - a bare API server: etcd and kube-apiserver (authentication by client
//     certificates, RBAC authorization). Objects are stored and validated as
//     on any cluster, but nothing reconciles them: Deployments never roll out
//     and namespaces are never finalized.
//   - a simulated full cluster ([Options.Simulated]): the above plus
//     kube-controller-manager, kube-scheduler and the kwok controller playing
//     kubelet for a few fake Nodes, so Deployments really roll out (scheduled,
//     Running and Ready Pods, Available=True) and really fail
//     (ProgressDeadlineExceeded, unschedulable Pods). Pods labelled
//     gitopskit.test/never-ready=true run but never become Ready.
//
// The binaries come from package
// [github.com/gitopskit/gitopskit/gitopstest/kubeassets], built from the Go
// module proxy the first time and cached. Starting a bare API server takes
// about 5 seconds, a simulated cluster about 12.
//
// Package [github.com/gitopskit/gitopskit/gitopstest] wraps [Start] for
// tests (one call, stopped in t.Cleanup).
package localcluster
