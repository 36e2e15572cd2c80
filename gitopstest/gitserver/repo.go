package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned (wrapped) for a repository, branch, tag or
// revision that does not exist.
var ErrNotFound = errors.New("not found")

// Defaults of the repository builder.
const (
	// DefaultBranch is the branch a new repository's HEAD points to and
	// the branch [Repo.Commit] writes to when CommitOptions.Branch is empty.
	DefaultBranch = "main"
	// DefaultName and DefaultEmail are the author, committer and tagger
	// identity when none is given.
	DefaultName  = "gitopstest"
	DefaultEmail = "gitopstest@example.com"
	// DefaultTimeStep is how far a commit made without an explicit time is
	// after its parent.
	DefaultTimeStep = time.Minute
	// defaultUnix is DefaultTime as seconds since the epoch.
	defaultUnix = 1704067200 // 2024-01-01T00:00:00Z
)

// DefaultTime is the commit time of a root commit made without an explicit
// time, 2024-01-01T00:00:00Z. Later commits default to their parent's
// committer time plus [DefaultTimeStep], so history built by the same calls
// has the same commit IDs on every run.
func DefaultTime() time.Time { return time.Unix(defaultUnix, 0).UTC() }

// Signature is who made a commit or tag, and when. Zero fields take defaults:
// [DefaultName], [DefaultEmail], and the time described at [DefaultTime].
type Signature struct {
	Name  string
	Email string
	// When is the time, kept to the second, with its zone offset.
	When time.Time
}

// CommitOptions describes one commit made by [Repo.Commit]. The commit's
// tree is the branch's current tree (or an empty one, for a new branch or
// with ReplaceAll) with Delete, Files and Symlinks applied.
type CommitOptions struct {
	// Branch is the branch to commit to, created if missing. Default
	// [DefaultBranch].
	Branch string
	// Message is the commit message. Default "commit".
	Message string
	// Files maps slash-separated paths to contents of regular files
	// (mode 100644) to add or overwrite. Parent directories are implied.
	Files map[string]string
	// Executables is like Files for executable files (mode 100755).
	Executables map[string]string
	// Symlinks maps paths to symlink targets (mode 120000). Targets are
	// stored as given: "../../etc/passwd" or "/etc/passwd" make the
	// hostile trees that tests of path confinement need.
	Symlinks map[string]string
	// Delete lists paths (files, symlinks or whole directories) to remove.
	Delete []string
	// ReplaceAll starts from an empty tree instead of the parent's, so the
	// commit holds exactly Files, Executables and Symlinks.
	ReplaceAll bool
	// Author of the commit; zero fields take defaults.
	Author Signature
	// Committer of the commit; zero fields take the Author's values.
	Committer Signature
}

// AnnotatedTagOptions describes a tag made by [Repo.AnnotatedTag].
type AnnotatedTagOptions struct {
	// Name of the tag, e.g. "v1.2.0" (without "refs/tags/"). Required.
	Name string
	// Rev is the revision to tag (a commit ID, branch or tag). Default
	// [DefaultBranch].
	Rev string
	// Message is the tag message. Default: the tag name.
	Message string
	// Tagger of the tag; zero fields take defaults, and a zero time the
	// tagged commit's committer time.
	Tagger Signature
	// Force replaces an existing tag of the same name instead of failing.
	Force bool
}

// Repo is a bare repository under a [Server]'s root, with methods that make
// real history in it. Writes through one Repo are serialized; pushes from
// clients may interleave with them like with any Git server.
type Repo struct {
	srv  *Server
	name string
	dir  string
	mu   sync.Mutex
}

// CreateRepo makes an empty bare repository <name>.git under the root, with
// HEAD pointing at [DefaultBranch]. name may have slashes ("team/app"); a
// trailing ".git" is ignored. It fails if the repository exists.
func (s *Server) CreateRepo(ctx context.Context, name string) (*Repo, error) {
	name, err := cleanRepoName(name)
	if err != nil {
		return nil, fmt.Errorf("gitserver: create repo: %w", err)
	}
	dir := filepath.Join(s.root, filepath.FromSlash(name)+".git")
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("gitserver: create repo %q: %w", name, fs.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("gitserver: create repo %q: %w", name, err)
	}
	if _, err := s.runGit(ctx, s.root, nil, nil, "init", "--quiet", "--bare", "--initial-branch="+DefaultBranch, dir); err != nil {
		return nil, fmt.Errorf("gitserver: create repo %q: %w", name, err)
	}
	return &Repo{srv: s, name: name, dir: dir}, nil
}

// OpenRepo returns the existing repository <name>.git under the root, for
// example one a client created by pushing. The error wraps [ErrNotFound] if
// there is none.
func (s *Server) OpenRepo(name string) (*Repo, error) {
	name, err := cleanRepoName(name)
	if err != nil {
		return nil, fmt.Errorf("gitserver: open repo: %w", err)
	}
	dir, err := s.resolveRepo(name)
	if err != nil {
		return nil, fmt.Errorf("gitserver: open repo %q: %w: %w", name, ErrNotFound, err)
	}
	return &Repo{srv: s, name: name, dir: dir}, nil
}

// cleanRepoName validates a repository name and drops a trailing ".git".
func cleanRepoName(name string) (string, error) {
	n := strings.TrimSuffix(name, ".git")
	if n == "" || strings.HasPrefix(n, "/") || strings.HasSuffix(n, "/") {
		return "", fmt.Errorf("invalid repository name %q", name)
	}
	for _, el := range strings.Split(n, "/") {
		if el == "" || el == "." || el == ".." || strings.HasPrefix(el, "-") ||
			strings.ContainsFunc(el, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
			return "", fmt.Errorf("invalid repository name %q", name)
		}
	}
	return n, nil
}

// Name is the repository name, e.g. "team/app".
func (r *Repo) Name() string { return r.name }

// Dir is the repository's directory on disk.
func (r *Repo) Dir() string { return r.dir }

// HTTPURL is the repository's smart-HTTP URL; see [Server.HTTPURL].
func (r *Repo) HTTPURL() string { return r.srv.HTTPURL(r.name) }

// SSHURL is the repository's SSH URL; see [Server.SSHURL].
func (r *Repo) SSHURL() string { return r.srv.SSHURL(r.name) }

// Commit makes one commit on opts.Branch and returns its ID (40 hex
// digits). The branch moves forward only: the new commit's parent is the
// branch's current tip.
func (r *Repo) Commit(ctx context.Context, opts CommitOptions) (string, error) {
	branch := opts.Branch
	if branch == "" {
		branch = DefaultBranch
	}
	if err := checkRefName(branch); err != nil {
		return "", fmt.Errorf("gitserver: commit to %s: %w", r.name, err)
	}
	msg := opts.Message
	if msg == "" {
		msg = "commit"
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	ref := "refs/heads/" + branch
	parent, parentTime, err := r.tip(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("gitserver: commit to %s %s: %w", r.name, branch, err)
	}
	defaultWhen := DefaultTime()
	if parent != "" {
		defaultWhen = parentTime.Add(DefaultTimeStep)
	}
	author := opts.Author.withDefaults(DefaultName, DefaultEmail, defaultWhen)
	committer := opts.Committer.withDefaults(author.Name, author.Email, author.When)

	var b bytes.Buffer
	fmt.Fprintf(&b, "commit %s\nmark :1\n", ref)
	for _, sig := range []struct {
		role string
		s    Signature
	}{{"author", author}, {"committer", committer}} {
		line, err := sig.s.line()
		if err != nil {
			return "", fmt.Errorf("gitserver: commit to %s %s: %s: %w", r.name, branch, sig.role, err)
		}
		fmt.Fprintf(&b, "%s %s\n", sig.role, line)
	}
	writeData(&b, msg)
	if parent != "" {
		fmt.Fprintf(&b, "from %s\n", parent)
	}
	if opts.ReplaceAll {
		b.WriteString("deleteall\n")
	}
	seen := make(map[string]bool)
	for _, p := range slices.Sorted(slices.Values(opts.Delete)) {
		if err := checkTreePath(p); err != nil {
			return "", fmt.Errorf("gitserver: commit to %s %s: delete: %w", r.name, branch, err)
		}
		fmt.Fprintf(&b, "D %s\n", quotePath(p))
	}
	for _, set := range []struct {
		mode  string
		files map[string]string
	}{{"100644", opts.Files}, {"100755", opts.Executables}, {"120000", opts.Symlinks}} {
		for _, p := range slices.Sorted(maps.Keys(set.files)) {
			if err := checkTreePath(p); err != nil {
				return "", fmt.Errorf("gitserver: commit to %s %s: %w", r.name, branch, err)
			}
			if seen[p] {
				return "", fmt.Errorf("gitserver: commit to %s %s: path %q given twice", r.name, branch, p)
			}
			seen[p] = true
			fmt.Fprintf(&b, "M %s inline %s\n", set.mode, quotePath(p))
			writeData(&b, set.files[p])
		}
	}
	b.WriteString("\nget-mark :1\ndone\n")

	out, err := r.git(ctx, &b, "fast-import", "--quiet", "--done")
	if err != nil {
		return "", fmt.Errorf("gitserver: commit to %s %s: %w", r.name, branch, err)
	}
	if !isObjectID(out) {
		return "", fmt.Errorf("gitserver: commit to %s %s: unexpected fast-import output %q", r.name, branch, out)
	}
	return out, nil
}

// Head returns the commit ID at the tip of branch. The error wraps
// [ErrNotFound] if the branch does not exist.
func (r *Repo) Head(ctx context.Context, branch string) (string, error) {
	if err := checkRefName(branch); err != nil {
		return "", fmt.Errorf("gitserver: head of %s: %w", r.name, err)
	}
	sha, _, err := r.tip(ctx, "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("gitserver: head of %s %s: %w", r.name, branch, err)
	}
	if sha == "" {
		return "", fmt.Errorf("gitserver: head of %s: branch %q: %w", r.name, branch, ErrNotFound)
	}
	return sha, nil
}

// Resolve returns the commit ID a revision (commit ID, branch, tag,
// "main~2", ...) points to, peeling annotated tags. The error wraps
// [ErrNotFound] if it names no commit.
func (r *Repo) Resolve(ctx context.Context, rev string) (string, error) {
	if rev == "" || strings.ContainsAny(rev, "\x00\n") {
		return "", fmt.Errorf("gitserver: resolve in %s: invalid revision %q", r.name, rev)
	}
	out, err := r.git(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil || !isObjectID(out) {
		return "", fmt.Errorf("gitserver: resolve %q in %s: %w", rev, r.name, ErrNotFound)
	}
	return out, nil
}

// Branch creates branch name at revision from and returns the commit ID. It
// fails if the branch exists.
func (r *Repo) Branch(ctx context.Context, name, from string) (string, error) {
	return r.createRef(ctx, "branch", "refs/heads/", name, from)
}

// Tag creates the lightweight tag name at revision rev and returns the
// commit ID it points to. It fails if the tag exists.
func (r *Repo) Tag(ctx context.Context, name, rev string) (string, error) {
	return r.createRef(ctx, "tag", "refs/tags/", name, rev)
}

func (r *Repo) createRef(ctx context.Context, kind, prefix, name, rev string) (string, error) {
	if err := checkRefName(name); err != nil {
		return "", fmt.Errorf("gitserver: %s in %s: %w", kind, r.name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sha, err := r.Resolve(ctx, rev)
	if err != nil {
		return "", fmt.Errorf("gitserver: %s %s: %w", kind, name, err)
	}
	// The empty old value makes update-ref fail if the ref exists.
	if _, err := r.git(ctx, nil, "update-ref", prefix+name, sha, ""); err != nil {
		return "", fmt.Errorf("gitserver: %s %s in %s: %w", kind, name, r.name, err)
	}
	return sha, nil
}

// AnnotatedTag creates an annotated tag object for opts.Rev and the ref
// refs/tags/<opts.Name> pointing to it, and returns the tag object's ID (the
// commit it tags is [Repo.Resolve] of the tag name).
func (r *Repo) AnnotatedTag(ctx context.Context, opts AnnotatedTagOptions) (string, error) {
	if err := checkRefName(opts.Name); err != nil {
		return "", fmt.Errorf("gitserver: annotated tag in %s: %w", r.name, err)
	}
	rev := opts.Rev
	if rev == "" {
		rev = DefaultBranch
	}
	msg := opts.Message
	if msg == "" {
		msg = opts.Name
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sha, err := r.Resolve(ctx, rev)
	if err != nil {
		return "", fmt.Errorf("gitserver: annotated tag %s: %w", opts.Name, err)
	}
	when := opts.Tagger.When
	if when.IsZero() {
		out, err := r.git(ctx, nil, "show", "--no-patch", "--format=%ct", sha)
		if err != nil {
			return "", fmt.Errorf("gitserver: annotated tag %s: %w", opts.Name, err)
		}
		secs, err := strconv.ParseInt(out, 10, 64)
		if err != nil {
			return "", fmt.Errorf("gitserver: annotated tag %s: commit time %q: %w", opts.Name, out, err)
		}
		when = time.Unix(secs, 0).UTC()
	}
	tagger := opts.Tagger.withDefaults(DefaultName, DefaultEmail, when)
	line, err := tagger.line()
	if err != nil {
		return "", fmt.Errorf("gitserver: annotated tag %s: tagger: %w", opts.Name, err)
	}
	obj := fmt.Sprintf("object %s\ntype commit\ntag %s\ntagger %s\n\n%s", sha, opts.Name, line, msg)
	tagID, err := r.git(ctx, strings.NewReader(obj), "mktag")
	if err != nil {
		return "", fmt.Errorf("gitserver: annotated tag %s in %s: %w", opts.Name, r.name, err)
	}
	args := []string{"update-ref", "refs/tags/" + opts.Name, tagID}
	if !opts.Force {
		args = append(args, "")
	}
	if _, err := r.git(ctx, nil, args...); err != nil {
		return "", fmt.Errorf("gitserver: annotated tag %s in %s: %w", opts.Name, r.name, err)
	}
	return tagID, nil
}

// ResetBranch points branch at revision rev whatever it pointed to before,
// creating it if missing: the server-side effect of a force push. Commits
// only reachable from the old tip stay in the object store until gc.
func (r *Repo) ResetBranch(ctx context.Context, branch, rev string) error {
	if err := checkRefName(branch); err != nil {
		return fmt.Errorf("gitserver: reset branch in %s: %w", r.name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sha, err := r.Resolve(ctx, rev)
	if err != nil {
		return fmt.Errorf("gitserver: reset branch %s: %w", branch, err)
	}
	if _, err := r.git(ctx, nil, "update-ref", "refs/heads/"+branch, sha); err != nil {
		return fmt.Errorf("gitserver: reset branch %s in %s: %w", branch, r.name, err)
	}
	return nil
}

// DeleteBranch removes branch. The error wraps [ErrNotFound] if it does not
// exist.
func (r *Repo) DeleteBranch(ctx context.Context, branch string) error {
	return r.deleteRef(ctx, "branch", "refs/heads/", branch)
}

// DeleteTag removes tag name (lightweight or annotated). The error wraps
// [ErrNotFound] if it does not exist.
func (r *Repo) DeleteTag(ctx context.Context, name string) error {
	return r.deleteRef(ctx, "tag", "refs/tags/", name)
}

func (r *Repo) deleteRef(ctx context.Context, kind, prefix, name string) error {
	if err := checkRefName(name); err != nil {
		return fmt.Errorf("gitserver: delete %s in %s: %w", kind, r.name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.git(ctx, nil, "rev-parse", "--verify", "--quiet", prefix+name); err != nil {
		return fmt.Errorf("gitserver: delete %s %q in %s: %w", kind, name, r.name, ErrNotFound)
	}
	if _, err := r.git(ctx, nil, "update-ref", "-d", prefix+name); err != nil {
		return fmt.Errorf("gitserver: delete %s %s in %s: %w", kind, name, r.name, err)
	}
	return nil
}

// SetDefaultBranch points HEAD at branch, which clients check out by
// default and which need not exist yet.
func (r *Repo) SetDefaultBranch(ctx context.Context, branch string) error {
	if err := checkRefName(branch); err != nil {
		return fmt.Errorf("gitserver: set default branch of %s: %w", r.name, err)
	}
	if _, err := r.git(ctx, nil, "symbolic-ref", "HEAD", "refs/heads/"+branch); err != nil {
		return fmt.Errorf("gitserver: set default branch of %s: %w", r.name, err)
	}
	return nil
}

// tip returns the commit ID and committer time of ref, or "" if the ref
// does not exist.
func (r *Repo) tip(ctx context.Context, ref string) (string, time.Time, error) {
	out, err := r.git(ctx, nil, "for-each-ref", "--format=%(objectname) %(committerdate:unix) %(refname)", ref)
	if err != nil {
		return "", time.Time{}, err
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != ref {
			continue
		}
		secs, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("committer time of %s: %q: %w", ref, f[1], err)
		}
		return f[0], time.Unix(secs, 0).UTC(), nil
	}
	return "", time.Time{}, nil
}

// git runs git on the repository.
func (r *Repo) git(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	return r.srv.runGit(ctx, r.dir, stdin, []string{"GIT_DIR=" + r.dir}, args...)
}

// runGit runs git with the server's clean environment plus env in dir and
// returns its trimmed standard output. The error includes standard error.
func (s *Server) runGit(ctx context.Context, dir string, stdin io.Reader, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.git, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = s.tempDir
	}
	cmd.Env = append(append([]string(nil), s.env...), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %w: %s", args[0], err, msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// withDefaults fills the zero fields of s.
func (s Signature) withDefaults(name, email string, when time.Time) Signature {
	if s.Name == "" {
		s.Name = name
	}
	if s.Email == "" {
		s.Email = email
	}
	if s.When.IsZero() {
		s.When = when
	}
	return s
}

// line formats s as in a commit header: "Name <email> 1704067200 +0000".
func (s Signature) line() (string, error) {
	bad := func(r rune) bool { return r == '<' || r == '>' || r == '\n' || r == 0 }
	if strings.ContainsFunc(s.Name, bad) || strings.ContainsFunc(s.Email, bad) {
		return "", fmt.Errorf("invalid identity %q <%s>", s.Name, s.Email)
	}
	return fmt.Sprintf("%s <%s> %d %s", s.Name, s.Email, s.When.Unix(), s.When.Format("-0700")), nil
}

// writeData writes a fast-import data block.
func writeData(b *bytes.Buffer, data string) {
	fmt.Fprintf(b, "data %d\n%s\n", len(data), data)
}

// quotePath C-quotes a tree path for fast-import, so any byte but NUL can
// appear in it.
func quotePath(p string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// checkTreePath rejects paths Git trees cannot hold. Odd but representable
// paths ("../x", "a/.git/config") are allowed on purpose, for hostile-input
// tests; git itself refuses some of them.
func checkTreePath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") ||
		strings.Contains(p, "//") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("invalid path %q", p)
	}
	return nil
}

// checkRefName rejects branch and tag names that are not valid Git ref
// names; git checks the finer rules.
func checkRefName(name string) error {
	if name == "" || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") ||
		strings.Contains(name, "..") || strings.HasPrefix(name, "refs/") ||
		strings.ContainsFunc(name, func(r rune) bool {
			return r <= ' ' || r == 0x7f || strings.ContainsRune(`~^:?*[\`, r)
		}) {
		return fmt.Errorf("invalid branch or tag name %q", name)
	}
	return nil
}

// isObjectID reports whether s is a full SHA-1 or SHA-256 object ID.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
