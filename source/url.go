package source

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// scpLike matches the scp-like SSH syntax "[user@]host:path", the way git
// tells it from a local path: a colon before the first slash.
var scpLike = regexp.MustCompile(`^(?:[^@/\s]+@)?[^@/:\s]+:[^\s]*$`)

// remoteURL is a validated repository URL.
type remoteURL struct {
	// raw is the URL as the caller gave it.
	raw string
	// ep is go-git's parsed endpoint.
	ep *transport.Endpoint
	// key identifies the repository independently of user names:
	// "<scheme>://<host>:<port>/<path>". It names the cache entry.
	key string
}

// parseURL accepts https://, http://, ssh://, file:// and scp-like
// "git@host:path" URLs. Passwords in URLs are refused: credentials belong
// in [Auth], where they are never printed.
func parseURL(raw string) (*remoteURL, error) {
	if raw == "" {
		return nil, invalidf("empty repository URL")
	}
	if strings.ContainsAny(raw, "\x00\n\r") {
		return nil, invalidf("repository URL %q has control characters", redactURL(raw))
	}
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		switch strings.ToLower(scheme) {
		case "https", "http", "ssh", "file":
		default:
			return nil, invalidf("repository URL %q: unsupported scheme %q (want https, http, ssh, file or scp-like user@host:path)", redactURL(raw), scheme)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, invalidf("repository URL %q: %v", redactURL(raw), err)
		}
		if _, ok := u.User.Password(); ok {
			return nil, invalidf("repository URL %q has a password: pass credentials in Auth", redactURL(raw))
		}
		if u.Scheme != "file" && u.Host == "" {
			return nil, invalidf("repository URL %q has no host", redactURL(raw))
		}
		if u.Scheme == "file" && u.Path == "" {
			return nil, invalidf("repository URL %q has no path", redactURL(raw))
		}
	} else if !scpLike.MatchString(raw) || len(raw) > 1 && raw[1] == ':' {
		return nil, invalidf("repository URL %q: want https://, http://, ssh://, file:// or scp-like user@host:path", redactURL(raw))
	}

	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return nil, invalidf("repository URL %q: %v", redactURL(raw), err)
	}
	if ep.Password != "" {
		return nil, invalidf("repository URL %q has a password: pass credentials in Auth", redactURL(raw))
	}
	port := ep.Port
	if port == 0 {
		switch ep.Protocol {
		case "https":
			port = 443
		case "http":
			port = 80
		case "ssh":
			port = 22
		}
	}
	key := ep.Protocol + "://"
	if ep.Protocol != "file" {
		key += net.JoinHostPort(strings.ToLower(ep.Host), strconv.Itoa(port))
	}
	key += "/" + strings.TrimSuffix(strings.TrimPrefix(ep.Path, "/"), "/")
	return &remoteURL{raw: raw, ep: ep, key: key}, nil
}

// String is the URL with any password removed, for messages.
func (u *remoteURL) String() string { return redactURL(u.raw) }

// isLoopback reports whether the URL's host is a loopback address or
// localhost.
func (u *remoteURL) isLoopback() bool {
	h := strings.ToLower(u.ep.Host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// RedactURL returns url as it may be shown in messages, events and
// records: with the user information of a URL (user name and password: a
// token is often passed as the user name, as in https://TOKEN@host/repo)
// replaced by "redacted", and every query value and the fragment replaced
// by "redacted". The user name of an ssh:// or scp-like "user@host:path"
// URL is kept: SSH authenticates with keys, and the name is usually "git".
// Input that does not parse is scrubbed the same way as text.
func RedactURL(url string) string { return redactURL(url) }

const redacted = "redacted"

// userinfoRE matches the user information of a URL as text, for input that
// does not parse.
var userinfoRE = regexp.MustCompile(`(?i)(^[a-z][a-z0-9+.-]*://)[^/?#]*@`)

func redactURL(raw string) string {
	scheme, _, isURL := strings.Cut(raw, "://")
	if !isURL {
		// An scp-like user@host:path keeps its SSH login; anything else
		// before an "@" may be a credential.
		if at := strings.LastIndex(raw, "@"); at >= 0 && !scpLike.MatchString(raw) {
			return redacted + raw[at:]
		}
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		s := userinfoRE.ReplaceAllString(raw, "${1}"+redacted+"@")
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i] + "?" + redacted
		}
		return s
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); strings.EqualFold(scheme, "ssh") && !hasPassword {
			// keep the SSH login name
		} else {
			u.User = url.User(redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{redacted}
		}
		u.RawQuery = q.Encode()
		if u.RawQuery == "" {
			u.RawQuery = redacted
		}
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = redacted, ""
	}
	return u.String()
}

// secretsOf returns the parts of a URL and of auth that must never be shown:
// the user information of a URL (but an SSH login name), query values, the
// fragment, and auth's password and bearer token.
func secretsOf(raw string, auth *Auth) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 && s != redacted {
			out = append(out, s)
		}
	}
	if auth != nil {
		add(auth.Password)
		add(auth.BearerToken)
	}
	scheme, rest, isURL := strings.Cut(raw, "://")
	if !isURL {
		if at := strings.LastIndex(raw, "@"); at >= 0 && !scpLike.MatchString(raw) {
			add(raw[:at])
		}
		return out
	}
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		userinfo := rest[:at]
		user, password, hasPassword := strings.Cut(userinfo, ":")
		if !strings.EqualFold(scheme, "ssh") || hasPassword {
			add(userinfo)
			add(user)
			if un, err := url.PathUnescape(user); err == nil {
				add(un)
			}
		}
		add(password)
		if pw, err := url.PathUnescape(password); err == nil {
			add(pw)
		}
	}
	if u, err := url.Parse(raw); err == nil {
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		add(u.RawQuery)
		add(u.Fragment)
	} else if i := strings.IndexAny(raw, "?#"); i >= 0 {
		add(raw[i+1:])
	}
	return out
}

// redactedError hides secrets in the message of the error it wraps (which
// may come from go-git or the network and quote the URL), keeping the
// chain for errors.Is and errors.As.
type redactedError struct {
	err     error
	raw     string // the URL as given, replaced by its redacted form
	secrets []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	if e.raw != "" {
		msg = strings.ReplaceAll(msg, e.raw, redactURL(e.raw))
	}
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

// redactError wraps err so that its message never shows the secrets of raw
// and auth.
func redactError(err error, raw string, auth *Auth) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err, raw: raw, secrets: secretsOf(raw, auth)}
}
