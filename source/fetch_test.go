package source_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// fixture is a repository with two commits on main, a feature branch, a
// lightweight tag, an annotated tag and a pull request ref.
type fixture struct {
	repo                 *gitserver.Repo
	c1, c2, c3           string // main~1, main, feature
	v1Light, v2Annotated string // tag names
	pullRef              string
	wantConfig           map[string]string // commit -> app/config.yaml
}

func newFixture(t *testing.T, srv *gitserver.Server, name string) *fixture {
	t.Helper()
	f := &fixture{repo: gitopstest.NewGitRepo(t, srv, name), v1Light: "v1.0.0", v2Annotated: "v2.0.0", pullRef: "refs/pull/1/head"}
	f.c1 = commit(t, f.repo, gitserver.CommitOptions{Files: map[string]string{"README.md": "hello\n", "app/config.yaml": "v: 1\n"}})
	f.c2 = commit(t, f.repo, gitserver.CommitOptions{Files: map[string]string{"app/config.yaml": "v: 2\n"}})
	f.c3 = commit(t, f.repo, gitserver.CommitOptions{Branch: "feature", Files: map[string]string{"feature.txt": "f\n", "app/config.yaml": "v: 3\n"}})
	tag(t, f.repo, f.v1Light, f.c1)
	if _, err := f.repo.AnnotatedTag(t.Context(), gitserver.AnnotatedTagOptions{Name: f.v2Annotated, Rev: f.c2}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(srv.GitPath(), "--git-dir", f.repo.Dir(), "update-ref", f.pullRef, f.c3).CombinedOutput()
	if err != nil {
		t.Fatalf("update-ref: %v: %s", err, out)
	}
	f.wantConfig = map[string]string{f.c1: "v: 1\n", f.c2: "v: 2\n", f.c3: "v: 3\n"}
	return f
}

// refCases are every kind of Ref against a fixture, with the revision
// each must resolve to.
func (f *fixture) refCases() []struct {
	name string
	ref  source.Ref
	want string
} {
	return []struct {
		name string
		ref  source.Ref
		want string
	}{
		{"default branch", source.Ref{}, "main@sha1:" + f.c2},
		{"branch", source.Ref{Branch: "main"}, "main@sha1:" + f.c2},
		{"branch with refs/heads prefix", source.Ref{Branch: "refs/heads/feature"}, "feature@sha1:" + f.c3},
		{"other branch", source.Ref{Branch: "feature"}, "feature@sha1:" + f.c3},
		{"lightweight tag", source.Ref{Tag: f.v1Light}, "v1.0.0@sha1:" + f.c1},
		{"annotated tag", source.Ref{Tag: f.v2Annotated}, "v2.0.0@sha1:" + f.c2},
		{"semver", source.Ref{SemVer: ">=1.0.0"}, "v2.0.0@sha1:" + f.c2},
		{"semver lower range", source.Ref{SemVer: "1.x"}, "v1.0.0@sha1:" + f.c1},
		{"commit", source.Ref{Commit: f.c1}, "sha1:" + f.c1},
		{"commit uppercase", source.Ref{Commit: strings.ToUpper(f.c1)}, "sha1:" + f.c1},
		{"commit on branch", source.Ref{Commit: f.c1, Branch: "main"}, "main@sha1:" + f.c1},
		{"name pull request", source.Ref{Name: f.pullRef}, "refs/pull/1/head@sha1:" + f.c3},
		{"name branch", source.Ref{Name: "refs/heads/feature"}, "refs/heads/feature@sha1:" + f.c3},
		{"name annotated tag", source.Ref{Name: "refs/tags/v2.0.0"}, "refs/tags/v2.0.0@sha1:" + f.c2},
	}
}

func TestFetchEveryRefKind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	for _, tr := range e.transports() {
		for _, mode := range []string{"cache", "dir"} {
			// One cache per transport and mode, shared by the cases, which
			// run in order: later cases reuse what earlier ones fetched.
			// The four groups are independent and run in parallel.
			t.Run(tr.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				cache := newCache(t)
				for _, tc := range f.refCases() {
					t.Run(tc.name, func(t *testing.T) {
						opts := source.Options{Ref: tc.ref, Auth: tr.auth(t)}
						if mode == "cache" {
							opts.Cache = cache
						} else {
							opts.Dir = t.TempDir()
						}
						res := mustFetch(t, tr.url(f.repo), opts)
						a := res.Artifact
						if res.Unchanged || a == nil {
							t.Fatalf("got Unchanged=%v Artifact=%v", res.Unchanged, a)
						}
						if a.Revision != tc.want || res.Revision != tc.want {
							t.Errorf("revision = %q (result %q), want %q", a.Revision, res.Revision, tc.want)
						}
						_, wantCommit, _ := source.ParseRevision(tc.want)
						if a.Commit != wantCommit {
							t.Errorf("commit = %s, want %s", a.Commit, wantCommit)
						}
						if a.URL != tr.url(f.repo) {
							t.Errorf("URL = %q", a.URL)
						}
						files := readTree(t, a.Dir)
						if got := files["app/config.yaml"]; got != f.wantConfig[wantCommit] {
							t.Errorf("app/config.yaml = %q, want %q", got, f.wantConfig[wantCommit])
						}
						if _, ok := files[".git"]; ok {
							t.Error(".git in artifact")
						}
						digest, size, err := source.DirDigest(a.Dir)
						if err != nil {
							t.Fatal(err)
						}
						if digest != a.Digest || size != a.Size {
							t.Errorf("DirDigest = %s %d, artifact says %s %d", digest, size, a.Digest, a.Size)
						}
						if mode == "dir" && a.Dir != opts.Dir {
							t.Errorf("Dir = %s, want %s", a.Dir, opts.Dir)
						}
					})
				}
			})
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	for _, tr := range e.transports() {
		for _, tc := range f.refCases() {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				got, err := source.Resolve(t.Context(), tr.url(f.repo), tc.ref, tr.auth(t))
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("Resolve = %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// TestRefPrecedence sets several fields at once and drops the winner one
// by one: commit > name > semver > tag > branch.
func TestRefPrecedence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	ref := source.Ref{Commit: f.c1, Name: f.pullRef, SemVer: ">=2.0.0", Tag: f.v1Light, Branch: "feature"}
	steps := []struct {
		drop func(*source.Ref)
		want string
	}{
		{func(*source.Ref) {}, "feature@sha1:" + f.c1}, // commit, fetched from Branch
		{func(r *source.Ref) { r.Commit = "" }, "refs/pull/1/head@sha1:" + f.c3},
		{func(r *source.Ref) { r.Name = "" }, "v2.0.0@sha1:" + f.c2},
		{func(r *source.Ref) { r.SemVer = "" }, "v1.0.0@sha1:" + f.c1},
		{func(r *source.Ref) { r.Tag = "" }, "feature@sha1:" + f.c3},
		{func(r *source.Ref) { r.Branch = "" }, "main@sha1:" + f.c2},
	}
	for _, s := range steps {
		s.drop(&ref)
		got, err := source.Resolve(t.Context(), f.repo.HTTPURL(), ref, nil)
		if err != nil {
			t.Fatalf("%v: %v", ref, err)
		}
		if got != s.want {
			t.Errorf("%+v resolves to %q, want %q", ref, got, s.want)
		}
	}
}

func TestSemVerPicksHighestInRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, e.srv, "tags")
	tags := []string{
		"v0.9.0", "v1.0.0", "1.2.0", "v1.2.1", "v1.10.0", "v1.11.0-rc.1", "v2.0.0", "v2.1.0-beta.1",
		"latest", "release-3", "1.5", "v3", "stable", "v1.9.9+build.7",
	}
	commits := map[string]string{}
	for i, tg := range tags {
		sha := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"version": tg}, Message: tg})
		_ = i
		commits[tg] = sha
		tag(t, repo, tg, sha)
	}
	cases := []struct {
		rng     string
		want    string // tag name, "" for ErrNoMatchingTag
		invalid bool
	}{
		{">=1.0.0 <2.0.0", "v1.10.0", false},
		{"1.x", "v1.10.0", false},
		{"~1.2", "v1.2.1", false},
		{"1.2.0", "1.2.0", false},
		{"<1.0.0", "v0.9.0", false},
		{">=1.0.0-0 <2.0.0", "v1.11.0-rc.1", false},
		{">=2.0.0-0", "v2.1.0-beta.1", false},
		{"*", "v2.0.0", false},
		{">=1.9.0 <1.10.0", "v1.9.9+build.7", false},
		{">=3.0.0", "", false},
		{"^5", "", false},
		{"not a range", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.rng, func(t *testing.T) {
			rev, err := source.Resolve(t.Context(), repo.HTTPURL(), source.Ref{SemVer: tc.rng}, nil)
			switch {
			case tc.invalid:
				if !errors.Is(err, source.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
			case tc.want == "":
				if !errors.Is(err, source.ErrNoMatchingTag) {
					t.Fatalf("err = %v, want ErrNoMatchingTag", err)
				}
				if !strings.Contains(err.Error(), tc.rng) {
					t.Errorf("error %q does not name the range", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if want := tc.want + "@sha1:" + commits[tc.want]; rev != want {
					t.Errorf("got %s, want %s", rev, want)
				}
			}
		})
	}

	// The picked tag's tree is what gets fetched.
	res := mustFetch(t, repo.HTTPURL(), source.Options{Ref: source.Ref{SemVer: "1.x"}, Cache: newCache(t)})
	if got := readTree(t, res.Artifact.Dir)["version"]; got != "v1.10.0" {
		t.Errorf("version file = %q", got)
	}
}

// TestDefaultBranchFollowsRemoteHEAD points the remote's HEAD at another
// branch: the zero Ref follows it.
func TestDefaultBranchFollowsRemoteHEAD(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	if err := f.repo.SetDefaultBranch(t.Context(), "feature"); err != nil {
		t.Fatal(err)
	}
	for _, tr := range e.transports() {
		rev, err := source.Resolve(t.Context(), tr.url(f.repo), source.Ref{}, tr.auth(t))
		if err != nil {
			t.Fatal(err)
		}
		if want := "feature@sha1:" + f.c3; rev != want {
			t.Errorf("%s: default branch resolves to %s, want %s", tr.name, rev, want)
		}
	}
}
