//go:build !unix

package kubeassets

import "context"

// lockDir is a no-op where flock is not available: concurrent builds of the
// same folder then race, but each binary is renamed into place atomically.
func lockDir(context.Context, string) (func(), error) { return func() {}, nil }
