package helmrelease

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, matched with [errors.Is] by the typed errors below.
var (
	// ErrInvalidSpec matches a [*SpecError].
	ErrInvalidSpec = errors.New("helmrelease: invalid release spec")
	// ErrAuthFailed matches an [*AuthError]: the repository or registry
	// refused the credentials (or asked for some).
	ErrAuthFailed = errors.New("helmrelease: authentication failed")
	// ErrChartNotFound matches a [*ChartNotFoundError] for a chart the
	// repository does not have at all.
	ErrChartNotFound = errors.New("helmrelease: chart not found")
	// ErrChartVersionNotFound matches a [*ChartNotFoundError] for a chart
	// that has no version matching the requested one.
	ErrChartVersionNotFound = errors.New("helmrelease: chart version not found")
	// ErrFetch matches a [*FetchError]: a repository or registry request
	// failed for another reason than authentication or absence.
	ErrFetch = errors.New("helmrelease: fetch failed")
	// ErrInvalidChart matches a [*ChartError]: the chart does not load or
	// does not render (bad Chart.yaml, template or schema error).
	ErrInvalidChart = errors.New("helmrelease: invalid chart")
	// ErrValues matches a [*ValuesError] and a [*ValuesFileError].
	ErrValues = errors.New("helmrelease: invalid values")
	// ErrValuesFileNotFound matches a [*ValuesFileError] for a values
	// file the chart does not have.
	ErrValuesFileNotFound = errors.New("helmrelease: values file not found")
	// ErrPostRender matches a [*PostRenderError].
	ErrPostRender = errors.New("helmrelease: post-render failed")
	// ErrReleaseFailed matches a [*ReleaseError]: an install, upgrade or
	// test failed.
	ErrReleaseFailed = errors.New("helmrelease: release failed")
	// ErrRetriesExhausted matches a [*RetriesExhaustedError].
	ErrRetriesExhausted = errors.New("helmrelease: retries exhausted")
	// ErrDependencyNotReady matches a [*DependencyNotReadyError].
	ErrDependencyNotReady = errors.New("helmrelease: dependency not ready")
)

// SpecError reports an invalid [Release].
type SpecError struct {
	Release  string
	Problems []string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("helmrelease: %s: invalid spec: %s", e.Release, strings.Join(e.Problems, "; "))
}

// Is reports whether target is [ErrInvalidSpec].
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// AuthError reports credentials refused by a chart repository or registry.
type AuthError struct {
	// URL is the request that was refused.
	URL string
	// StatusCode is the HTTP status (401 or 403).
	StatusCode int
	// Err is the underlying error, if any.
	Err error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("helmrelease: authentication failed for %s (HTTP %d)", e.URL, e.StatusCode)
}

// Is reports whether target is [ErrAuthFailed].
func (e *AuthError) Is(target error) bool { return target == ErrAuthFailed }

// Unwrap returns the underlying error.
func (e *AuthError) Unwrap() error { return e.Err }

// ChartNotFoundError reports a chart, or a chart version, the repository
// does not have.
type ChartNotFoundError struct {
	// Repository is the repository URL.
	Repository string
	// Chart is the chart name.
	Chart string
	// Version is the requested version or range ("" for the newest).
	Version string
	// Available lists the versions the repository has (newest first), if
	// known; empty when the chart itself is missing.
	Available []string
	// NoChart is true when the chart itself is missing.
	NoChart bool
}

func (e *ChartNotFoundError) Error() string {
	if e.NoChart {
		return fmt.Sprintf("helmrelease: chart %q not found in %s", e.Chart, e.Repository)
	}
	msg := fmt.Sprintf("helmrelease: no version of chart %q in %s matches %q", e.Chart, e.Repository, e.Version)
	if len(e.Available) > 0 {
		shown := e.Available
		if len(shown) > 10 {
			shown = shown[:10]
		}
		msg += " (available: " + strings.Join(shown, ", ")
		if len(e.Available) > len(shown) {
			msg += ", …"
		}
		msg += ")"
	}
	return msg
}

// Is reports whether target is [ErrChartNotFound] (chart missing) or
// [ErrChartVersionNotFound] (chart present, version missing).
func (e *ChartNotFoundError) Is(target error) bool {
	if e.NoChart {
		return target == ErrChartNotFound
	}
	return target == ErrChartVersionNotFound
}

// FetchError reports a failed repository or registry request.
type FetchError struct {
	URL string
	// StatusCode is the HTTP status, or 0 when there was no response.
	StatusCode int
	Err        error
}

func (e *FetchError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("helmrelease: fetch %s: HTTP %d", e.URL, e.StatusCode)
	}
	return fmt.Sprintf("helmrelease: fetch %s: %v", e.URL, e.Err)
}

// Is reports whether target is [ErrFetch].
func (e *FetchError) Is(target error) bool { return target == ErrFetch }

// Unwrap returns the underlying error.
func (e *FetchError) Unwrap() error { return e.Err }

// ChartError reports a chart that does not load or render.
type ChartError struct {
	// Chart names the chart (name and version, or its path).
	Chart string
	Err   error
}

func (e *ChartError) Error() string {
	return fmt.Sprintf("helmrelease: invalid chart %s: %v", e.Chart, e.Err)
}

// Is reports whether target is [ErrInvalidChart].
func (e *ChartError) Is(target error) bool { return target == ErrInvalidChart }

// Unwrap returns the underlying error.
func (e *ChartError) Unwrap() error { return e.Err }

// ValuesError reports a values reference that cannot be used: a required
// object or key that is missing, a document that is not a YAML map, or a
// bad target path.
type ValuesError struct {
	// Kind and Name name the referenced object.
	Kind, Name string
	// Key is the data key.
	Key string
	Err error
}

func (e *ValuesError) Error() string {
	return fmt.Sprintf("helmrelease: values from %s/%s key %q: %v", e.Kind, e.Name, e.Key, e.Err)
}

// Is reports whether target is [ErrValues].
func (e *ValuesError) Is(target error) bool { return target == ErrValues }

// Unwrap returns the underlying error.
func (e *ValuesError) Unwrap() error { return e.Err }

// ValuesFileError reports a file of [ChartRef.ValuesFiles] that the chart
// does not have (Missing) or that is not a YAML map.
type ValuesFileError struct {
	// Chart names the chart (name and version, or its path).
	Chart string
	// File is the values file as listed.
	File    string
	Missing bool
	Err     error
}

func (e *ValuesFileError) Error() string {
	if e.Missing {
		return fmt.Sprintf("helmrelease: chart %s has no values file %q (set IgnoreMissingValuesFiles to skip it)", e.Chart, e.File)
	}
	return fmt.Sprintf("helmrelease: chart %s: values file %q: %v", e.Chart, e.File, e.Err)
}

// Is reports whether target is [ErrValues], or [ErrValuesFileNotFound]
// for a missing file.
func (e *ValuesFileError) Is(target error) bool {
	return target == ErrValues || (e.Missing && target == ErrValuesFileNotFound)
}

// Unwrap returns the underlying error.
func (e *ValuesFileError) Unwrap() error { return e.Err }

// PostRenderError reports a post renderer ([Release.PostRenderers]) that
// cannot be applied to the rendered manifests: a patch that does not
// parse, or a strategic merge patch naming no rendered object.
type PostRenderError struct {
	Release string
	Err     error
}

func (e *PostRenderError) Error() string {
	return fmt.Sprintf("helmrelease: %s: post-render: %v", e.Release, e.Err)
}

// Is reports whether target is [ErrPostRender].
func (e *PostRenderError) Is(target error) bool { return target == ErrPostRender }

// Unwrap returns the underlying error.
func (e *PostRenderError) Unwrap() error { return e.Err }

// ReleaseError reports a failed install, upgrade or test attempt.
type ReleaseError struct {
	Release string
	// Action is what failed.
	Action Action
	// Revision is the revision the attempt created, or 0 when it failed
	// before creating one (then nothing was changed in the cluster and the
	// attempt is not remediated or counted).
	Revision int
	// Remediation is what was done about it (rollback, uninstall), if
	// anything.
	Remediation Action
	Err         error
}

func (e *ReleaseError) Error() string {
	msg := fmt.Sprintf("helmrelease: %s: %s failed", e.Release, e.Action)
	if e.Revision > 0 {
		msg += fmt.Sprintf(" (revision %d)", e.Revision)
	}
	msg += ": " + e.Err.Error()
	if e.Remediation != "" {
		msg += fmt.Sprintf(" [remediated: %s]", e.Remediation)
	}
	return msg
}

// Is reports whether target is [ErrReleaseFailed].
func (e *ReleaseError) Is(target error) bool { return target == ErrReleaseFailed }

// Unwrap returns the underlying error.
func (e *ReleaseError) Unwrap() error { return e.Err }

// RetriesExhaustedError reports a release whose install or upgrade failed
// more times than its retries allow for the current chart and values. It is
// terminal: only a new chart, new values or new configuration start over.
type RetriesExhaustedError struct {
	Release string
	// Failures is the number of failed attempts for the desired chart and
	// values.
	Failures int
	// Last describes the last failure, from the release history.
	Last string
	// Err is the error of the last attempt made by this call, if any.
	Err error
}

func (e *RetriesExhaustedError) Error() string {
	msg := fmt.Sprintf("helmrelease: %s: retries exhausted after %d failed attempt(s)", e.Release, e.Failures)
	if e.Last != "" {
		msg += ": " + e.Last
	}
	return msg
}

// Is reports whether target is [ErrRetriesExhausted].
func (e *RetriesExhaustedError) Is(target error) bool { return target == ErrRetriesExhausted }

// Unwrap returns the last attempt's error, if any.
func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// DependencyNotReadyError reports a release skipped because a release it
// depends on is not ready.
type DependencyNotReadyError struct {
	Release    string
	Dependency string
}

func (e *DependencyNotReadyError) Error() string {
	return fmt.Sprintf("helmrelease: %s: dependency %s is not ready", e.Release, e.Dependency)
}

// Is reports whether target is [ErrDependencyNotReady].
func (e *DependencyNotReadyError) Is(target error) bool { return target == ErrDependencyNotReady }
