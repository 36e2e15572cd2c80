package gitopstest

import (
	"os"
	"path/filepath"
	"testing"

	gogitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// StartGitServer starts a Git server on 127.0.0.1 (smart HTTP and SSH, see
// package [gitserver]) for the test, and closes it in tb.Cleanup. It fails
// the test if the server cannot start.
func StartGitServer(tb testing.TB, opts gitserver.Options) *gitserver.Server {
	tb.Helper()
	srv, err := gitserver.Start(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("start git server: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close git server: %v", err)
		}
	})
	return srv
}

// NewSSHKey generates an ed25519 SSH key pair, for a client to log in with
// (authorize it with gitserver.Options.AuthorizedKeys or
// [gitserver.Server.AuthorizeKey]). It fails the test on error.
func NewSSHKey(tb testing.TB) *gitserver.Key {
	tb.Helper()
	k, err := gitserver.GenerateKey()
	if err != nil {
		tb.Fatalf("generate SSH key: %v", err)
	}
	return k
}

// NewGitRepo creates the empty bare repository name on srv (see
// [gitserver.Server.CreateRepo]). It fails the test on error.
func NewGitRepo(tb testing.TB, srv *gitserver.Server, name string) *gitserver.Repo {
	tb.Helper()
	repo, err := srv.CreateRepo(tb.Context(), name)
	if err != nil {
		tb.Fatalf("create git repo: %v", err)
	}
	return repo
}

// GitCommit makes a commit in repo (see [gitserver.Repo.Commit]) and
// returns its ID. It fails the test on error.
func GitCommit(tb testing.TB, repo *gitserver.Repo, opts gitserver.CommitOptions) string {
	tb.Helper()
	sha, err := repo.Commit(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("git commit: %v", err)
	}
	return sha
}

// KnownHostsFile writes a known_hosts file pinning srv's SSH host key into a
// test temp directory and returns its path.
func KnownHostsFile(tb testing.TB, srv *gitserver.Server) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		tb.Fatalf("write known_hosts: %v", err)
	}
	return path
}

// GitSSHAuth is go-git SSH authentication as user "git" with key, that
// accepts only srv's host key, checked through a known_hosts file as
// production code checks it. Pass it as CloneOptions.Auth and the like.
func GitSSHAuth(tb testing.TB, srv *gitserver.Server, key *gitserver.Key) *gogitssh.PublicKeys {
	tb.Helper()
	cb, err := knownhosts.New(KnownHostsFile(tb, srv))
	if err != nil {
		tb.Fatalf("known_hosts callback: %v", err)
	}
	auth := &gogitssh.PublicKeys{User: "git", Signer: key.Signer}
	auth.HostKeyCallback = cb
	return auth
}
