package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Sentinel errors. Errors returned by this package wrap one of them when the
// cause is known, so callers branch with errors.Is.
var (
	// ErrInvalid reports invalid input: a malformed URL or unsupported
	// scheme, a commit that is not a full hexadecimal SHA-1, a semantic
	// version range that does not parse, contradictory options.
	ErrInvalid = errors.New("invalid input")

	// ErrAuth reports that the remote refused the credentials (HTTP 401 or
	// 403, SSH public key rejected) or that the credentials could not be
	// used at all (an identity that does not parse, a wrong passphrase).
	ErrAuth = errors.New("authentication failed")

	// ErrHostKey reports that the SSH server's host key is not in the
	// known_hosts data given, or differs from the key pinned there.
	ErrHostKey = errors.New("SSH host key verification failed")

	// ErrRepositoryNotFound reports that the remote has no repository at
	// the URL.
	ErrRepositoryNotFound = errors.New("repository not found")

	// ErrRefNotFound reports that the reference asked for (a branch, tag,
	// reference name or commit) does not exist on the remote, or that the
	// remote repository is empty. The error message names the reference.
	ErrRefNotFound = errors.New("reference not found")

	// ErrNoMatchingTag reports that no tag of the remote satisfies the
	// semantic version range of [Ref.SemVer].
	ErrNoMatchingTag = errors.New("no tag matches the semver range")

	// ErrVerification reports that the commit or tag signature could not be
	// verified; the error is a [*VerificationError].
	ErrVerification = errors.New("signature verification failed")

	// ErrPathNotFound reports that a path of [Options.Paths] does not exist
	// in the fetched tree.
	ErrPathNotFound = errors.New("path not found in tree")

	// ErrLayerNotFound reports that an OCI artifact has no layer of the
	// media type asked for ([OCIOptions.MediaType]), or no layer at all.
	ErrLayerNotFound = errors.New("layer not found in the OCI artifact")

	// ErrTooLarge reports an artifact over [Options.Limits]; the error is a
	// [*TooLargeError].
	ErrTooLarge = errors.New("artifact too large")
)

// VerificationError is returned when signature verification fails: the
// object is not signed, is signed by a key that is not among the trusted
// keys, or the signature does not match. errors.Is(err, ErrVerification)
// holds for it.
type VerificationError struct {
	// Object is what was verified: "commit <sha>" or "tag <name>".
	Object string
	// Reason says what went wrong, e.g. "not signed".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *VerificationError) Error() string {
	msg := fmt.Sprintf("%s: %s: %s", ErrVerification, e.Object, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrVerification.
func (e *VerificationError) Is(target error) bool { return target == ErrVerification }

// Unwrap returns the underlying error.
func (e *VerificationError) Unwrap() error { return e.Err }

// invalidf returns an error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// classify maps an error from the transport to the package's sentinels. ctx
// is the caller's context: when it is done, its error is wrapped as well, so
// errors.Is(err, context.DeadlineExceeded) works whatever the transport
// returned. hostKeyErr is the error recorded by the host key callback, if
// any.
func classify(ctx context.Context, err error, hostKeyErr error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	switch {
	case hostKeyErr != nil:
		return fmt.Errorf("%w: %w", ErrHostKey, hostKeyErr)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return &classified{ErrAuth, err, "the server requires credentials or rejected them (HTTP 401)"}
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return &classified{ErrAuth, err, "access denied (HTTP 403)"}
	case errors.Is(err, transport.ErrInvalidAuthMethod):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return &classified{ErrRepositoryNotFound, err, ""}
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return &classified{ErrRefNotFound, err, "the repository is empty"}
	}
	// golang.org/x/crypto/ssh reports a refused public key only as text.
	if msg := err.Error(); strings.Contains(msg, "ssh: unable to authenticate") {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return err
}

// classified wraps a transport error whose own text says no more than the
// sentinel's, so that the message does not repeat itself.
type classified struct {
	sentinel error
	err      error
	detail   string
}

func (c *classified) Error() string {
	if c.detail == "" {
		return c.sentinel.Error()
	}
	return c.sentinel.Error() + ": " + c.detail
}

func (c *classified) Unwrap() []error { return []error{c.sentinel, c.err} }
