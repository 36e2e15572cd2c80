// Package inventory records which objects a unit applied, stores that record
// in the cluster, and computes what to prune: the objects in the previous
// inventory that are not in the current one and that still carry the unit's
// ownership labels.
//
// Inventories follow the kubectl ApplySet label convention so that kubectl
// can see what a unit owns.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package inventory
