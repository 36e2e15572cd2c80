package gitserver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

func TestHTTPClone(t *testing.T) {
	tests := []struct {
		name string
		opts gitserver.Options
		auth transport.AuthMethod
	}{
		{name: "anonymous"},
		{
			name: "basic auth",
			opts: gitserver.Options{Username: "alice", Password: "s3cret"},
			auth: &githttp.BasicAuth{Username: "alice", Password: "s3cret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, tt.opts)
			repo := createRepo(t, srv, "team/app")
			files := map[string]string{
				"README.md":           "hello\n",
				"deploy/config.yaml":  "apiVersion: v1\nkind: ConfigMap\n",
				"deploy/nested/x.txt": "x",
			}
			sha := commit(t, repo, gitserver.CommitOptions{Files: files, Message: "first"})

			cloned, err := cloneMem(t.Context(), srv.HTTPURL("team/app"), tt.auth)
			if err != nil {
				t.Fatalf("clone %s: %v", srv.HTTPURL("team/app"), err)
			}
			head, err := cloned.Head()
			if err != nil {
				t.Fatalf("Head: %v", err)
			}
			if head.Name() != plumbing.NewBranchReferenceName("main") || head.Hash().String() != sha {
				t.Errorf("HEAD = %s %s, want refs/heads/main %s", head.Name(), head.Hash(), sha)
			}
			want := map[string]string{}
			for p, c := range files {
				want[p] = regular + c
			}
			if d := diffMaps(treeFiles(t, cloned, sha), want); d != "" {
				t.Errorf("cloned tree:\n%s", d)
			}
			for _, r := range srv.HTTPRequests() {
				if tt.opts.Username != "" && r.User != tt.opts.Username {
					t.Errorf("request %s %s recorded user %q, want %q", r.Method, r.Path, r.User, tt.opts.Username)
				}
			}
		})
	}
}

func TestHTTPAuthFailures(t *testing.T) {
	srv := start(t, gitserver.Options{Username: "alice", Password: "s3cret"})
	repo := createRepo(t, srv, "app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "a"}})

	tests := []struct {
		name string
		auth transport.AuthMethod
	}{
		{"no credentials", nil},
		{"wrong password", &githttp.BasicAuth{Username: "alice", Password: "wrong"}},
		{"wrong user", &githttp.BasicAuth{Username: "bob", Password: "s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloneMem(t.Context(), repo.HTTPURL(), tt.auth)
			if !errors.Is(err, transport.ErrAuthenticationRequired) && !errors.Is(err, transport.ErrAuthorizationFailed) {
				t.Fatalf("clone error = %v, want ErrAuthenticationRequired or ErrAuthorizationFailed", err)
			}
		})
	}

	t.Run("401 with WWW-Authenticate", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, repo.HTTPURL()+"/info/refs?service=git-upload-pack", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("alice", "wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", resp.StatusCode)
		}
		if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
			t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
		}
	})
}

func TestHTTPRepositoryNotFound(t *testing.T) {
	srv := start(t, gitserver.Options{})
	_, err := lsRemote(t.Context(), srv.HTTPURL("missing"), nil)
	if !errors.Is(err, transport.ErrRepositoryNotFound) {
		t.Fatalf("ls-remote of a missing repository: %v, want ErrRepositoryNotFound", err)
	}
}

func TestRemoteListBranchesAndTags(t *testing.T) {
	srv := start(t, gitserver.Options{})
	repo := createRepo(t, srv, "app")
	ctx := t.Context()
	first := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	second := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
	if _, err := repo.Branch(ctx, "release/1.x", first); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Tag(ctx, "v1.0.0", first); err != nil {
		t.Fatal(err)
	}
	tagID, err := repo.AnnotatedTag(ctx, gitserver.AnnotatedTagOptions{Name: "v1.1.0", Rev: "main", Message: "release 1.1.0"})
	if err != nil {
		t.Fatal(err)
	}

	got, err := lsRemote(ctx, repo.HTTPURL(), nil)
	if err != nil {
		t.Fatalf("ls-remote: %v", err)
	}
	want := map[string]string{
		"HEAD":                   "refs/heads/main",
		"refs/heads/main":        second,
		"refs/heads/release/1.x": first,
		"refs/tags/v1.0.0":       first,
		"refs/tags/v1.1.0":       tagID,
		"refs/tags/v1.1.0^{}":    second,
	}
	if d := diffMaps(got, want); d != "" {
		t.Errorf("ls-remote:\n%s", d)
	}

	// The annotated tag is a real tag object.
	cloned, err := cloneMem(ctx, repo.HTTPURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := cloned.TagObject(plumbing.NewHash(tagID))
	if err != nil {
		t.Fatalf("tag object: %v", err)
	}
	if tag.Name != "v1.1.0" || tag.Target.String() != second || tag.Message != "release 1.1.0\n" ||
		tag.Tagger.Name != gitserver.DefaultName {
		t.Errorf("tag = %q -> %s, message %q, tagger %q", tag.Name, tag.Target, tag.Message, tag.Tagger.Name)
	}
}

func TestHTTPPush(t *testing.T) {
	srv := start(t, gitserver.Options{Username: "alice", Password: "s3cret"})
	repo := createRepo(t, srv, "app")
	ctx := t.Context()
	base := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	auth := &githttp.BasicAuth{Username: "alice", Password: "s3cret"}

	local, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: repo.HTTPURL(), Auth: auth})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	wt, err := local.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	f, err := wt.Filesystem.Create("pushed.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("from the client\n")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := wt.Add("pushed.txt"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "client", Email: "client@example.com", When: time.Unix(1700000000, 0)}
	pushed, err := wt.Commit("client commit", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}

	srv.ResetRequests()
	err = local.PushContext(ctx, &git.PushOptions{
		Auth:     auth,
		RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main", "refs/heads/main:refs/heads/feature"},
	})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	for _, branch := range []string{"main", "feature"} {
		head, err := repo.Head(ctx, branch)
		if err != nil {
			t.Fatal(err)
		}
		if head != pushed.String() {
			t.Errorf("server %s = %s, want pushed %s (parent %s)", branch, head, pushed, base)
		}
	}
	var receivePacks int
	for _, r := range srv.HTTPRequests() {
		if r.Method == http.MethodPost && r.Service == "git-receive-pack" && r.Repo == "app" && r.Status == http.StatusOK {
			receivePacks++
		}
	}
	if receivePacks != 1 {
		t.Errorf("recorded %d successful receive-pack POSTs, want 1: %+v", receivePacks, srv.HTTPRequests())
	}

	// The builder continues on top of what was pushed.
	next := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"b": "2"}})
	if got, err := repo.Resolve(ctx, next+"~1"); err != nil || got != pushed.String() {
		t.Errorf("parent of builder commit = %s, %v; want pushed %s", got, err, pushed)
	}
}

func TestHTTPRequestLog(t *testing.T) {
	srv := start(t, gitserver.Options{})
	repo := createRepo(t, srv, "team/app")
	ctx := t.Context()
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	// Listing refs is one GET of the advertisement and no pack.
	if _, err := lsRemote(ctx, repo.HTTPURL(), nil); err != nil {
		t.Fatal(err)
	}
	reqs := srv.HTTPRequests()
	want := gitserver.HTTPRequest{
		Method: http.MethodGet, Path: "/team/app.git/info/refs", Repo: "team/app",
		Service: "git-upload-pack", Status: http.StatusOK,
	}
	if len(reqs) != 1 || reqs[0] != want {
		t.Fatalf("after ls-remote: requests = %+v, want [%+v]", reqs, want)
	}

	// A clone adds a POST for the pack.
	local, err := cloneMem(ctx, repo.HTTPURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := countRequests(srv, http.MethodPost, "git-upload-pack"); got != 1 {
		t.Errorf("after clone: %d upload-pack POSTs, want 1", got)
	}

	// A fetch when the remote has not moved lists refs and fetches nothing.
	srv.ResetRequests()
	if err := local.FetchContext(ctx, &git.FetchOptions{}); !errors.Is(err, git.NoErrAlreadyUpToDate) {
		t.Fatalf("fetch = %v, want NoErrAlreadyUpToDate", err)
	}
	if got, posts := len(srv.HTTPRequests()), countRequests(srv, http.MethodPost, "git-upload-pack"); got != 1 || posts != 0 {
		t.Errorf("up-to-date fetch made %d requests with %d upload-pack POSTs, want 1 and 0", got, posts)
	}

	// After a new commit the fetch downloads a pack again.
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
	if err := local.FetchContext(ctx, &git.FetchOptions{}); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if got := countRequests(srv, http.MethodPost, "git-upload-pack"); got != 1 {
		t.Errorf("fetch after a new commit: %d upload-pack POSTs, want 1", got)
	}
}

func countRequests(srv *gitserver.Server, method, service string) int {
	n := 0
	for _, r := range srv.HTTPRequests() {
		if r.Method == method && r.Service == service {
			n++
		}
	}
	return n
}

func TestHTTPFault(t *testing.T) {
	tests := []struct {
		name       string
		fault      gitserver.HTTPFault
		listStatus int // status of the ref advertisement, 200 if served
		cloneFails bool
	}{
		{name: "500 everywhere", fault: gitserver.FailHTTP(http.StatusInternalServerError), listStatus: 500, cloneFails: true},
		{name: "503 everywhere", fault: gitserver.FailHTTP(http.StatusServiceUnavailable), listStatus: 503, cloneFails: true},
		{
			name: "502 on pack requests only",
			fault: func(r *http.Request) (int, bool) {
				return http.StatusBadGateway, r.Method == http.MethodPost
			},
			listStatus: 200, cloneFails: true,
		},
		{name: "no fault", fault: nil, listStatus: 200},
	}
	srv := start(t, gitserver.Options{})
	repo := createRepo(t, srv, "app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetHTTPFault(tt.fault)
			t.Cleanup(func() { srv.SetHTTPFault(nil) })
			srv.ResetRequests()

			_, err := lsRemote(t.Context(), repo.HTTPURL(), nil)
			if tt.listStatus != http.StatusOK {
				var unexpected *plumbing.UnexpectedError
				var httpErr *githttp.Err
				if !errors.As(err, &unexpected) || !errors.As(unexpected.Err, &httpErr) || httpErr.StatusCode() != tt.listStatus {
					t.Errorf("ls-remote error = %v, want an HTTP %d error", err, tt.listStatus)
				}
			} else if err != nil {
				t.Errorf("ls-remote: %v", err)
			}
			if reqs := srv.HTTPRequests(); len(reqs) != 1 || reqs[0].Status != tt.listStatus {
				t.Errorf("recorded %+v, want one request with status %d", reqs, tt.listStatus)
			}

			_, err = cloneMem(t.Context(), repo.HTTPURL(), nil)
			if tt.cloneFails != (err != nil) {
				t.Errorf("clone error = %v, want failure %v", err, tt.cloneFails)
			}
		})
	}
}

func TestHTTPStall(t *testing.T) {
	srv := start(t, gitserver.Options{})
	repo := createRepo(t, srv, "app")
	sha := commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	release := make(chan struct{})
	srv.SetHTTPFault(gitserver.StallHTTP(release))

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := lsRemote(ctx, repo.HTTPURL(), nil)
	if err == nil {
		t.Fatal("ls-remote against a stalled server succeeded")
	}
	if elapsed := time.Since(began); elapsed > 5*time.Second {
		t.Errorf("ls-remote took %s to give up, want about the 300ms deadline", elapsed)
	}
	if ctx.Err() == nil {
		t.Errorf("ls-remote failed before the deadline: %v", err)
	}

	// Once released, stalled-then-served requests go through.
	close(release)
	refs, err := lsRemote(t.Context(), repo.HTTPURL(), nil)
	if err != nil {
		t.Fatalf("ls-remote after release: %v", err)
	}
	if refs["refs/heads/main"] != sha {
		t.Errorf("main = %s, want %s", refs["refs/heads/main"], sha)
	}
}
