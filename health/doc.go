// Package health waits until applied objects are ready, using kstatus for
// built-in and custom kinds and caller-supplied checks for custom resources,
// and reports a reason for every object that is not.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package health
