package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Copy is one copy operation of [Compose]: what Flux's ArtifactGenerator
// (source.extensions.fluxcd.io) calls a copy operation, with the alias
// prefixes ("@source/", "@artifact/") removed.
type Copy struct {
	// From is a slash-separated path in the artifact: a file, a directory
	// or a glob (*, ?, [...]). As cp does, a directory is copied as a
	// subdirectory of To ("configs/" to "apps/" makes apps/configs/...);
	// "dir/**" copies what dir holds, recursively, into To; any other glob
	// copies each match at its own path under To.
	From string
	// To is a slash-separated path in the composed tree ("" is its root).
	// With a trailing "/" (or when it is a directory already) a file is
	// copied into it under its own name; otherwise To names the file.
	To string
	// Exclude are globs ("**" spans directories) of files not to copy,
	// matched against their path relative to the part of From before its
	// first glob; a pattern without "/" matches a file name at any depth.
	Exclude []string
}

// Compose copies files of art's tree into dst by ops, in order (a later
// copy overwrites an earlier one's file), the way Flux's ArtifactGenerator
// composes an ExternalArtifact out of a source. dst must not exist; it is
// created. Reads stay inside art.Dir and writes inside dst whatever the
// paths and symbolic links say, and the composed tree is bounded by
// limits (zero fields take [DefaultLimits]), since overlapping copies can
// make it larger than the artifact. The result has art's URL, Revision
// and Commit, Dir dst, and the Digest and Size of dst's tree.
//
// A From that matches nothing, an invalid glob and a path leaving the
// tree are errors wrapping [ErrInvalid]; a tree over limits is a
// [*TooLargeError].
func Compose(ctx context.Context, art *Artifact, dst string, ops []Copy, limits Limits) (*Artifact, error) {
	if art == nil || art.Dir == "" {
		return nil, invalidf("compose: no artifact")
	}
	if len(ops) == 0 {
		return nil, invalidf("compose: no copy operations")
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	src, err := os.OpenRoot(art.Dir)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	defer src.Close()
	out, err := os.OpenRoot(dst)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	defer out.Close()
	c := &composer{ctx: ctx, src: src, out: out, limits: limits.withDefaults(), sizes: map[string]int64{}}
	for i, op := range ops {
		if err := c.apply(op); err != nil {
			return nil, fmt.Errorf("compose: copy %d (from %q to %q): %w", i, op.From, op.To, err)
		}
	}
	digest, size, err := DirDigest(dst)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return &Artifact{URL: art.URL, Revision: art.Revision, Commit: art.Commit, Dir: dst, Digest: digest, Size: size, VerifiedBy: art.VerifiedBy}, nil
}

type composer struct {
	ctx      context.Context
	src, out *os.Root
	limits   Limits
	sizes    map[string]int64 // files written, by path: an overwrite counts once
	total    int64
}

// clean checks a slash-separated path relative to a root: it may not
// climb out of it.
func clean(p string) (string, error) {
	c := path.Clean(p)
	if c == "" || c == "/" {
		c = "."
	}
	if strings.Contains(p, "\\") || !fs.ValidPath(c) {
		return "", invalidf("path %q leaves the tree", p)
	}
	return c, nil
}

func (c *composer) apply(op Copy) error {
	for _, x := range op.Exclude {
		if !doublestar.ValidatePattern(x) {
			return invalidf("exclude pattern %q", x)
		}
	}
	to, err := clean(op.To)
	if err != nil {
		return err
	}
	intoDir := op.To == "" || strings.HasSuffix(op.To, "/")
	if !hasGlob(op.From) {
		from, err := clean(op.From)
		if err != nil {
			return err
		}
		info, err := c.src.Stat(from)
		if err != nil {
			return invalidf("%q is not in the artifact", op.From)
		}
		if info.IsDir() {
			if from == "." {
				return c.copyTree(from, to, from, op.Exclude)
			}
			return c.copyTree(from, path.Join(to, path.Base(from)), from, op.Exclude)
		}
		if excluded(from, ".", op.Exclude) {
			return nil
		}
		if !intoDir {
			if fi, err := c.out.Stat(to); err == nil && fi.IsDir() {
				intoDir = true
			}
		}
		if intoDir {
			to = path.Join(to, path.Base(from))
		}
		return c.copyFile(from, to)
	}
	pattern, err := clean(op.From)
	if err != nil || !doublestar.ValidatePattern(pattern) {
		return invalidf("glob %q", op.From)
	}
	// One level per segment, "**" like "*", as Flux's builder: a matched
	// directory is copied whole.
	matches, err := fs.Glob(c.src.FS(), pattern)
	if err != nil {
		return invalidf("glob %q: %v", op.From, err)
	}
	base := literalPrefix(pattern)
	dirPrefix, contents := strings.CutSuffix(pattern, "/**")
	copied := 0
	for _, m := range matches {
		if m == "." || isGitDir(path.Base(m)) || excluded(m, base, op.Exclude) {
			continue
		}
		target := path.Join(to, m)
		if rel, ok := strings.CutPrefix(m, dirPrefix+"/"); contents && ok {
			target = path.Join(to, rel)
		}
		info, err := c.src.Stat(m)
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		if info.IsDir() {
			err = c.copyTree(m, target, base, op.Exclude)
		} else {
			err = c.copyFile(m, target)
		}
		if err != nil {
			return err
		}
		copied++
	}
	if copied == 0 {
		return invalidf("%q matches no file of the artifact (after excludes)", op.From)
	}
	return nil
}

// hasGlob says whether p has a glob character.
func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// literalPrefix is the part of a glob before its first segment with a
// glob character ("." when the first has one).
func literalPrefix(pattern string) string {
	var lit []string
	for _, seg := range strings.Split(pattern, "/") {
		if hasGlob(seg) {
			break
		}
		lit = append(lit, seg)
	}
	if len(lit) == 0 {
		return "."
	}
	return path.Join(lit...)
}

// excluded says whether file p is excluded by patterns matched against its
// path relative to base, or by name for a pattern without "/".
func excluded(p, base string, patterns []string) bool {
	rel := p
	if base != "." {
		if r, ok := strings.CutPrefix(p, base+"/"); ok {
			rel = r
		}
	}
	for _, x := range patterns {
		if doublestar.MatchUnvalidated(x, rel) || !strings.Contains(x, "/") && doublestar.MatchUnvalidated(x, path.Base(p)) {
			return true
		}
	}
	return false
}

// copyTree copies directory from to to, skipping excluded files.
func (c *composer) copyTree(from, to, base string, exclude []string) error {
	return fs.WalkDir(c.src.FS(), from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != from && isGitDir(d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if excluded(p, base, exclude) {
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, from), "/")
		if from == "." {
			rel = p
		}
		return c.copyFile(p, path.Join(to, rel))
	})
}

// copyFile copies one regular file (a symbolic link is followed, inside
// the artifact only) and counts it against the limits.
func (c *composer) copyFile(from, to string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if to == "." {
		return invalidf("%q would replace the composed tree's root", from)
	}
	in, err := c.src.Open(from)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	prev, seen := c.sizes[to]
	files := len(c.sizes)
	if !seen {
		files++
	}
	if files > c.limits.MaxFiles {
		return &TooLargeError{Path: from, Count: int64(files), Limit: int64(c.limits.MaxFiles), Files: true}
	}
	if total := c.total - prev + info.Size(); total > c.limits.MaxBytes {
		return &TooLargeError{Path: from, Count: total, Limit: c.limits.MaxBytes}
	}
	if dir := path.Dir(to); dir != "." {
		if err := c.out.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: %w", to, err)
		}
	}
	f, err := c.out.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm()|0o200)
	if err != nil {
		return fmt.Errorf("%s: %w", to, err)
	}
	n, err := io.Copy(f, io.LimitReader(in, info.Size()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", to, err)
	}
	if n != info.Size() {
		return fmt.Errorf("%s: %w", from, errors.New("changed while copied"))
	}
	c.sizes[to] = n
	c.total += n - prev
	return nil
}
