package source

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// untarGzip extracts a gzip-compressed tar read from r into dir, an
// existing directory, as untrusted input: every write goes through an
// os.Root of dir, so no entry name and no symbolic link extracted before
// can make it land outside; files, bytes and time are bounded.
func untarGzip(ctx context.Context, r io.Reader, dir string, limits Limits) error {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		return invalidf("the layer is not gzip-compressed: want a tar.gz")
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return invalidf("the layer is not gzip-compressed: %v", err)
	}
	defer zr.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &untarrer{ctx: ctx, root: root, limits: limits, buf: make([]byte, 32<<10)}
	tr := tar.NewReader(zr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return invalidf("reading the tar: %v", err)
		}
		if err := x.entry(h, tr); err != nil {
			return err
		}
	}
	// Read to the end, so that the caller can check the digest.
	if _, err := io.Copy(io.Discard, ctxReader{ctx: ctx, r: br}); err != nil {
		return err
	}
	return nil
}

type untarrer struct {
	ctx    context.Context
	root   *os.Root
	limits Limits
	files  int
	dirs   int
	size   int64
	buf    []byte
}

// cleanEntryName returns the slash-separated path of a tar entry inside
// the tree, "" for the root, or an error for a name that leaves it.
func cleanEntryName(name string) (string, error) {
	if strings.ContainsRune(name, 0) || strings.HasPrefix(name, "/") {
		return "", invalidf("tar entry %q: absolute or malformed path", name)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", invalidf("tar entry %q leaves the artifact", name)
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

func (x *untarrer) entry(h *tar.Header, r io.Reader) error {
	p, err := cleanEntryName(h.Name)
	if err != nil {
		return err
	}
	if p == "" || h.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	for _, el := range strings.Split(p, "/") {
		if isGitDir(el) {
			return nil // as for Git: ".git" never appears
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		// Directories are bounded too: a stream of them fills no bytes
		// but costs inodes.
		x.dirs++
		if x.limits.MaxFiles >= 0 && x.dirs > x.limits.MaxFiles {
			return &TooLargeError{Path: p, Count: int64(x.dirs), Limit: int64(x.limits.MaxFiles), Files: true}
		}
		return x.mkdirAll(p)
	case tar.TypeReg: // the reader turns old archivers' TypeRegA into TypeReg
		return x.file(p, h, r)
	case tar.TypeSymlink:
		x.files++
		if err := x.limits.check(p, x.size, x.files); err != nil {
			return err
		}
		if err := x.prepare(p); err != nil {
			return err
		}
		if len(h.Linkname) > 4096 || strings.ContainsRune(h.Linkname, 0) {
			return invalidf("tar entry %q: malformed link target", h.Name)
		}
		return x.wrap(p, x.root.Symlink(h.Linkname, p))
	case tar.TypeLink:
		target, err := cleanEntryName(h.Linkname)
		if err != nil || target == "" {
			return invalidf("tar entry %q: hard link to %q leaves the artifact", h.Name, h.Linkname)
		}
		fi, err := x.root.Lstat(target)
		if err != nil || !fi.Mode().IsRegular() {
			return invalidf("tar entry %q: hard link to %q, which is not a file extracted before", h.Name, h.Linkname)
		}
		x.files++
		if err := x.limits.check(p, x.size+fi.Size(), x.files); err != nil {
			return err
		}
		if err := x.prepare(p); err != nil {
			return err
		}
		x.size += fi.Size()
		return x.wrap(p, x.root.Link(target, p))
	}
	return invalidf("tar entry %q: unsupported type %q (want files, directories and links)", h.Name, string(h.Typeflag))
}

func (x *untarrer) wrap(p string, err error) error {
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// prepare makes p's parent directories and removes what is at p, so that
// a later entry replaces an earlier one of the same name.
func (x *untarrer) prepare(p string) error {
	if d := path.Dir(p); d != "." {
		if err := x.mkdirAll(d); err != nil {
			return err
		}
	}
	fi, err := x.root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return x.wrap(p, err)
	case fi.IsDir():
		return invalidf("tar entry %q replaces a directory", p)
	}
	return x.wrap(p, x.root.Remove(p))
}

func (x *untarrer) mkdirAll(p string) error {
	if err := x.root.MkdirAll(p, 0o755); err != nil {
		// A symbolic link on the way that leaves the root ends here.
		return invalidf("creating directory %s: %v", p, err)
	}
	return nil
}

func (x *untarrer) file(p string, h *tar.Header, r io.Reader) error {
	x.files++
	if h.Size < 0 {
		return invalidf("tar entry %q: negative size", h.Name)
	}
	if err := x.limits.check(p, x.size+h.Size, x.files); err != nil {
		return err
	}
	if err := x.prepare(p); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if h.Mode&0o100 != 0 {
		perm = 0o755
	}
	out, err := x.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return x.wrap(p, err)
	}
	n, err := io.CopyBuffer(out, io.LimitReader(ctxReader{ctx: x.ctx, r: r}, h.Size), x.buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return x.wrap(p, err)
	}
	x.size += n
	// The umask may have cleared bits; the exec bit is part of the digest.
	if perm&0o100 != 0 {
		if err := x.root.Chmod(p, perm); err != nil {
			return x.wrap(p, err)
		}
	}
	return nil
}
