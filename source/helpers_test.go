package source_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// transport is one way of reaching the test server.
type transport struct {
	name string
	url  func(*gitserver.Repo) string
	auth func(*testing.T) *source.Auth
	// requests returns how many requests (HTTP) or sessions (SSH) the
	// server saw, and how many of them fetched a pack.
	requests func() (total, packs int)
}

// env is a test server with a client key authorized for SSH.
type env struct {
	srv *gitserver.Server
	key *gitserver.Key
}

func newEnv(t testing.TB, opts gitserver.Options) *env {
	t.Helper()
	key := gitopstest.NewSSHKey(t)
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, key.PublicKey())
	return &env{srv: gitopstest.StartGitServer(t, opts), key: key}
}

// sshAuth is working SSH auth for e's server.
func (e *env) sshAuth() *source.Auth {
	return &source.Auth{Identity: e.key.PrivateKeyPEM, KnownHosts: []byte(e.srv.KnownHostsLine() + "\n")}
}

// transports returns HTTP and SSH access to e's server.
func (e *env) transports() []transport {
	return []transport{
		{
			name: "http",
			url:  (*gitserver.Repo).HTTPURL,
			auth: func(*testing.T) *source.Auth { return nil },
			requests: func() (int, int) {
				reqs := e.srv.HTTPRequests()
				packs := 0
				for _, r := range reqs {
					if r.Method == "POST" && r.Service == "git-upload-pack" {
						packs++
					}
				}
				return len(reqs), packs
			},
		},
		{
			name: "ssh",
			url:  (*gitserver.Repo).SSHURL,
			auth: func(*testing.T) *source.Auth { return e.sshAuth() },
			requests: func() (int, int) {
				// With protocol v0 listing refs and fetching share one
				// git-upload-pack session; we cannot tell them apart.
				return len(e.srv.SSHSessions()), -1
			},
		},
	}
}

// commit makes a commit and returns its ID.
func commit(t testing.TB, r *gitserver.Repo, opts gitserver.CommitOptions) string {
	t.Helper()
	return gitopstest.GitCommit(t, r, opts)
}

// tag makes a lightweight tag.
func tag(t testing.TB, r *gitserver.Repo, name, rev string) {
	t.Helper()
	if _, err := r.Tag(t.Context(), name, rev); err != nil {
		t.Fatalf("tag %s: %v", name, err)
	}
}

// readTree returns path -> content of the regular files and "-> target" of
// the symlinks under dir.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[rel] = "-> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read tree %s: %v", dir, err)
	}
	return m
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newCache is a cache in a test temp dir.
func newCache(t testing.TB) *source.Cache {
	t.Helper()
	c, err := source.NewCache(t.TempDir())
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	return c
}

// mustFetch fetches and fails the test on error.
func mustFetch(t testing.TB, url string, opts source.Options) *source.Result {
	t.Helper()
	res, err := source.Fetch(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return res
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// gitCLI runs the git binary with a clean, private configuration in dir.
type gitCLI struct {
	t    testing.TB
	dir  string
	home string
	env  []string
}

func newGitCLI(t testing.TB, extraEnv ...string) *gitCLI {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Signer", "GIT_AUTHOR_EMAIL=signer@example.com",
		"GIT_COMMITTER_NAME=Signer", "GIT_COMMITTER_EMAIL=signer@example.com",
		"GIT_AUTHOR_DATE=2024-02-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-02-01T00:00:00Z",
		"LC_ALL=C",
	}
	return &gitCLI{t: t, home: home, env: append(env, extraEnv...)}
}

// run runs git with args in g.dir and returns its trimmed output.
func (g *gitCLI) run(args ...string) string {
	g.t.Helper()
	out, err := g.try(args...)
	if err != nil {
		g.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (g *gitCLI) try(args ...string) (string, error) {
	cmd := exec.CommandContext(g.t.Context(), "git", args...)
	cmd.Dir = g.dir
	if cmd.Dir == "" {
		cmd.Dir = g.home
	}
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", errors.Join(err, errors.New(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// clone clones url into a temp dir and makes it the working directory.
func (g *gitCLI) clone(url string) {
	g.t.Helper()
	dir := filepath.Join(g.t.TempDir(), "clone")
	g.run("clone", "--quiet", url, dir)
	g.dir = dir
}

// writeFile writes a file in the clone.
func (g *gitCLI) writeFile(name, content string) {
	g.t.Helper()
	p := filepath.Join(g.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}
