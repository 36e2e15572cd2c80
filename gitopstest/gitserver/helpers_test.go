package gitserver_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gogitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// start starts a server closed at the end of the test.
func start(t *testing.T, opts gitserver.Options) *gitserver.Server {
	t.Helper()
	srv, err := gitserver.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func newKey(t *testing.T) *gitserver.Key {
	t.Helper()
	k, err := gitserver.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

func createRepo(t *testing.T, srv *gitserver.Server, name string) *gitserver.Repo {
	t.Helper()
	r, err := srv.CreateRepo(t.Context(), name)
	if err != nil {
		t.Fatalf("CreateRepo(%q): %v", name, err)
	}
	return r
}

func commit(t *testing.T, r *gitserver.Repo, opts gitserver.CommitOptions) string {
	t.Helper()
	sha, err := r.Commit(t.Context(), opts)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return sha
}

// sshAuth logs in as git with key and checks the host key against the
// known_hosts content given.
func sshAuth(t *testing.T, key *gitserver.Key, knownHostsContent string) *gogitssh.PublicKeys {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(knownHostsContent), 0o600); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		t.Fatalf("knownhosts.New: %v", err)
	}
	auth := &gogitssh.PublicKeys{User: "git", Signer: key.Signer}
	auth.HostKeyCallback = cb
	return auth
}

// cloneMem clones url into memory storage without a work tree.
func cloneMem(ctx context.Context, url string, auth transport.AuthMethod) (*git.Repository, error) {
	return git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: url, Auth: auth})
}

// lsRemote lists the remote's refs as name -> hash (or target, for
// symbolic refs).
func lsRemote(ctx context.Context, url string, auth transport.AuthMethod) (map[string]string, error) {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(refs))
	for _, r := range refs {
		if r.Type() == plumbing.SymbolicReference {
			m[r.Name().String()] = r.Target().String()
			continue
		}
		m[r.Name().String()] = r.Hash().String()
	}
	return m, nil
}

// treeFiles returns path -> "mode:content" for every file in commit sha.
func treeFiles(t *testing.T, r *git.Repository, sha string) map[string]string {
	t.Helper()
	c, err := r.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatalf("commit %s: %v", sha, err)
	}
	files, err := c.Files()
	if err != nil {
		t.Fatalf("files of %s: %v", sha, err)
	}
	m := make(map[string]string)
	err = files.ForEach(func(f *object.File) error {
		content, err := f.Contents()
		if err != nil {
			return err
		}
		m[f.Name] = f.Mode.String() + ":" + content
		return nil
	})
	if err != nil {
		t.Fatalf("read files of %s: %v", sha, err)
	}
	return m
}

// diffMaps describes the differences between two string maps, or "".
func diffMaps(got, want map[string]string) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			out = append(out, "missing "+k)
		} else if g != w {
			out = append(out, k+": got "+g+", want "+w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "unexpected "+k+"="+got[k])
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// File modes as treeFiles prints them.
const (
	regular    = "0100644:"
	executable = "0100755:"
	symlink    = "0120000:"
)

// finishedSessions waits until every recorded SSH session has its exit
// status (clients do not wait for it) and returns them.
func finishedSessions(t *testing.T, srv *gitserver.Server) []gitserver.SSHSession {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sessions := srv.SSHSessions()
		running := false
		for _, s := range sessions {
			running = running || s.ExitStatus == -1
		}
		if !running || time.Now().After(deadline) {
			return sessions
		}
		time.Sleep(10 * time.Millisecond)
	}
}
