package build

import (
	"regexp"
	"strings"
)

// Credentials in remote references (a token as a URL's user name, a
// user:password, a token in the query) must not reach errors: the errors
// of this package quote references, and the errors of fetches quote the
// URLs fetched. redactText scrubs them from text.

const redacted = "redacted"

var (
	// userinfoRE matches the user information of a URL with a scheme.
	// scp-like user@host:path addresses keep their SSH login name.
	userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s?#@'"]+@`)
	// queryValueRE matches a query parameter and its value.
	queryValueRE = regexp.MustCompile(`([?&])([^=\s&#'"]+)=([^&\s#'"]*)`)
)

// publicQuery are the query parameters of kustomize's remote references,
// which say what to fetch and are kept.
var publicQuery = map[string]bool{"ref": true, "version": true, "timeout": true, "submodules": true}

// redactText replaces the user information of URLs, and the values of
// query parameters other than kustomize's own, with "redacted".
func redactText(s string) string {
	if !strings.Contains(s, "://") && !strings.ContainsAny(s, "?&") {
		return s
	}
	s = userinfoRE.ReplaceAllString(s, "${1}"+redacted+"@")
	return queryValueRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := queryValueRE.FindStringSubmatch(m)
		if publicQuery[strings.ToLower(sub[2])] {
			return m
		}
		return sub[1] + sub[2] + "=" + redacted
	})
}

// redactedError shows the message of the error it wraps through
// redactText, keeping the chain for errors.Is and errors.As.
type redactedError struct{ err error }

func (e *redactedError) Error() string { return redactText(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }
