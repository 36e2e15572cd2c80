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
		return nil, invalidf("repository URL %q has control characters", raw)
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
			return nil, invalidf("repository URL %q has no host", raw)
		}
		if u.Scheme == "file" && u.Path == "" {
			return nil, invalidf("repository URL %q has no path", raw)
		}
	} else if !scpLike.MatchString(raw) || len(raw) > 1 && raw[1] == ':' {
		return nil, invalidf("repository URL %q: want https://, http://, ssh://, file:// or scp-like user@host:path", raw)
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

// redactURL removes a password from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
