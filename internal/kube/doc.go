// Package kube holds the one client setup shared by apply, inventory and
// health: the unthrottled copy of a caller's rest.Config and the RESTMapper
// (deferred discovery over a memory cache, reset when a kind is unknown).
package kube
