// Package reconcile runs units (a source, a path, build and apply options and
// dependencies) once or on an interval, in dependency order, and reports for
// each unit and for the whole configuration whether the cluster complies with
// Git.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package reconcile
