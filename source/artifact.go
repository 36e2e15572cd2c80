package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Artifact is a fetched revision on disk.
type Artifact struct {
	// URL is the repository URL as given to [Fetch], redacted by
	// [RedactURL]: it may be shown and recorded.
	URL string
	// Revision names the reference and the commit: "main@sha1:<hex>",
	// "v1.2.0@sha1:<hex>", "refs/pull/1/head@sha1:<hex>", or "sha1:<hex>"
	// for a commit fetched without a branch. The commit is the one the tag
	// points to for annotated tags.
	Revision string
	// Commit is the commit's SHA-1 in lowercase hexadecimal.
	Commit string
	// Dir is the directory holding the tree of the commit, filtered by the
	// ignore rules. With a [Cache] it belongs to the cache and is
	// read-only: other fetches share it and later artifacts hard-link its
	// files, so changing a file in place would change them too. Copy it to
	// modify it.
	Dir string
	// Digest is "sha256:<hex>" over the files in Dir, as defined at
	// [DirDigest]. The same tree and ignore rules give the same digest.
	Digest string
	// Size is the total size in bytes of the regular files in Dir.
	Size int64
	// VerifiedBy names the key that verified the signature when
	// [Options.Verify] is set: "openpgp:<fingerprint>" or
	// "ssh:<SHA256 fingerprint>". Empty otherwise.
	VerifiedBy string
}

// manifest accumulates the digest input.
type manifest struct {
	lines []string // "<mode> <sha256 hex> <path>\x00"
	size  int64
}

func (m *manifest) add(mode, sum, p string) {
	m.lines = append(m.lines, mode+" "+sum+" "+p+"\x00")
}

// digest sorts the lines by path and hashes them.
func (m *manifest) digest() string {
	slices.SortFunc(m.lines, func(a, b string) int {
		return strings.Compare(a[len("100644 ")+64+1:], b[len("100644 ")+64+1:])
	})
	h := sha256.New()
	for _, l := range m.lines {
		io.WriteString(h, l)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// DirDigest computes the digest of the tree under dir, the same way
// [Artifact.Digest] is computed, and the total size of its regular files.
//
// The digest is "sha256:" followed by the hexadecimal SHA-256 of a
// manifest with one record per regular file and symbolic link, sorted by
// path (bytewise):
//
//	<mode> SP <sha256 hex of content> SP <path> NUL
//
// where mode is "100644" for a regular file, "100755" for a regular file
// whose owner-execute bit is set, "120000" for a symbolic link (whose
// "content" is its target), and path is slash-separated and relative to
// dir. Directories contribute only through the files in them, so empty
// directories, timestamps, ownership and other permission bits do not
// change the digest. Paths with a ".git" element are skipped. Other file
// types (devices, sockets, pipes) are an error.
func DirDigest(dir string) (digest string, size int64, err error) {
	var m manifest
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if isGitDir(path.Base(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m.add("120000", sha256Hex([]byte(target)), rel)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := "100644"
			if info.Mode().Perm()&0o100 != 0 {
				mode = "100755"
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(h, f)
			_ = f.Close()
			if err != nil {
				return err
			}
			m.size += n
			m.add(mode, hex.EncodeToString(h.Sum(nil)), rel)
		default:
			return fmt.Errorf("%s: unsupported file type %s", p, t)
		}
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("source: digest of %s: %w", dir, err)
	}
	return m.digest(), m.size, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// isGitDir reports whether a path element is ".git" (in any case, for
// case-insensitive file systems).
func isGitDir(name string) bool { return strings.EqualFold(name, ".git") }

// fileRecord describes one regular file of an artifact, so that a later
// artifact can link the file instead of writing it again.
type fileRecord struct {
	Path   string `json:"p"`
	Mode   string `json:"m"`
	Blob   string `json:"b"` // Git blob ID
	SHA256 string `json:"s"`
	Size   int64  `json:"n"`
}

// reusable is a file of an existing artifact that can be hard-linked.
type reusable struct {
	path   string // absolute
	sha256 string
	size   int64
}

// writeOptions tunes writeTree.
type writeOptions struct {
	// ctx stops the writing when it ends.
	ctx context.Context
	// limits bound the files and bytes written (with defaults applied).
	limits Limits
	// readOnly writes files without write permission (0444, 0555).
	readOnly bool
	// reuse maps "<mode> <blob ID>" to files of an existing, immutable
	// artifact with that content, to hard-link instead of writing.
	reuse map[string]reusable
}

// treeWriter writes a Git tree to a directory and computes its digest.
type treeWriter struct {
	root    string
	filter  *filter
	opts    writeOptions
	m       manifest
	records []fileRecord
	made    map[string]bool // directories created
	buf     []byte
	hash    hash.Hash
	matched map[string]bool // entries of filter.paths seen
	files   int             // regular files and symlinks written
}

// writeTree writes the tree of commit into dir (which must exist and be
// empty), leaving out what f skips, and returns the digest, the size and
// the regular files written.
func writeTree(commit *object.Commit, dir string, f *filter, opts writeOptions) (digest string, size int64, records []fileRecord, err error) {
	tree, err := commit.Tree()
	if err != nil {
		return "", 0, nil, fmt.Errorf("tree of commit %s: %w", commit.Hash, err)
	}
	if opts.ctx == nil {
		opts.ctx = context.Background()
	}
	if opts.limits == (Limits{}) {
		opts.limits = DefaultLimits()
	}
	w := &treeWriter{
		root:    dir,
		filter:  f,
		opts:    opts,
		made:    map[string]bool{"": true},
		buf:     make([]byte, 32*1024),
		hash:    sha256.New(),
		matched: map[string]bool{},
	}
	if err := w.walk(tree, ""); err != nil {
		return "", 0, nil, err
	}
	for _, p := range f.paths {
		found := w.matched[p]
		for m := range w.matched {
			found = found || strings.HasPrefix(m, p+"/")
		}
		if !found {
			return "", 0, nil, fmt.Errorf("%w: %q", ErrPathNotFound, p)
		}
	}
	return w.m.digest(), w.m.size, w.records, nil
}

func (w *treeWriter) walk(tree *object.Tree, prefix string) error {
	seen := make(map[string]bool, len(tree.Entries))
	for _, e := range tree.Entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
			return fmt.Errorf("tree %s has an invalid entry name %q", tree.Hash, e.Name)
		}
		if seen[e.Name] {
			return fmt.Errorf("tree %s has the entry %q twice", tree.Hash, e.Name)
		}
		seen[e.Name] = true
		if isGitDir(e.Name) {
			continue
		}
		p := e.Name
		if prefix != "" {
			p = prefix + "/" + e.Name
		}
		isDir := e.Mode == filemode.Dir
		if w.filter.skip(p, isDir) {
			continue
		}
		switch e.Mode {
		case filemode.Dir:
			sub, err := tree.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("tree %s: %w", p, err)
			}
			if err := w.walk(sub, p); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Symlink:
			if err := w.writeEntry(tree, e, p); err != nil {
				return err
			}
			w.matched[p] = true
		default:
			// Submodules (gitlinks) are not fetched.
		}
	}
	return nil
}

func (w *treeWriter) writeEntry(tree *object.Tree, e object.TreeEntry, p string) error {
	if err := w.opts.ctx.Err(); err != nil {
		return err
	}
	w.files++
	if err := w.opts.limits.check(p, w.m.size, w.files); err != nil {
		return err
	}
	if err := w.mkdirs(path.Dir(p)); err != nil {
		return err
	}
	dst := filepath.Join(w.root, filepath.FromSlash(p))
	mode, perm := "100644", os.FileMode(0o644)
	if e.Mode == filemode.Executable {
		mode, perm = "100755", 0o755
	}
	if w.opts.readOnly {
		perm &^= 0o222
	}
	if e.Mode != filemode.Symlink {
		// Creating files is what costs most: link an identical file of an
		// earlier artifact if there is one.
		if r, ok := w.opts.reuse[mode+" "+e.Hash.String()]; ok {
			if err := w.opts.limits.check(p, w.m.size+r.size, w.files); err != nil {
				return err
			}
			if os.Link(r.path, dst) == nil {
				w.record(mode, e.Hash.String(), r.sha256, p, r.size)
				return nil
			}
		}
	}

	f, err := tree.TreeEntryFile(&e)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if e.Mode != filemode.Symlink {
		// Refuse from the blob's size, before writing anything.
		if err := w.opts.limits.check(p, w.m.size+f.Size, w.files); err != nil {
			return err
		}
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer r.Close()

	if e.Mode == filemode.Symlink {
		var b bytes.Buffer
		if _, err := io.Copy(&b, io.LimitReader(r, 4096)); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := os.Symlink(b.String(), dst); err != nil {
			return err
		}
		w.m.add("120000", sha256Hex(b.Bytes()), p)
		return nil
	}

	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	w.hash.Reset()
	// Copy no more than the limit allows (the blob's size was checked, but
	// the bound must hold whatever the reader gives), stopping when the
	// context ends.
	src := io.Reader(ctxReader{ctx: w.opts.ctx, r: r})
	if w.opts.limits.MaxBytes >= 0 {
		src = io.LimitReader(src, w.opts.limits.MaxBytes-w.m.size+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(out, w.hash), src, w.buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.opts.limits.check(p, w.m.size+n, w.files)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	// The umask may have cleared bits; the exec bit is part of the digest.
	if perm&0o100 != 0 {
		if err := os.Chmod(dst, perm); err != nil {
			return err
		}
	}
	w.record(mode, e.Hash.String(), hex.EncodeToString(w.hash.Sum(nil)), p, n)
	return nil
}

// record adds a regular file to the manifest and the records.
func (w *treeWriter) record(mode, blob, sum, p string, size int64) {
	w.m.size += size
	w.m.add(mode, sum, p)
	w.records = append(w.records, fileRecord{Path: p, Mode: mode, Blob: blob, SHA256: sum, Size: size})
}

// mkdirs creates directory d (slash-separated, relative) and its parents.
func (w *treeWriter) mkdirs(d string) error {
	if d == "." {
		d = ""
	}
	if w.made[d] {
		return nil
	}
	if err := w.mkdirs(path.Dir(d)); err != nil {
		return err
	}
	full := filepath.Join(w.root, filepath.FromSlash(d))
	if err := os.Mkdir(full, 0o755); err != nil {
		// Never write through a symlink (or over a file) of the same name:
		// a hostile tree could point it outside the artifact.
		if fi, lerr := os.Lstat(full); !os.IsExist(err) || lerr != nil || !fi.IsDir() {
			return fmt.Errorf("creating directory %s: %w", d, err)
		}
	}
	w.made[d] = true
	return nil
}
