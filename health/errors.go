package health

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrFailed is matched (errors.Is) by every [*FailedError].
	ErrFailed = errors.New("health: objects failed")
	// ErrTimeout is matched (errors.Is) by every [*TimeoutError].
	ErrTimeout = errors.New("health: timeout")
)

// FailedError says objects failed: [Waiter.Wait] returned as soon as one did.
type FailedError struct {
	// Failed are the failed objects with their reasons.
	Failed []ObjectStatus
}

func (e *FailedError) Error() string { return "health: " + join(e.Failed) }

// Is reports whether target is [ErrFailed].
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// TimeoutError says the timeout passed before every object was Current.
type TimeoutError struct {
	Timeout time.Duration
	// Pending are the objects that were not Current, with their reasons.
	Pending []ObjectStatus
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("health: not ready after %s: %s", e.Timeout, join(e.Pending))
}

// Is reports whether target is [ErrTimeout].
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

func join(sts []ObjectStatus) string {
	var parts []string
	for i, s := range sts {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(sts)-i))
			break
		}
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "; ")
}
