package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Options configures [Fetch].
type Options struct {
	// Ref is the revision to fetch; the zero Ref is the default branch.
	Ref Ref

	// Auth holds the credentials; nil means anonymous (and is an error for
	// SSH, which needs a key and known_hosts).
	Auth *Auth

	// LastRevision is the revision of the previous fetch, as in
	// [Artifact.Revision]. When the remote still resolves Ref to it,
	// Fetch returns a Result with Unchanged set after one request (the
	// reference listing) and fetches nothing. For a Commit ref that equals
	// it, no request is made at all. Leave it empty to always get an
	// artifact, e.g. after changing Ignore, Paths or Verify.
	LastRevision string

	// Ignore holds extra patterns in gitignore syntax, applied after the
	// repository's root .sourceignore (so that they can re-include with
	// "!"). Ignored paths are not written and not part of the digest.
	Ignore []string

	// Paths, if not empty, limits the artifact to these files or
	// directories (slash-separated, relative to the repository root): a
	// sparse checkout. A path missing from the tree fails the fetch with
	// [ErrPathNotFound].
	Paths []string

	// Verify, if set, checks a commit or tag signature before the artifact
	// is handed out.
	Verify *Verification

	// Cache keeps a clone per URL and the artifacts; see [Cache]. Exactly
	// one of Cache and Dir must be set.
	Cache *Cache

	// Dir is the directory to write the artifact into when there is no
	// Cache. It is created if missing and must be empty. The objects are
	// fetched into memory and dropped after the fetch. After a failed
	// fetch it is left empty.
	Dir string

	// Limits bound the bytes and files of the artifact; zero fields take
	// [DefaultLimits]. Over them the fetch fails with a [*TooLargeError].
	Limits Limits
}

// Result is what [Fetch] returns.
type Result struct {
	// Revision is the revision the remote resolved the Ref to, set in both
	// cases below.
	Revision string

	// Unchanged is set when Revision equals [Options.LastRevision]:
	// nothing was fetched, nothing written and no signature checked.
	Unchanged bool

	// Artifact is the fetched revision. When Unchanged, it is the Cache's
	// artifact of the revision if the Cache still holds it (found without
	// a request; VerifiedBy is then empty, as nothing was checked again),
	// and nil otherwise or without a Cache.
	Artifact *Artifact

	// FetchedBytes is the size of the pack received from the remote; 0
	// when the objects were already in the cache.
	FetchedBytes int64
}

// Fetch resolves opts.Ref on the repository at url and hands out the tree
// of the commit it names as an [Artifact] in a directory.
//
// It first lists the remote's references (one round trip) and resolves
// the Ref against them; if the result equals opts.LastRevision it returns
// at once with Result.Unchanged set. Otherwise it fetches the commit with
// depth 1 and without tags other than the one asked for (into the Cache's
// clone of url, or into memory without a Cache), checks the signature if
// asked, and writes the tree, filtered by .sourceignore, opts.Ignore and
// opts.Paths, computing its digest.
//
// url is https://, http://, ssh://, file:// or scp-like "user@host:path".
// Errors wrap the sentinels of this package (see the package
// documentation) and, when ctx ended, ctx.Err().
func Fetch(ctx context.Context, url string, opts Options) (*Result, error) {
	res, err := fetch(ctx, url, opts)
	if err != nil {
		return nil, redactError(fmt.Errorf("source: fetch %s %s: %w", redactURL(url), opts.Ref, err), url, opts.Auth)
	}
	return res, nil
}

func fetch(ctx context.Context, rawURL string, opts Options) (*Result, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	constraint, err := opts.Ref.constraint()
	if err != nil {
		return nil, err
	}
	if (opts.Cache == nil) == (opts.Dir == "") {
		return nil, invalidf("set exactly one of Options.Cache and Options.Dir")
	}
	paths, err := cleanPaths(opts.Paths)
	if err != nil {
		return nil, err
	}
	var keys *trustedKeys
	if opts.Verify != nil {
		if keys, err = opts.Verify.parseKeys(); err != nil {
			return nil, err
		}
		if opts.Verify.Mode == VerifyTag && !refIsTag(opts.Ref) {
			return nil, invalidf("VerifyTag needs a Tag, SemVer or refs/tags/ Name ref, not %s", opts.Ref)
		}
	}
	if opts.LastRevision != "" {
		if _, _, err := ParseRevision(opts.LastRevision); err != nil {
			return nil, fmt.Errorf("LastRevision: %w", err)
		}
	}

	// A commit is immutable: if it is the last revision, there is nothing
	// to ask the remote.
	if opts.Ref.kind() == kindCommit && opts.LastRevision != "" {
		label := ""
		if opts.Ref.Branch != "" {
			label = opts.Ref.branch()
		}
		if rev := formatRevision(label, strings.ToLower(opts.Ref.Commit)); rev == opts.LastRevision {
			return unchanged(u, rev, opts, paths), nil
		}
	}

	sess, err := openSession(ctx, u, opts.Auth)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	sess.maxPack = opts.Limits.withDefaults().MaxPackBytes
	t, err := opts.Ref.resolve(sess.ar, constraint)
	if err != nil {
		return nil, err
	}
	rev := t.revision()
	if rev == opts.LastRevision {
		return unchanged(u, rev, opts, paths), nil
	}

	job := &fetchJob{sess: sess, u: u, t: t, opts: opts, paths: paths, keys: keys}
	if opts.Cache != nil {
		return job.intoCache(ctx, opts.Cache)
	}
	return job.intoDir(ctx, opts.Dir)
}

// unchanged is the Result for a revision equal to opts.LastRevision, with
// the Cache's artifact of it when there is one.
func unchanged(u *remoteURL, rev string, opts Options, paths []string) *Result {
	res := &Result{Revision: rev, Unchanged: true}
	if opts.Cache == nil {
		return res
	}
	_, commit, err := ParseRevision(rev)
	if err != nil {
		return res
	}
	dir, meta := opts.Cache.artifactPaths(commit, filterKey(opts.Ignore, paths))
	if m, ok := opts.Cache.lookupArtifact(dir, meta); ok {
		res.Artifact = &Artifact{URL: u.String(), Revision: rev, Commit: commit, Dir: dir, Digest: m.Digest, Size: m.Size}
	}
	return res
}

// refIsTag reports whether r (after precedence) names a tag.
func refIsTag(r Ref) bool {
	switch r.kind() {
	case kindTag, kindSemVer:
		return true
	case kindName:
		return strings.HasPrefix(r.Name, "refs/tags/")
	}
	return false
}

// fetchJob is one fetch after the reference was resolved.
type fetchJob struct {
	sess  *session
	u     *remoteURL
	t     target
	opts  Options
	paths []string
	keys  *trustedKeys
}

// prepare fetches the objects into st and verifies the signature.
func (j *fetchJob) prepare(ctx context.Context, st storage.Storer) (*object.Commit, int64, string, error) {
	n, err := j.sess.ensureObjects(ctx, st, j.t)
	if err != nil {
		return nil, n, "", err
	}
	commit, err := object.GetCommit(st, j.t.commit)
	if err != nil {
		return nil, n, "", fmt.Errorf("%w: %s is not a commit: %w", ErrRefNotFound, j.t.commit, err)
	}
	var verifiedBy string
	if j.opts.Verify != nil {
		if verifiedBy, err = j.opts.Verify.verify(st, j.t, j.keys); err != nil {
			return nil, n, "", err
		}
	}
	return commit, n, verifiedBy, nil
}

// write writes the filtered tree of commit into the empty directory dir,
// within the limits and until ctx ends.
func (j *fetchJob) write(ctx context.Context, commit *object.Commit, dir string, wo writeOptions) (string, int64, []fileRecord, error) {
	wo.ctx = ctx
	wo.limits = j.opts.Limits.withDefaults()
	tree, err := commit.Tree()
	if err != nil {
		return "", 0, nil, fmt.Errorf("tree of %s: %w", commit.Hash, err)
	}
	f, err := newFilter(tree, j.opts.Ignore, j.paths)
	if err != nil {
		return "", 0, nil, err
	}
	return writeTree(commit, dir, f, wo)
}

func (j *fetchJob) artifact(dir, digest string, size int64, verifiedBy string) *Artifact {
	return &Artifact{
		URL:        j.u.String(),
		Revision:   j.t.revision(),
		Commit:     j.t.commit.String(),
		Dir:        dir,
		Digest:     digest,
		Size:       size,
		VerifiedBy: verifiedBy,
	}
}

// intoDir fetches into memory and writes the artifact into dir.
func (j *fetchJob) intoDir(ctx context.Context, dir string) (*Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err != nil {
		return nil, err
	} else if len(entries) > 0 {
		return nil, invalidf("directory %s is not empty", dir)
	}
	st := memory.NewStorage()
	commit, n, verifiedBy, err := j.prepare(ctx, st)
	if err != nil {
		return nil, err
	}
	digest, size, _, err := j.write(ctx, commit, dir, writeOptions{})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		emptyDir(dir)
		return nil, err
	}
	return &Result{Revision: j.t.revision(), Artifact: j.artifact(dir, digest, size, verifiedBy), FetchedBytes: n}, nil
}

// emptyDir removes what a failed fetch wrote into dir, which was empty.
func emptyDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		// Read-only directories cannot be emptied: make them writable.
		_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(q, 0o755)
			}
			return nil
		})
		_ = os.RemoveAll(p)
	}
}

// intoCache updates the cache's clone of the URL and hands out the cached
// artifact of the commit, writing it if it is not there yet.
func (j *fetchJob) intoCache(ctx context.Context, c *Cache) (*Result, error) {
	unlock, err := c.lock(ctx, j.u.key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := c.openRepo(j.u)
	if err != nil {
		return nil, err
	}
	defer st.Close()

	commit, n, verifiedBy, err := j.prepare(ctx, st)
	if err != nil {
		return nil, err
	}
	dir, meta := c.artifactPaths(commit.Hash.String(), filterKey(j.opts.Ignore, j.paths))
	m, ok := c.lookupArtifact(dir, meta)
	if !ok {
		store := func() (artifactMeta, error) {
			return c.storeArtifact(j.u.key, dir, meta, commit.Hash.String(), func(tmp string, reuse map[string]reusable) (string, int64, []fileRecord, error) {
				return j.write(ctx, commit, tmp, writeOptions{readOnly: true, reuse: reuse})
			})
		}
		m, err = store()
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			// The clone has the commit but not all of its tree: an earlier
			// fetch was interrupted while storing objects one by one. Fetch
			// the whole tree again, offering nothing.
			var n2 int64
			n2, err = j.refetch(ctx, st)
			n += n2
			if err == nil {
				m, err = store()
			}
		}
		if err != nil {
			return nil, err
		}
	} else if err := j.opts.Limits.withDefaults().check("", m.Size, len(m.Files)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Result{Revision: j.t.revision(), Artifact: j.artifact(dir, m.Digest, m.Size, verifiedBy), FetchedBytes: n}, nil
}

// refetch fetches the target's objects again without offering any, in a
// new session (an SSH session serves one pack).
func (j *fetchJob) refetch(ctx context.Context, st storage.Storer) (int64, error) {
	sess, err := openSession(ctx, j.u, j.opts.Auth)
	if err != nil {
		return 0, err
	}
	defer sess.close()
	sess.maxPack = j.opts.Limits.withDefaults().MaxPackBytes
	return sess.fetchPack(ctx, st, j.t.want, 1, false)
}

// Resolve asks the remote which revision ref names now, in one round trip,
// without fetching anything: "main@sha1:<hex>", "v1.2.0@sha1:<hex>" and so
// on, as in [Artifact.Revision]. For a Commit ref the revision is known
// without the remote, which is still contacted to check access (and the
// branch, if given).
func Resolve(ctx context.Context, url string, ref Ref, auth *Auth) (string, error) {
	rev, err := resolve(ctx, url, ref, auth)
	if err != nil {
		return "", redactError(fmt.Errorf("source: resolve %s %s: %w", redactURL(url), ref, err), url, auth)
	}
	return rev, nil
}

func resolve(ctx context.Context, rawURL string, ref Ref, auth *Auth) (string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return "", err
	}
	c, err := ref.constraint()
	if err != nil {
		return "", err
	}
	sess, err := openSession(ctx, u, auth)
	if err != nil {
		return "", err
	}
	defer sess.close()
	t, err := ref.resolve(sess.ar, c)
	if err != nil {
		return "", err
	}
	return t.revision(), nil
}
