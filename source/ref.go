package source

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// Ref says which revision of a repository to fetch. Set one field, or
// Commit together with Branch. When several are set, the first of this
// order wins and the others are ignored:
//
//	Commit > Name > SemVer > Tag > Branch
//
// The zero Ref means the remote's default branch (what its HEAD points to).
type Ref struct {
	// Branch is a branch name, e.g. "main" (a "refs/heads/" prefix is
	// tolerated). With Commit, it is where the commit is fetched from when
	// the server does not allow fetching a commit by ID.
	Branch string

	// Tag is a tag name, e.g. "v1.2.0" (a "refs/tags/" prefix is tolerated).
	// Annotated tags resolve to the commit they point to.
	Tag string

	// SemVer is a semantic version range over the remote's tags, in the
	// syntax of github.com/Masterminds/semver/v3, e.g. ">=1.0.0 <2.0.0",
	// "1.x" or "~1.2". The highest tag in the range wins. Tags that are not
	// strict semantic versions ("latest", "1.2", "release-3") are ignored;
	// a leading "v" is tolerated. Pre-releases are considered only when
	// the range itself has a pre-release part (">=1.0.0-0"). Two tags with
	// the same version ("v1.0.0" and "1.0.0", or different build metadata)
	// are ordered by name and the greater name wins.
	SemVer string

	// Commit is a full commit SHA-1 (40 hexadecimal digits).
	Commit string

	// Name is a full reference name, e.g. "refs/pull/1/head" or
	// "refs/heads/main".
	Name string
}

// refKind is the field of a Ref that decides, after precedence.
type refKind int

const (
	kindDefault refKind = iota
	kindBranch
	kindTag
	kindSemVer
	kindName
	kindCommit
)

// kind applies the precedence rule.
func (r Ref) kind() refKind {
	switch {
	case r.Commit != "":
		return kindCommit
	case r.Name != "":
		return kindName
	case r.SemVer != "":
		return kindSemVer
	case r.Tag != "":
		return kindTag
	case r.Branch != "":
		return kindBranch
	}
	return kindDefault
}

// String describes the reference as the precedence rule reads it, e.g.
// `branch "main"` or `semver ">=1.0.0"`.
func (r Ref) String() string {
	switch r.kind() {
	case kindCommit:
		if r.Branch != "" {
			return fmt.Sprintf("commit %s on branch %q", r.Commit, r.branch())
		}
		return "commit " + r.Commit
	case kindName:
		return fmt.Sprintf("reference %q", r.Name)
	case kindSemVer:
		return fmt.Sprintf("semver %q", r.SemVer)
	case kindTag:
		return fmt.Sprintf("tag %q", r.tag())
	case kindBranch:
		return fmt.Sprintf("branch %q", r.branch())
	}
	return "default branch"
}

func (r Ref) branch() string { return strings.TrimPrefix(r.Branch, "refs/heads/") }
func (r Ref) tag() string    { return strings.TrimPrefix(r.Tag, "refs/tags/") }

// Validate checks the fields that take part after precedence: the commit is
// a full SHA-1, the range parses, names are valid Git reference names. The
// error wraps [ErrInvalid].
func (r Ref) Validate() error {
	_, err := r.constraint()
	return err
}

// constraint validates r and returns the parsed SemVer range, if that is
// the kind in force.
func (r Ref) constraint() (*semver.Constraints, error) {
	switch r.kind() {
	case kindCommit:
		if !isSHA1(r.Commit) {
			return nil, invalidf("commit %q is not a full SHA-1 (40 hexadecimal digits)", r.Commit)
		}
		if r.Branch != "" {
			if err := checkRefName("refs/heads/" + r.branch()); err != nil {
				return nil, invalidf("branch %q: %v", r.Branch, err)
			}
		}
	case kindName:
		if !strings.HasPrefix(r.Name, "refs/") {
			return nil, invalidf("reference name %q must start with refs/", r.Name)
		}
		if err := checkRefName(r.Name); err != nil {
			return nil, invalidf("reference name %q: %v", r.Name, err)
		}
	case kindSemVer:
		c, err := semver.NewConstraint(r.SemVer)
		if err != nil {
			return nil, invalidf("semver range %q: %v", r.SemVer, err)
		}
		return c, nil
	case kindTag:
		if err := checkRefName("refs/tags/" + r.tag()); err != nil {
			return nil, invalidf("tag %q: %v", r.Tag, err)
		}
	case kindBranch:
		if err := checkRefName("refs/heads/" + r.branch()); err != nil {
			return nil, invalidf("branch %q: %v", r.Branch, err)
		}
	}
	return nil, nil
}

func checkRefName(name string) error {
	return plumbing.ReferenceName(name).Validate()
}

// isSHA1 reports whether s is 40 hexadecimal digits.
func isSHA1(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// target is a Ref resolved against the remote's advertised references.
type target struct {
	// refName is the remote reference fetched, e.g. "refs/heads/main"; empty
	// for a commit fetched by ID.
	refName string
	// label is the reference part of the revision: "main", "v1.2.0",
	// "refs/pull/1/head"; empty for a bare commit.
	label string
	// want is the object to ask the server for: the commit, or the tag
	// object of an annotated tag.
	want plumbing.Hash
	// commit is the commit the revision names.
	commit plumbing.Hash
	// isTag is set for Tag and SemVer refs.
	isTag bool
	// branch is set for a Commit ref with a Branch: the branch to fall back
	// to when the server refuses to send a commit by ID.
	branch string
}

// revision formats the target as a revision string.
func (t target) revision() string {
	return formatRevision(t.label, t.commit.String())
}

// resolve finds the target of r in the advertised references ar. c is the
// parsed range for SemVer refs.
func (r Ref) resolve(ar *packp.AdvRefs, c *semver.Constraints) (target, error) {
	peeled := func(name string, h plumbing.Hash) plumbing.Hash {
		if p, ok := ar.Peeled[name]; ok {
			return p
		}
		return h
	}
	lookup := func(name, label string, isTag bool) (target, error) {
		h, ok := ar.References[name]
		if !ok {
			return target{}, fmt.Errorf("%w: %s", ErrRefNotFound, r)
		}
		return target{refName: name, label: label, want: h, commit: peeled(name, h), isTag: isTag}, nil
	}

	switch r.kind() {
	case kindCommit:
		h := plumbing.NewHash(strings.ToLower(r.Commit))
		t := target{want: h, commit: h}
		if r.Branch != "" {
			t.label = r.branch()
			t.branch = "refs/heads/" + r.branch()
			if _, ok := ar.References[t.branch]; !ok {
				return target{}, fmt.Errorf("%w: branch %q (for commit %s)", ErrRefNotFound, r.branch(), r.Commit)
			}
		}
		return t, nil
	case kindName:
		return lookup(r.Name, r.Name, strings.HasPrefix(r.Name, "refs/tags/"))
	case kindSemVer:
		return resolveSemVer(ar, c, r.SemVer, peeled)
	case kindTag:
		return lookup("refs/tags/"+r.tag(), r.tag(), true)
	case kindBranch:
		return lookup("refs/heads/"+r.branch(), r.branch(), false)
	}

	// The default branch: HEAD's target as advertised by the symref
	// capability, else the branch with HEAD's hash, else HEAD itself.
	for _, v := range ar.Capabilities.Get(capability.SymRef) {
		if from, to, ok := strings.Cut(v, ":"); ok && from == "HEAD" {
			if h, ok := ar.References[to]; ok {
				return target{refName: to, label: strings.TrimPrefix(to, "refs/heads/"), want: h, commit: h}, nil
			}
		}
	}
	if ar.Head == nil {
		return target{}, fmt.Errorf("%w: the remote has no HEAD", ErrRefNotFound)
	}
	return target{refName: "HEAD", label: "HEAD", want: *ar.Head, commit: *ar.Head}, nil
}

// resolveSemVer picks the highest tag in range c.
func resolveSemVer(ar *packp.AdvRefs, c *semver.Constraints, rng string, peeled func(string, plumbing.Hash) plumbing.Hash) (target, error) {
	var (
		best     *semver.Version
		bestName string
	)
	for name := range ar.References {
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok {
			continue
		}
		v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) || v.Equal(best) && tag > bestName {
			best, bestName = v, tag
		}
	}
	if best == nil {
		return target{}, fmt.Errorf("%w: %q", ErrNoMatchingTag, rng)
	}
	name := "refs/tags/" + bestName
	h := ar.References[name]
	return target{refName: name, label: bestName, want: h, commit: peeled(name, h), isTag: true}, nil
}
