// Package reqkind names Kubernetes API requests for the benchmarks' request
// counts: server-side apply, get, list, watch, create and so on.
package reqkind

import (
	"net/http"
	"net/url"
	"strings"
)

// Classify names a request: "apply" (server-side apply), "dry-run apply",
// "get", "list", "watch", "delete", "create", "update", "patch",
// "discovery" (API group and resource listings, OpenAPI), or the method.
func Classify(method string, u *url.URL, contentType string) string {
	q := u.Query()
	dryRun := q.Get("dryRun") != ""
	if method == http.MethodPatch && (strings.HasPrefix(contentType, "application/apply-patch") ||
		(contentType == "" && q.Get("fieldManager") != "")) {
		if dryRun {
			return "dry-run apply"
		}
		return "apply"
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	var rest []string
	switch {
	case len(segs) >= 1 && (segs[0] == "openapi" || segs[0] == "version"):
		return "discovery"
	case len(segs) >= 2 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		rest = segs[3:]
	}
	if len(rest) == 0 {
		if method == http.MethodGet {
			return "discovery"
		}
		return strings.ToLower(method)
	}
	if rest[0] == "namespaces" && len(rest) >= 3 {
		rest = rest[2:]
	}
	prefix := ""
	if dryRun {
		prefix = "dry-run "
	}
	switch method {
	case http.MethodGet:
		switch {
		case q.Get("watch") == "true" || q.Get("watch") == "1":
			return "watch"
		case len(rest) == 1:
			return "list"
		default:
			return "get"
		}
	case http.MethodDelete:
		return prefix + "delete"
	case http.MethodPost:
		return prefix + "create"
	case http.MethodPut:
		return prefix + "update"
	case http.MethodPatch:
		return prefix + "patch"
	}
	return strings.ToLower(method)
}
