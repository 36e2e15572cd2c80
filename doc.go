// Package gitopskit is a library for embedding GitOps reconciliation in any Go
// program: fetch a revision from Git, build Kubernetes objects from it with
// kustomize or Helm, apply them to a cluster in dependency order with
// server-side apply, remember what was applied in an inventory, prune what
// left Git, and wait until everything is healthy.
//
// Flux runs this loop as controllers installed in a cluster; gitopskit offers
// the same stages as packages you import, each usable on its own:
//
//	source.Fetch ──► build (kustomize / Helm) ──► apply ──► health.Wait
//	 (revision,        (objects, sorted,          (staged     (kstatus and
//	  digest, dir)      validated)                 SSA)        custom checks)
//	                                                │
//	                              inventory ◄───────┘  (what we applied;
//	                                                    prune = old − new)
//
// Package [github.com/gitopskit/gitopskit/depgraph] orders units by their
// dependencies and package [github.com/gitopskit/gitopskit/reconcile] runs
// units once or on an interval and reports whether the cluster complies with
// Git. Package [github.com/gitopskit/gitopskit/helmrelease] manages units that
// are Helm releases.
//
// Data passes between the stages as plain values (an artifact, a slice of
// *unstructured.Unstructured, a change set, an inventory), never through
// globals or hidden caches, so a program that already has objects can call
// the apply stage directly and a program that only wants a revision can call
// the source stage alone.
//
// Package [github.com/gitopskit/gitopskit/gitopstest] starts the real parts
// the library is tested against (a kube-apiserver with etcd, a simulated full
// cluster with controllers and fake nodes, a Git server over HTTP and SSH) so
// that users can test their own programs against them as well.
//
// This root package holds no code; it documents the module.
package gitopskit
