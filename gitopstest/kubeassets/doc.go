// Package kubeassets builds the binaries of a local Kubernetes control plane
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) and of the
// kwok controller from the Go module proxy, and caches them in a folder
// outside the work tree so that every checkout on the machine reuses them.
//
// Nothing is downloaded from anywhere but the module proxy: for each
// component a small helper module requires the upstream module at a pinned
// version (k8s.io/kubernetes with every staging module pinned by a replace
// directive, go.etcd.io/etcd/server/v3, sigs.k8s.io/kwok) and `go build`
// compiles it. A cold build takes about 20 minutes on two cores; once the Go
// build cache is warm it takes seconds, and when the cache folder is up to
// date [Ensure] returns at once.
//
// The script hack/kube-assets.sh is a thin wrapper around [Ensure] that prints
// the folder, for use as KUBEBUILDER_ASSETS or by hand.
package kubeassets
