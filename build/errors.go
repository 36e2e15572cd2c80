package build

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gitopskit/gitopskit/internal/object"
)

// Sentinel errors. Each typed error below matches its sentinel with
// errors.Is, so callers can branch on either.
var (
	// ErrPathEscape: a path or symlink leads outside the artifact root.
	ErrPathEscape = errors.New("path escapes the artifact root")
	// ErrTooLarge: a file, all files read by one build, or the objects of
	// one build exceed a [Limits] bound.
	ErrTooLarge = errors.New("input too large")
	// ErrRemoteBase: a kustomization refers to a remote base or resource and
	// [KustomizeOptions.AllowRemoteBases] is false, or the reference is one
	// gitopskit does not fetch (see [RemoteBaseError.Reason]).
	ErrRemoteBase = errors.New("remote kustomize base refused")
	// ErrRemoteFetch: with [KustomizeOptions.AllowRemoteBases], fetching a
	// remote base or file failed or went over a [RemoteOptions] bound.
	ErrRemoteFetch = errors.New("remote kustomize base fetch failed")
	// ErrUndefinedVariable: strict substitution met a variable with no value
	// and no default.
	ErrUndefinedVariable = errors.New("undefined substitution variable")
	// ErrInvalidObject: an object lacks apiVersion, kind or metadata.name,
	// or substitution changed it into something that is not one object.
	ErrInvalidObject = errors.New("invalid object")
	// ErrDuplicate: two objects have the same group, kind, namespace and name.
	ErrDuplicate = errors.New("duplicate object")
	// ErrCycle: a kustomization includes itself, directly or through others.
	ErrCycle = errors.New("kustomization cycle")
	// ErrFileName: generating a kustomization met a YAML file whose name is
	// not valid UTF-8, which a kustomization (YAML, so Unicode) cannot name.
	// It comes wrapped in an [*fs.PathError] naming the file.
	ErrFileName = errors.New("file name is not valid UTF-8")
	// ErrInvalidSelector: a [Selector] field does not compile (a regular
	// expression or a label selector).
	ErrInvalidSelector = errors.New("invalid selector")
	// ErrMalformedYAML matches [*YAMLError].
	ErrMalformedYAML = object.ErrMalformed
)

// ObjectKey identifies an object by group, kind, namespace and name; its
// String form is "group/Kind/namespace/name" ("core" for the core group, an
// empty namespace for cluster-scoped objects). Errors use it to name objects.
type ObjectKey = object.Key

// YAMLError reports malformed YAML or JSON, or a document that is not a
// Kubernetes object, naming the file (relative to the artifact root or the
// chart) and the line.
type YAMLError = object.DecodeError

// PathEscapeError reports a path that leads outside the artifact root,
// lexically ("../..") or through a symlink.
type PathEscapeError struct {
	// Path is the offending path, relative to the artifact root (so it starts
	// with "../" when it was written as one), or the symlink's path.
	Path string
	// Target is the symlink target that escapes, if a symlink did.
	Target string
}

func (e *PathEscapeError) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("symlink %s -> %s escapes the artifact root", e.Path, e.Target)
	}
	return fmt.Sprintf("path %s escapes the artifact root", e.Path)
}

// Is reports whether target is [ErrPathEscape].
func (e *PathEscapeError) Is(target error) bool { return target == ErrPathEscape }

// TooLargeError reports a file larger than [Limits.MaxFileSize], or a build
// that read more than [Limits.MaxTotalSize] bytes in all.
type TooLargeError struct {
	Path  string // the file, relative to the artifact root
	Size  int64  // its size, or the total read so far including it
	Limit int64  // the limit exceeded
	Total bool   // whether Limit is the total limit
}

func (e *TooLargeError) Error() string {
	if e.Total {
		return fmt.Sprintf("reading %s brings the build to %d bytes, over the limit of %d", e.Path, e.Size, e.Limit)
	}
	return fmt.Sprintf("file %s is %d bytes, over the limit of %d", e.Path, e.Size, e.Limit)
}

// Is reports whether target is [ErrTooLarge].
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// TooManyObjectsError reports a build over [Limits.MaxObjects].
type TooManyObjectsError struct {
	// Path is the file whose objects brought the count over the limit,
	// relative to the artifact root, when the build counted the objects of
	// the files it read before kustomize transformed them; empty when the
	// output was counted.
	Path  string
	Count int // the objects counted so far
	Limit int
}

func (e *TooManyObjectsError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("reading %s brings the build to %d objects, over the limit of %d", e.Path, e.Count, e.Limit)
	}
	return fmt.Sprintf("the build gives %d objects, over the limit of %d", e.Count, e.Limit)
}

// Is reports whether target is [ErrTooLarge].
func (e *TooManyObjectsError) Is(target error) bool { return target == ErrTooLarge }

// RemoteBaseError reports a remote reference (a URL, git@host:..., or
// github.com/...) in a kustomization.
type RemoteBaseError struct {
	Kustomization string // the kustomization file, relative to the artifact root
	// Ref is the remote reference as written, with any credential in it
	// (a URL's user name or password, query values) replaced by "redacted".
	Ref string
	// SetsSchema reports that remote bases were allowed but the build sets
	// the OpenAPI schema (an openapi field), and so runs alone and may not
	// wait on the network.
	SetsSchema bool
	// Reason, when not empty, says why a reference was refused although
	// remote bases were allowed: a kind of reference gitopskit does not
	// fetch (file://, a reference in a plugin configuration), or a host
	// outside [RemoteOptions.AllowedHosts].
	Reason string
}

func (e *RemoteBaseError) Error() string {
	switch {
	case e.SetsSchema:
		return fmt.Sprintf("%s refers to remote %q; a build that sets the OpenAPI schema may not use remote bases", e.Kustomization, e.Ref)
	case e.Reason != "":
		return fmt.Sprintf("%s refers to remote %q; %s", e.Kustomization, e.Ref, e.Reason)
	}
	return fmt.Sprintf("%s refers to remote %q; remote bases are not allowed", e.Kustomization, e.Ref)
}

// Is reports whether target is [ErrRemoteBase].
func (e *RemoteBaseError) Is(target error) bool { return target == ErrRemoteBase }

// RemoteFetchError reports a remote base or file that could not be
// fetched with [KustomizeOptions.AllowRemoteBases]: the server failed or
// refused, the fetch took longer than [RemoteOptions.Timeout] (Err wraps
// context.DeadlineExceeded), or it went over a byte, file or depth bound
// of [RemoteOptions] (Err wraps [ErrTooLarge]).
type RemoteFetchError struct {
	Kustomization string // the kustomization naming the reference
	// Ref is the remote reference as written, with any credential in it
	// replaced by "redacted", as in [RemoteBaseError.Ref].
	Ref string
	// Err is the cause; its message is shown redacted.
	Err error
}

func (e *RemoteFetchError) Error() string {
	return fmt.Sprintf("%s refers to remote %q: fetch failed: %s", e.Kustomization, e.Ref, redactText(e.Err.Error()))
}

// Unwrap returns the cause.
func (e *RemoteFetchError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrRemoteFetch].
func (e *RemoteFetchError) Is(target error) bool { return target == ErrRemoteFetch }

// SubstitutionError reports a variable that strict substitution could not
// resolve.
type SubstitutionError struct {
	Variable string     // the variable's name
	Object   object.Key // the object it appears in
}

func (e *SubstitutionError) Error() string {
	return fmt.Sprintf("substitution: variable %q in %s is not defined and has no default", e.Variable, e.Object)
}

// Is reports whether target is [ErrUndefinedVariable].
func (e *SubstitutionError) Is(target error) bool { return target == ErrUndefinedVariable }

// InvalidObjectError reports an object that is not a valid Kubernetes object.
type InvalidObjectError struct {
	Object object.Key // what is known of its identity
	Source string     // where it came from, when known
	Reason string     // what is wrong
}

func (e *InvalidObjectError) Error() string {
	var b strings.Builder
	b.WriteString("invalid object")
	if e.Object.Kind != "" || e.Object.Name != "" {
		b.WriteString(" " + e.Object.String())
	}
	if e.Source != "" {
		b.WriteString(" (from " + e.Source + ")")
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Is reports whether target is [ErrInvalidObject].
func (e *InvalidObjectError) Is(target error) bool { return target == ErrInvalidObject }

// DuplicateError reports two objects with the same identity.
type DuplicateError struct {
	Key object.Key
	// First and Second describe the two objects: their apiVersion and, when
	// known, the file each came from.
	First, Second string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("duplicate object %s: %s and %s", e.Key, e.First, e.Second)
}

// Is reports whether target is [ErrDuplicate].
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// CycleError reports a kustomization that includes itself, directly or
// through others.
type CycleError struct {
	Err error // kustomize's report, naming the directories
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("kustomization includes itself: %v", e.Err)
}

// Unwrap returns kustomize's error.
func (e *CycleError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrCycle].
func (e *CycleError) Is(target error) bool { return target == ErrCycle }
