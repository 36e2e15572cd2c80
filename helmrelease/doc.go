// Package helmrelease manages the lifecycle of a Helm release: install when
// absent, upgrade when the chart or values changed, leave it alone otherwise,
// and remediate failures by retrying, rolling back a failed upgrade or
// uninstalling a failed install.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package helmrelease
