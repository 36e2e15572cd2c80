package gitserver_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
)

func TestSSHClone(t *testing.T) {
	key := newKey(t)
	srv := start(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	repo := createRepo(t, srv, "team/app")
	sha := commit(t, repo, gitserver.CommitOptions{
		Files:    map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n"},
		Symlinks: map[string]string{"link": "deploy/cm.yaml"},
	})

	if want := "[127.0.0.1]:"; !strings.HasPrefix(srv.KnownHostsLine(), want+strings.Split(srv.SSHAddr(), ":")[1]+" ssh-ed25519 ") {
		t.Errorf("KnownHostsLine = %q, want %q<port> ssh-ed25519 ...", srv.KnownHostsLine(), want)
	}
	if want := "ssh://git@" + srv.SSHAddr() + "/team/app.git"; repo.SSHURL() != want {
		t.Errorf("SSHURL = %q, want %q", repo.SSHURL(), want)
	}

	cloned, err := cloneMem(t.Context(), repo.SSHURL(), sshAuth(t, key, srv.KnownHostsLine()+"\n"))
	if err != nil {
		t.Fatalf("clone %s: %v", repo.SSHURL(), err)
	}
	head, err := cloned.Head()
	if err != nil || head.Hash().String() != sha {
		t.Fatalf("HEAD = %v, %v; want %s", head, err, sha)
	}
	want := map[string]string{
		"deploy/cm.yaml": regular + "kind: ConfigMap\n",
		"link":           symlink + "deploy/cm.yaml",
	}
	if d := diffMaps(treeFiles(t, cloned, sha), want); d != "" {
		t.Errorf("cloned tree:\n%s", d)
	}
	sessions := finishedSessions(t, srv)
	if len(sessions) != 1 || sessions[0].Service != "git-upload-pack" || sessions[0].Repo != "team/app" ||
		sessions[0].User != "git" || sessions[0].ExitStatus != 0 {
		t.Errorf("SSHSessions = %+v, want one successful git-upload-pack of team/app by git", sessions)
	}
}

func TestSSHHostKeyErrors(t *testing.T) {
	key := newKey(t)
	srv := start(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	repo := createRepo(t, srv, "app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "a"}})
	other := newKey(t)

	tests := []struct {
		name       string
		knownHosts string
		wantKnown  bool // KeyError.Want lists a pinned key (mismatch) rather than none (unknown host)
	}{
		{
			name:       "unknown host",
			knownHosts: knownhosts.Line([]string{"[127.0.0.1]:1"}, other.PublicKey()) + "\n",
		},
		{
			name:       "mismatched host key",
			knownHosts: knownhosts.Line([]string{knownhosts.Normalize(srv.SSHAddr())}, other.PublicKey()) + "\n",
			wantKnown:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloneMem(t.Context(), repo.SSHURL(), sshAuth(t, key, tt.knownHosts))
			var keyErr *knownhosts.KeyError
			if !errors.As(err, &keyErr) {
				t.Fatalf("clone error = %v, want a *knownhosts.KeyError", err)
			}
			if got := len(keyErr.Want) > 0; got != tt.wantKnown {
				t.Errorf("KeyError.Want = %v, want a pinned key: %v", keyErr.Want, tt.wantKnown)
			}
			if !strings.Contains(err.Error(), "knownhosts: key") {
				t.Errorf("error %q does not say what is wrong with the host key", err)
			}
			if n := len(srv.SSHSessions()); n != 0 {
				t.Errorf("%d sessions ran despite the host key error", n)
			}
		})
	}
}

func TestSSHWrongClientKey(t *testing.T) {
	authorized, intruder := newKey(t), newKey(t)
	srv := start(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{authorized.PublicKey()}})
	repo := createRepo(t, srv, "app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "a"}})

	_, err := cloneMem(t.Context(), repo.SSHURL(), sshAuth(t, intruder, srv.KnownHostsLine()))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("clone with an unauthorized key: %v, want an authentication error", err)
	}
	if n := len(srv.SSHSessions()); n != 0 {
		t.Errorf("%d sessions ran for an unauthorized key", n)
	}

	// Authorizing the key later lets it in.
	srv.AuthorizeKey(intruder.PublicKey())
	if _, err := cloneMem(t.Context(), repo.SSHURL(), sshAuth(t, intruder, srv.KnownHostsLine())); err != nil {
		t.Fatalf("clone after AuthorizeKey: %v", err)
	}
}

func TestSSHPush(t *testing.T) {
	key := newKey(t)
	srv := start(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	repo := createRepo(t, srv, "app")
	ctx := t.Context()
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "1"}})
	auth := sshAuth(t, key, srv.KnownHostsLine())

	local, err := git.CloneContext(ctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: repo.SSHURL(), Auth: auth})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	wt, err := local.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "client", Email: "client@example.com", When: time.Unix(1700000000, 0)}
	pushed, err := wt.Commit("empty client commit", &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := local.PushContext(ctx, &git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatalf("push: %v", err)
	}
	if head, err := repo.Head(ctx, "main"); err != nil || head != pushed.String() {
		t.Errorf("server main = %s, %v; want %s", head, err, pushed)
	}
	var services []string
	for _, s := range finishedSessions(t, srv) {
		if s.ExitStatus != 0 {
			t.Errorf("session %+v failed", s)
		}
		services = append(services, s.Service)
	}
	if got := strings.Join(services, ","); got != "git-upload-pack,git-receive-pack" {
		t.Errorf("sessions = %s, want git-upload-pack,git-receive-pack", got)
	}
}

// sshClient logs in to srv with key using x/crypto/ssh directly.
func sshClient(t *testing.T, srv *gitserver.Server, key *gitserver.Key) *ssh.Client {
	t.Helper()
	client, err := ssh.Dial("tcp", srv.SSHAddr(), &ssh.ClientConfig{
		User:            "git",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key.Signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestSSHCommandsAndPaths(t *testing.T) {
	key := newKey(t)
	srv := start(t, gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	repo := createRepo(t, srv, "team/app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "a"}})

	// A repository outside the root, reachable through a symlink inside it.
	outside := t.TempDir()
	outSrv := start(t, gitserver.Options{Root: outside})
	outRepo := createRepo(t, outSrv, "secret")
	commit(t, outRepo, gitserver.CommitOptions{Files: map[string]string{"secret": "s"}})
	if err := os.Symlink(outRepo.Dir(), filepath.Join(srv.Root(), "escape.git")); err != nil {
		t.Fatal(err)
	}
	relOutside, err := filepath.Rel(srv.Root(), outRepo.Dir())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		command    string
		wantStatus int
		wantStderr string
	}{
		{"upload-pack", "git-upload-pack '/team/app.git'", 0, ""},
		{"upload-pack without slash or suffix", "git-upload-pack 'team/app'", 0, ""},
		{"git upload-pack form", "git upload-pack '/team/app.git'", 0, ""},
		{"dot-dot escape", "git-upload-pack '/../outside.git'", 128, "outside the server root"},
		{"relative escape to a real repo", "git-upload-pack '" + filepath.ToSlash(relOutside) + "'", 128, "outside the server root"},
		{"symlink escape", "git-receive-pack '/escape.git'", 128, "outside the server root"},
		{"missing repository", "git-upload-pack '/missing.git'", 128, "does not appear to be a git repository"},
		{"other command", "sh -c id", 128, "unsupported command"},
		{"injection after the path", "git-upload-pack '/team/app.git'; id", 128, "badly quoted"},
		{"upload-archive", "git-upload-archive '/team/app.git'", 128, "unsupported command"},
	}
	client := sshClient(t, srv, key)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			var stdout, stderr bytes.Buffer
			sess.Stdout, sess.Stderr = &stdout, &stderr
			sess.Stdin = strings.NewReader("0000") // flush: end the conversation politely
			err = sess.Run(tt.command)
			status := 0
			var exitErr *ssh.ExitError
			if errors.As(err, &exitErr) {
				status = exitErr.ExitStatus()
			} else if err != nil {
				t.Fatalf("run %q: %v", tt.command, err)
			}
			if status != tt.wantStatus {
				t.Errorf("exit status = %d, want %d (stderr %q)", status, tt.wantStatus, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tt.wantStderr)
			}
			if tt.wantStatus == 0 && !strings.Contains(stdout.String(), "refs/heads/main") {
				t.Errorf("stdout = %q, want a ref advertisement", stdout.String())
			}
			if tt.wantStatus != 0 && stdout.Len() != 0 {
				t.Errorf("refused command wrote %q to stdout", stdout.String())
			}
		})
	}

	t.Run("shell refused", func(t *testing.T) {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.Shell(); err == nil {
			t.Error("shell request accepted")
		}
	})
}

func TestCloseEndsSessions(t *testing.T) {
	key := newKey(t)
	srv, err := gitserver.Start(t.Context(), gitserver.Options{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	repo := createRepo(t, srv, "app")
	commit(t, repo, gitserver.CommitOptions{Files: map[string]string{"a": "a"}})
	root := srv.Root()

	// An upload-pack that waits for the client forever.
	client := sshClient(t, srv, key)
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("git-upload-pack '/app.git'"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(stdout, make([]byte, 4)); err != nil {
		t.Fatalf("read advertisement: %v", err)
	}
	// And an HTTP request stalled by a fault.
	srv.SetHTTPFault(gitserver.StallHTTP(make(chan struct{})))
	httpDone := make(chan error, 1)
	go func() {
		_, err := lsRemote(t.Context(), repo.HTTPURL(), nil)
		httpDone <- err
	}()
	time.Sleep(100 * time.Millisecond)

	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not return with a session and a request in flight")
	}
	if err := sess.Wait(); err == nil {
		t.Error("in-flight session ended without error")
	}
	select {
	case err := <-httpDone:
		if err == nil {
			t.Error("stalled HTTP request succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Error("stalled HTTP request still running after Close")
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("temporary root %s still there after Close: %v", root, err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
