package gitserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gogitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

// exampleRepo starts a server with default options and creates repository
// name on it; the caller closes the server.
func exampleRepo(ctx context.Context, name string) (*gitserver.Server, *gitserver.Repo, error) {
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		return nil, nil, err
	}
	repo, err := srv.CreateRepo(ctx, name)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, repo, nil
}

// Start a server whose HTTP side asks for basic authentication.
func ExampleStart() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{Username: "git", Password: "s3cret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if _, err := srv.CreateRepo(ctx, "app"); err != nil {
		fmt.Println(err)
		return
	}

	url := srv.HTTPURL("app") + "/info/refs?service=git-upload-pack"
	anon, err := http.Get(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	anon.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("git", "s3cret")
	authed, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	authed.Body.Close()
	fmt.Println("anonymous:", anon.StatusCode)
	fmt.Println("with password:", authed.StatusCode)
	// Output:
	// anonymous: 401
	// with password: 200
}

// The committer time of a root commit made without an explicit time.
func ExampleDefaultTime() {
	fmt.Println(gitserver.DefaultTime().Format(time.RFC3339))
	// Output: 2024-01-01T00:00:00Z
}

// Make every HTTP request fail with 503 Service Unavailable.
func ExampleFailHTTP() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	srv.SetHTTPFault(gitserver.FailHTTP(http.StatusServiceUnavailable))
	_, err = git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo.HTTPURL()})
	fmt.Println("clone failed:", err != nil)
	for _, r := range srv.HTTPRequests() {
		fmt.Println(r.Method, r.Path, r.Status)
	}
	// Output:
	// clone failed: true
	// GET /app.git/info/refs 503
}

// Hold requests to test a client's timeout; closing release serves them.
func ExampleStallHTTP() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	release := make(chan struct{})
	srv.SetHTTPFault(gitserver.StallHTTP(release))
	client := &http.Client{Timeout: 200 * time.Millisecond}
	_, err = client.Get(repo.HTTPURL() + "/info/refs?service=git-upload-pack")
	fmt.Println("client timed out:", err != nil)

	close(release)
	// Served by git http-backend again: a process start, which takes more
	// than 200 ms on a busy machine.
	patient := &http.Client{Timeout: time.Minute}
	resp, err := patient.Get(repo.HTTPURL() + "/info/refs?service=git-upload-pack")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("after release:", resp.StatusCode)
	// Output:
	// client timed out: true
	// after release: 200
}

// Generate a client key pair, in the formats an SSH client and a Kubernetes
// Secret want.
func ExampleGenerateKey() {
	key, err := gitserver.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Fields(string(key.AuthorizedKey))[0])
	fmt.Println(strings.SplitN(string(key.PrivateKeyPEM), "\n", 2)[0])
	// Output:
	// ssh-ed25519
	// -----BEGIN OPENSSH PRIVATE KEY-----
}

// The public half of a key, to authorize or pin it.
func ExampleKey_PublicKey() {
	key, err := gitserver.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	pub := key.PublicKey()
	fmt.Println(pub.Type())
	fmt.Println(string(ssh.MarshalAuthorizedKey(pub)) == string(key.AuthorizedKey))
	// Output:
	// ssh-ed25519
	// true
}

// An annotated tag is its own object; Resolve peels it to the commit.
func ExampleRepo_AnnotatedTag() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	sha, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	tagID, err := repo.AnnotatedTag(ctx, gitserver.AnnotatedTagOptions{Name: "v1.0.0", Message: "release 1.0.0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	peeled, _ := repo.Resolve(ctx, "v1.0.0")
	fmt.Println("tag object is not the commit:", tagID != sha)
	fmt.Println("tag resolves to the commit:", peeled == sha)
	// Output:
	// tag object is not the commit: true
	// tag resolves to the commit: true
}

// Branch off main and commit to the new branch; main does not move.
func ExampleRepo_Branch() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	base, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	at, err := repo.Branch(ctx, "feature", "main")
	if err != nil {
		fmt.Println(err)
		return
	}
	tip, _ := repo.Commit(ctx, gitserver.CommitOptions{Branch: "feature", Files: map[string]string{"b": "2"}})
	main, _ := repo.Head(ctx, "main")
	fmt.Println("branch starts at main:", at == base)
	fmt.Println("main unchanged:", main == base, "feature moved:", tip != base)
	// Output:
	// branch starts at main: true
	// main unchanged: true feature moved: true
}

// Make a commit; with default author and time its ID is the same on every
// run.
func ExampleRepo_Commit() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	sha, err := repo.Commit(ctx, gitserver.CommitOptions{
		Message:     "add manifests",
		Files:       map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n"},
		Executables: map[string]string{"hack/check.sh": "#!/bin/sh\n"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sha)
	// Output: c2f19486508ed47d4a5934399df559b00c7e8d4a
}

// Delete a branch; looking it up afterwards fails with ErrNotFound.
func ExampleRepo_DeleteBranch() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	repo.Branch(ctx, "old", "main")

	if err := repo.DeleteBranch(ctx, "old"); err != nil {
		fmt.Println(err)
		return
	}
	_, err = repo.Head(ctx, "old")
	fmt.Println(errors.Is(err, gitserver.ErrNotFound))
	// Output: true
}

// Delete a tag, as when a release is withdrawn.
func ExampleRepo_DeleteTag() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	repo.Tag(ctx, "v0.1.0", "main")

	if err := repo.DeleteTag(ctx, "v0.1.0"); err != nil {
		fmt.Println(err)
		return
	}
	_, err = repo.Resolve(ctx, "v0.1.0")
	fmt.Println(errors.Is(err, gitserver.ErrNotFound))
	// Output: true
}

// The bare repository lives under the server's root.
func ExampleRepo_Dir() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	rel, _ := filepath.Rel(srv.Root(), repo.Dir())
	fmt.Println(filepath.ToSlash(rel))
	// Output: team/app.git
}

// The URL to clone a repository over smart HTTP.
func ExampleRepo_HTTPURL() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(strings.Replace(repo.HTTPURL(), srv.HTTPAddr(), "HOST", 1))
	// Output: http://HOST/team/app.git
}

// The commit at the tip of a branch.
func ExampleRepo_Head() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	sha, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	head, err := repo.Head(ctx, "main")
	fmt.Println(head == sha, err)
	_, err = repo.Head(ctx, "nope")
	fmt.Println(errors.Is(err, gitserver.ErrNotFound))
	// Output:
	// true <nil>
	// true
}

// The repository name as given to CreateRepo, without ".git".
func ExampleRepo_Name() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "team/app.git")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(repo.Name())
	// Output: team/app
}

// Resolve any revision Git understands to a commit ID.
func ExampleRepo_Resolve() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	first, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "2"}})
	repo.Tag(ctx, "v1", first)

	parent, _ := repo.Resolve(ctx, "main~1")
	tagged, _ := repo.Resolve(ctx, "v1")
	fmt.Println(parent == first, tagged == first)
	// Output: true true
}

// The URL to clone a repository over SSH.
func ExampleRepo_SSHURL() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(strings.Replace(repo.SSHURL(), srv.SSHAddr(), "HOST", 1))
	// Output: ssh://git@HOST/team/app.git
}

// Point HEAD at another branch: clients now check that one out by default.
func ExampleRepo_SetDefaultBranch() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	repo.Commit(ctx, gitserver.CommitOptions{Branch: "stable", Files: map[string]string{"a": "2"}})

	if err := repo.SetDefaultBranch(ctx, "stable"); err != nil {
		fmt.Println(err)
		return
	}
	clone, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo.HTTPURL()})
	if err != nil {
		fmt.Println(err)
		return
	}
	head, _ := clone.Head()
	fmt.Println(head.Name())
	// Output: refs/heads/stable
}

// A lightweight tag points straight at a commit.
func ExampleRepo_Tag() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	sha, _ := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	tagged, err := repo.Tag(ctx, "v1.0.0", "main")
	fmt.Println(tagged == sha, err)
	_, err = repo.Tag(ctx, "v1.0.0", "main")
	fmt.Println("second time fails:", err != nil)
	// Output:
	// true <nil>
	// second time fails: true
}

// Allow a client key over SSH and list refs with go-git, pinning the
// server's host key.
func ExampleServer_AuthorizeKey() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}}); err != nil {
		fmt.Println(err)
		return
	}
	key, err := gitserver.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}

	srv.AuthorizeKey(key.PublicKey())
	auth := &gogitssh.PublicKeys{User: "git", Signer: key.Signer}
	auth.HostKeyCallback = ssh.FixedHostKey(srv.HostKey())
	if err := listRefsAuth(ctx, repo.SSHURL(), auth); err != nil {
		fmt.Println(err)
		return
	}
	// Output:
	// HEAD -> refs/heads/main
	// refs/heads/main eaabffcd5ff07c7f55adfe954354b5909ff7d3bf
}

// Close stops the server and removes the repositories it created; closing
// again is harmless.
func ExampleServer_Close() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	root := srv.Root()

	fmt.Println(srv.Close(), srv.Close())
	_, err = os.Stat(root)
	fmt.Println("root removed:", errors.Is(err, os.ErrNotExist))
	// Output:
	// <nil> <nil>
	// root removed: true
}

// Create an empty repository; names may have slashes and a ".git" suffix.
func ExampleServer_CreateRepo() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	repo, err := srv.CreateRepo(ctx, "team/app.git")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(repo.Name())
	_, err = srv.CreateRepo(ctx, "team/app")
	fmt.Println("exists already:", err != nil)
	// Output:
	// team/app
	// exists already: true
}

// The git binary the server runs, found in PATH unless Options.GitPath is set.
func ExampleServer_GitPath() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(strings.TrimSuffix(filepath.Base(srv.GitPath()), ".exe"))
	// Output: git
}

// The HTTP side listens on the loopback interface only.
func ExampleServer_HTTPAddr() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	host, _, err := net.SplitHostPort(srv.HTTPAddr())
	fmt.Println(host, err)
	// Output: 127.0.0.1 <nil>
}

// See what a client did: a clone is a ref listing and one pack request.
func ExampleServer_HTTPRequests() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	if _, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo.HTTPURL()}); err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range srv.HTTPRequests() {
		fmt.Println(r.Method, r.Repo, r.Service, r.Status)
	}
	// Output:
	// GET team/app git-upload-pack 200
	// POST team/app git-upload-pack 200
}

// The smart-HTTP URL of a repository by name.
func ExampleServer_HTTPURL() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(strings.Replace(srv.HTTPURL("team/app"), srv.HTTPAddr(), "HOST", 1))
	// Output: http://HOST/team/app.git
}

// Give the server a fixed host key and pin it in a client.
func ExampleServer_HostKey() {
	hostKey, err := gitserver.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := gitserver.Start(context.Background(), gitserver.Options{HostKey: hostKey.Signer})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// A client pins it with ssh.FixedHostKey(srv.HostKey()).
	fmt.Println(string(ssh.MarshalAuthorizedKey(srv.HostKey())) == string(hostKey.AuthorizedKey))
	// Output: true
}

// A known_hosts line for the SSH side, as written to ~/.ssh/known_hosts or
// a Flux-style Secret's known_hosts key.
func ExampleServer_KnownHostsLine() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fields := strings.Fields(srv.KnownHostsLine())
	fmt.Println(fields[0] == "["+strings.Replace(srv.SSHAddr(), ":", "]:", 1), fields[1])
	// Output: true ssh-ed25519
}

// Open a repository that already exists under the root.
func ExampleServer_OpenRepo() {
	ctx := context.Background()
	srv, created, err := exampleRepo(ctx, "team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	sha, _ := created.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	repo, err := srv.OpenRepo("team/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	head, _ := repo.Head(ctx, "main")
	fmt.Println(repo.Name(), head == sha)
	_, err = srv.OpenRepo("team/other")
	fmt.Println(errors.Is(err, gitserver.ErrNotFound))
	// Output:
	// team/app true
	// true
}

// Forget the requests of the test's setup before the part being measured.
func ExampleServer_ResetRequests() {
	ctx := context.Background()
	srv, repo, err := exampleRepo(ctx, "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo.HTTPURL()})
	fmt.Println("before:", len(srv.HTTPRequests()))

	srv.ResetRequests()
	fmt.Println("after:", len(srv.HTTPRequests()), len(srv.SSHSessions()))
	// Output:
	// before: 2
	// after: 0 0
}

// Keep the repositories in a directory of your own; Close leaves it in place.
func ExampleServer_Root() {
	dir, err := os.MkdirTemp("", "gitserver-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	srv, err := gitserver.Start(context.Background(), gitserver.Options{Root: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(srv.Root() == dir)
	srv.Close()
	_, err = os.Stat(dir)
	fmt.Println("still there:", err == nil)
	// Output:
	// true
	// still there: true
}

// The SSH side listens on its own loopback port.
func ExampleServer_SSHAddr() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	host, _, _ := net.SplitHostPort(srv.SSHAddr())
	fmt.Println(host, srv.SSHAddr() != srv.HTTPAddr())
	// Output: 127.0.0.1 true
}

// See the git commands clients ran over SSH.
func ExampleServer_SSHSessions() {
	ctx := context.Background()
	key, err := gitserver.GenerateKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := gitserver.Start(ctx, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	repo, _ := srv.CreateRepo(ctx, "team/app")
	repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})

	auth := &gogitssh.PublicKeys{User: "deploy", Signer: key.Signer}
	auth.HostKeyCallback = ssh.FixedHostKey(srv.HostKey())
	if _, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: repo.SSHURL(), Auth: auth}); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range srv.SSHSessions() {
		fmt.Println(s.User, s.Service, s.Repo)
	}
	// Output:
	// deploy git-upload-pack team/app
}

// The SSH URL of a repository by name, with user "git".
func ExampleServer_SSHURL() {
	srv, err := gitserver.Start(context.Background(), gitserver.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(strings.Replace(srv.SSHURL("team/app"), srv.SSHAddr(), "HOST", 1))
	// Output: ssh://git@HOST/team/app.git
}

// listRefsAuth is listRefs with authentication.
func listRefsAuth(ctx context.Context, url string, auth transport.AuthMethod) error {
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name() < refs[j].Name() })
	for _, r := range refs {
		if r.Type() == plumbing.SymbolicReference {
			fmt.Printf("%s -> %s\n", r.Name(), r.Target())
			continue
		}
		fmt.Printf("%s %s\n", r.Name(), r.Hash())
	}
	return nil
}
