// Package apply makes a cluster match a set of objects with server-side
// apply.
//
// Objects are applied in stages: CustomResourceDefinitions, Namespaces and
// other cluster-wide prerequisites first, then everything else, with bounded
// concurrency inside a stage. The result is a change set saying, for every
// object, whether it was created, configured, left unchanged, deleted or
// skipped, and why.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package apply
