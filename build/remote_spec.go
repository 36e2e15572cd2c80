package build

import (
	"errors"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// gitSpec is a Git base in kustomize's remote syntax, parsed as kustomize
// (api v0.21, internal/git.NewRepoSpecFromURL) parses it, so that a
// reference names the same repository, directory and ref for gitopskit as
// for kustomize.
type gitSpec struct {
	// CloneURL is the repository: scheme, user, host and repository path
	// ("https://github.com/org/repo", "git@github.com:org/repo.git").
	CloneURL string
	// Dir is the kustomization's directory in the repository, "" for its
	// root.
	Dir string
	// Ref is the ?ref= (or ?version=) value: a tag, branch or commit; ""
	// for the default branch.
	Ref string
}

var gitUserRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9-]*)@`)

// parseGitSpec parses a Git base the way kustomize does (the "git::"
// prefix stripped, the query holding ref, version, timeout and submodules,
// "_git/", "//" or ".git" splitting the repository from the directory,
// else org/repo for the first two segments). file:// references are
// refused: they name a repository on the local disk.
func parseGitSpec(n string) (*gitSpec, error) {
	if path.IsAbs(n) {
		return nil, errors.New("an absolute path is not a Git base")
	}
	n, query, _ := strings.Cut(n, "?")
	spec := &gitSpec{}
	if values, err := url.ParseQuery(query); err == nil {
		spec.Ref = values.Get("version")
		if r := values.Get("ref"); r != "" {
			spec.Ref = r
		}
	}
	if rest, ok := cutPrefixFold(n, "git::"); ok {
		n = rest
	}
	scheme := ""
	for _, p := range []string{"ssh://", "https://", "http://", "file://"} {
		if rest, ok := cutPrefixFold(n, p); ok {
			scheme, n = p, rest
			break
		}
	}
	if scheme == "file://" {
		return nil, errors.New("file:// Git bases read the local disk")
	}
	user := ""
	if m := gitUserRE.FindStringSubmatch(n); m != nil {
		user, n = m[1]+"@", n[len(m[0]):]
	}
	lower := strings.ToLower(n)
	github := strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:")
	scp := scheme == "" && (user != "" || github)
	if scheme == "" && !scp {
		return nil, errors.New("not a Git address")
	}
	sep := strings.Index(n, "/")
	if scp {
		if colon := strings.Index(n, ":"); sep == -1 || colon > 0 && colon < sep {
			sep = colon
		}
	}
	host, rest := n, ""
	if sep >= 0 {
		host, rest = n[:sep+1], n[sep+1:]
	}
	if github {
		if strings.HasPrefix(scheme, "ssh://") || user != "" {
			scheme, host = "", "github.com:"
		} else {
			scheme, user, host = "https://", "", "github.com/"
		}
	}
	if host == "" || host == "/" || host == ":" {
		return nil, errors.New("no host")
	}
	repo, dir, ok := splitRepoPath(rest)
	if !ok || repo == "" {
		return nil, errors.New("no repository path")
	}
	dir = strings.TrimPrefix(dir, "/")
	if c := path.Clean(dir); c == ".." || strings.HasPrefix(c, "../") {
		return nil, errors.New("the directory leaves the repository")
	}
	if c := path.Clean("/" + dir); c == "/" {
		dir = ""
	} else {
		dir = strings.TrimPrefix(c, "/")
	}
	spec.CloneURL = scheme + user + host + repo
	spec.Dir = dir
	return spec, nil
}

// splitRepoPath splits a path into the repository and the directory in it,
// as kustomize's parsePathParts does for non-file URLs.
func splitRepoPath(n string) (repo, dir string, ok bool) {
	if i := strings.Index(n, "_git/"); i >= 0 {
		segs := strings.Split(n[i+len("_git/"):], "/")
		return n[:i+len("_git/")] + segs[0], strings.Join(segs[1:], "/"), true
	}
	if i := strings.Index(n, "//"); i >= 0 {
		return n[:i], n[i+2:], true
	}
	if i := strings.Index(n, ".git"); i >= 0 {
		return n[:i+len(".git")], n[i+len(".git"):], true
	}
	segs := strings.Split(n, "/")
	if len(segs) < 2 {
		return "", "", false
	}
	return strings.Join(segs[:2], "/"), strings.Join(segs[2:], "/"), true
}

// httpScheme reports whether ref is an http:// or https:// URL, which
// kustomize's loader fetches as a file.
func httpScheme(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// looksLikeGit reports whether an http(s) reference in a field that may
// name a directory (resources, components, generators, transformers,
// validators) is a Git base rather than a file. Kustomize tries such a
// reference as a file first and clones it when that fails; gitopskit
// decides from its form, so that it fetches once: a reference with a
// ref or version query, a "//", "_git/" or ".git" marker in its path, or
// on github.com is a Git base; anything else is a file.
func looksLikeGit(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	q := u.Query()
	if q.Has("ref") || q.Has("version") {
		return true
	}
	if strings.EqualFold(u.Hostname(), "github.com") {
		return true
	}
	p := u.EscapedPath()
	return strings.Contains(p, "//") || strings.Contains(p, "_git/") || strings.Contains(p, ".git")
}
