package gitopstest_test

import (
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// TestGitServerKit clones one repository over both transports with the
// helpers other packages' tests use.
func TestGitServerKit(t *testing.T) {
	key := gitopstest.NewSSHKey(t)
	srv := gitopstest.StartGitServer(t, gitserver.Options{
		Username:       "alice",
		Password:       "s3cret",
		AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
	})
	repo := gitopstest.NewGitRepo(t, srv, "team/app")
	sha := gitopstest.GitCommit(t, repo, gitserver.CommitOptions{
		Files: map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n"},
	})

	tests := []struct {
		name string
		url  string
		auth transport.AuthMethod
	}{
		{"http with basic auth", repo.HTTPURL(), &githttp.BasicAuth{Username: "alice", Password: "s3cret"}},
		{"ssh with pinned host key", repo.SSHURL(), gitopstest.GitSSHAuth(t, srv, key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloned, err := git.CloneContext(t.Context(), memory.NewStorage(), nil, &git.CloneOptions{URL: tt.url, Auth: tt.auth})
			if err != nil {
				t.Fatalf("clone %s: %v", tt.url, err)
			}
			head, err := cloned.Head()
			if err != nil || head.Hash().String() != sha {
				t.Fatalf("HEAD = %v, %v; want %s", head, err, sha)
			}
			c, err := cloned.CommitObject(head.Hash())
			if err != nil {
				t.Fatal(err)
			}
			f, err := c.File("deploy/cm.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f.Contents(); err != nil || got != "kind: ConfigMap\n" {
				t.Errorf("deploy/cm.yaml = %q, %v", got, err)
			}
		})
	}
}

// TestGitServerClosedOnCleanup checks that StartGitServer's cleanup stops
// the server.
func TestGitServerClosedOnCleanup(t *testing.T) {
	var srv *gitserver.Server
	t.Run("inner", func(t *testing.T) {
		srv = gitopstest.StartGitServer(t, gitserver.Options{})
		repo := gitopstest.NewGitRepo(t, srv, "app")
		gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "a"}})
		if _, err := git.CloneContext(t.Context(), memory.NewStorage(), nil, &git.CloneOptions{URL: repo.HTTPURL()}); err != nil {
			t.Fatalf("clone while the test runs: %v", err)
		}
	})
	_, err := git.CloneContext(t.Context(), memory.NewStorage(), nil, &git.CloneOptions{URL: srv.HTTPURL("app")})
	if err == nil {
		t.Fatal("clone from a server whose test has ended succeeded")
	}
}
