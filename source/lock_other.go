//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package source

import (
	"context"
	"os"
)

// lockFile is a no-op where flock(2) is not available: fetches are then
// serialized within the process only.
func lockFile(context.Context, string) (*os.File, error) { return nil, nil }

func unlockFile(*os.File) {}
