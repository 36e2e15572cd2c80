package source_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

func TestRefNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	missing := strings.Repeat("ab", 20)
	cases := []struct {
		ref  source.Ref
		name string // must appear in the message
	}{
		{source.Ref{Branch: "nope"}, "nope"},
		{source.Ref{Tag: "v9.9.9"}, "v9.9.9"},
		{source.Ref{Name: "refs/pull/42/head"}, "refs/pull/42/head"},
		{source.Ref{Commit: missing}, missing},
		{source.Ref{Commit: f.c1, Branch: "gone"}, "gone"},
	}
	for _, tr := range e.transports() {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.ref.String(), func(t *testing.T) {
				_, err := source.Fetch(t.Context(), tr.url(f.repo), source.Options{Ref: tc.ref, Auth: tr.auth(t), Cache: newCache(t)})
				if !errors.Is(err, source.ErrRefNotFound) {
					t.Fatalf("err = %v, want ErrRefNotFound", err)
				}
				if !strings.Contains(err.Error(), tc.name) {
					t.Errorf("error %q does not name %q", err, tc.name)
				}
			})
		}
	}
}

func TestRepositoryNotFoundAndEmpty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	empty := gitopstest.NewGitRepo(t, e.srv, "empty")
	for _, tr := range e.transports() {
		t.Run(tr.name, func(t *testing.T) {
			missingURL := strings.Replace(tr.url(empty), "empty.git", "missing.git", 1)
			_, err := source.Fetch(t.Context(), missingURL, source.Options{Auth: tr.auth(t), Dir: t.TempDir()})
			if !errors.Is(err, source.ErrRepositoryNotFound) {
				t.Errorf("missing repo: err = %v, want ErrRepositoryNotFound", err)
			}
			_, err = source.Fetch(t.Context(), tr.url(empty), source.Options{Auth: tr.auth(t), Dir: t.TempDir()})
			if !errors.Is(err, source.ErrRefNotFound) {
				t.Errorf("empty repo: err = %v, want ErrRefNotFound", err)
			}
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	addr := closedPort(t)
	for _, u := range []string{"http://" + addr + "/app.git", "ssh://git@" + addr + "/app.git"} {
		t.Run(strings.SplitN(u, ":", 2)[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := source.Fetch(ctx, u, source.Options{Auth: e.sshAuth(), Dir: t.TempDir()})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range []error{source.ErrAuth, source.ErrHostKey, source.ErrRefNotFound, source.ErrRepositoryNotFound, source.ErrInvalid} {
				if errors.Is(err, s) {
					t.Errorf("err = %v, classified as %v", err, s)
				}
			}
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("err = %v, want connection refused", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestContextCancelledAndDeadline(t *testing.T) {
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	for _, tr := range e.transports() {
		t.Run(tr.name+"/cancelled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := source.Fetch(ctx, tr.url(f.repo), source.Options{Auth: tr.auth(t), Cache: newCache(t)})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}

	t.Run("http/stalled server", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		e.srv.SetHTTPFault(gitserver.StallHTTP(release))
		defer e.srv.SetHTTPFault(nil)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := source.Fetch(ctx, f.repo.HTTPURL(), source.Options{Cache: newCache(t)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
	})

	t.Run("http/stalled pack request", func(t *testing.T) {
		// The listing succeeds, the pack request stalls.
		release := make(chan struct{})
		defer close(release)
		stall := gitserver.StallHTTP(release)
		e.srv.SetHTTPFault(func(r *http.Request) (int, bool) {
			if r.Method == http.MethodPost {
				return stall(r)
			}
			return 0, false
		})
		defer e.srv.SetHTTPFault(nil)
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		_, err := source.Fetch(ctx, f.repo.HTTPURL(), source.Options{Cache: newCache(t)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("http/server error", func(t *testing.T) {
		e.srv.SetHTTPFault(gitserver.FailHTTP(http.StatusServiceUnavailable))
		defer e.srv.SetHTTPFault(nil)
		_, err := source.Fetch(t.Context(), f.repo.HTTPURL(), source.Options{Cache: newCache(t)})
		if err == nil || errors.Is(err, source.ErrAuth) {
			t.Fatalf("err = %v, want an unclassified server error", err)
		}
	})
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	cache := newCache(t)
	good := "https://git.example.com/app.git"
	cases := []struct {
		name string
		url  string
		opts source.Options
	}{
		{"empty URL", "", source.Options{Cache: cache}},
		{"unsupported scheme", "ftp://example.com/app.git", source.Options{Cache: cache}},
		{"git scheme", "git://example.com/app.git", source.Options{Cache: cache}},
		{"local path without file://", "/srv/git/app.git", source.Options{Cache: cache}},
		{"relative path", "app.git", source.Options{Cache: cache}},
		{"password in URL", "https://u:secret@example.com/app.git", source.Options{Cache: cache}},
		{"no host", "https:///app.git", source.Options{Cache: cache}},
		{"short commit", good, source.Options{Ref: source.Ref{Commit: "abc123"}, Cache: cache}},
		{"non-hex commit", good, source.Options{Ref: source.Ref{Commit: strings.Repeat("g", 40)}, Cache: cache}},
		{"bad semver", good, source.Options{Ref: source.Ref{SemVer: ">=> 1"}, Cache: cache}},
		{"bad branch", good, source.Options{Ref: source.Ref{Branch: "a..b"}, Cache: cache}},
		{"bad tag", good, source.Options{Ref: source.Ref{Tag: "v1 2"}, Cache: cache}},
		{"name without refs/", good, source.Options{Ref: source.Ref{Name: "pull/1/head"}, Cache: cache}},
		{"no cache and no dir", good, source.Options{}},
		{"cache and dir", good, source.Options{Cache: cache, Dir: t.TempDir()}},
		{"bad last revision", good, source.Options{Cache: cache, LastRevision: "main@abc"}},
		{"path escapes", good, source.Options{Cache: cache, Paths: []string{"../etc"}}},
		{"absolute path", good, source.Options{Cache: cache, Paths: []string{"/etc"}}},
		{"tag verification of a branch", good, source.Options{Cache: cache, Ref: source.Ref{Branch: "main"},
			Verify: &source.Verification{Mode: source.VerifyTag, Keys: [][]byte{[]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDmx0uU2JmMT0/SfbIgs7Ti2Jz7ZKw4ZJb4XrO0tvsQm")}}}},
		{"verification without keys", good, source.Options{Cache: cache, Verify: &source.Verification{Mode: source.VerifyHead}}},
		{"verification with garbage key", good, source.Options{Cache: cache, Verify: &source.Verification{Mode: source.VerifyHead, Keys: [][]byte{[]byte("garbage")}}}},
		{"verification without mode", good, source.Options{Cache: cache, Verify: &source.Verification{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := source.Fetch(t.Context(), tc.url, tc.opts)
			if !errors.Is(err, source.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestURLForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "team/app")
	for _, u := range []string{
		"file://" + f.repo.Dir(),
		f.repo.HTTPURL(),
		strings.TrimSuffix(f.repo.HTTPURL(), ".git"), // http-backend finds the .git
		f.repo.SSHURL(),
	} {
		t.Run(u, func(t *testing.T) {
			res := mustFetch(t, u, source.Options{Auth: e.sshAuth(), Cache: newCache(t)})
			if res.Artifact.Commit != f.c2 {
				t.Errorf("commit = %s, want %s", res.Artifact.Commit, f.c2)
			}
		})
	}
	// scp-like syntax cannot carry a port; it must parse and then fail to
	// connect (nothing listens on port 22 of 127.0.0.2), not be refused as
	// invalid.
	t.Run("scp-like", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := source.Fetch(ctx, "git@127.0.0.2:team/app.git", source.Options{Auth: e.sshAuth(), Dir: t.TempDir()})
		if err == nil || errors.Is(err, source.ErrInvalid) {
			t.Fatalf("err = %v, want a connection error", err)
		}
	})
}

// TestCommitNotAdvertised fetches a commit that is no branch tip: over
// HTTP and SSH by ID (the server allows it), over file:// (plain git
// upload-pack, which does not) through the branch's history.
func TestCommitNotAdvertised(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	for _, u := range []string{f.repo.HTTPURL(), f.repo.SSHURL(), "file://" + f.repo.Dir()} {
		t.Run(strings.SplitN(u, ":", 2)[0], func(t *testing.T) {
			cache := newCache(t)
			// Prime the cache with main's tip so the clone is shallow.
			mustFetch(t, u, source.Options{Auth: e.sshAuth(), Cache: cache})
			res := mustFetch(t, u, source.Options{Ref: source.Ref{Commit: f.c1, Branch: "main"}, Auth: e.sshAuth(), Cache: cache})
			if res.Artifact.Revision != "main@sha1:"+f.c1 || readTree(t, res.Artifact.Dir)["app/config.yaml"] != "v: 1\n" {
				t.Errorf("got %s with %v", res.Artifact.Revision, readTree(t, res.Artifact.Dir))
			}
		})
	}
}
