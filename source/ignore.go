package source

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// IgnoreFile is the file in the repository root whose patterns (gitignore
// syntax) exclude paths from the artifact. Only the root file is read.
const IgnoreFile = ".sourceignore"

// filter decides which tree paths go into the artifact.
type filter struct {
	ignore gitignore.Matcher // nil: ignore nothing
	paths  []string          // cleaned; empty: everything
}

// newFilter reads the root .sourceignore of tree (if any) and appends the
// caller's patterns, so that the caller's patterns win over the file's.
func newFilter(tree *object.Tree, patterns, paths []string) (*filter, error) {
	var own []byte
	if tree != nil {
		if e, err := tree.FindEntry(IgnoreFile); err == nil && e.Mode == filemode.Regular {
			f, err := tree.TreeEntryFile(e)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", IgnoreFile, err)
			}
			r, err := f.Reader()
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", IgnoreFile, err)
			}
			own, err = io.ReadAll(io.LimitReader(r, 1<<20))
			_ = r.Close()
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", IgnoreFile, err)
			}
		}
	}
	return filterOf(own, patterns, paths), nil
}

// filterOf makes a filter of the content of a .sourceignore file followed
// by the caller's patterns, and of paths.
func filterOf(own []byte, patterns, paths []string) *filter {
	var lines []string
	if len(own) > 0 {
		lines = strings.Split(string(own), "\n")
	}
	lines = append(lines, patterns...)
	var ps []gitignore.Pattern
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(l, nil))
	}
	f := &filter{paths: paths}
	if len(ps) > 0 {
		f.ignore = gitignore.NewMatcher(ps)
	}
	return f
}

// cleanPaths validates [Options.Paths]: relative, slash-separated, no "..".
func cleanPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		c := path.Clean(strings.TrimPrefix(p, "./"))
		if p == "" || strings.HasPrefix(p, "/") || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(p, 0) {
			return nil, invalidf("path %q must be relative to the repository root and stay inside it", p)
		}
		if c == "." {
			return nil, nil // the whole tree
		}
		out = append(out, c)
	}
	return out, nil
}

// skip reports whether the tree entry at p (slash-separated) is left out.
func (f *filter) skip(p string, isDir bool) bool {
	if len(f.paths) > 0 && !f.wanted(p, isDir) {
		return true
	}
	return f.ignore != nil && f.ignore.Match(strings.Split(p, "/"), isDir)
}

// wanted reports whether p is inside one of the paths, or a directory on
// the way to one.
func (f *filter) wanted(p string, isDir bool) bool {
	for _, w := range f.paths {
		if p == w || strings.HasPrefix(p, w+"/") {
			return true
		}
		if isDir && strings.HasPrefix(w, p+"/") {
			return true
		}
	}
	return false
}
