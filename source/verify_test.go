package source_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

// gpgKey is an OpenPGP key in a private GnuPG home.
type gpgKey struct {
	home        string
	fingerprint string
	armoredPub  []byte
}

// newGPGKey generates an ed25519 signing key without passphrase with the
// gpg binary, in a fresh GNUPGHOME whose agent is stopped at cleanup.
func newGPGKey(t *testing.T, uid string) *gpgKey {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg not installed")
	}
	// A short path: gpg-agent's socket path must fit in sun_path.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	gpg := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "gpg", append([]string{"--homedir", home, "--batch"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("gpg %v: %v: %s", args, err, ee.Stderr)
			}
			t.Fatalf("gpg %v: %v", args, err)
		}
		return out
	}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		_ = os.RemoveAll(home)
	})
	gpg("--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	k := &gpgKey{home: home}
	for _, line := range strings.Split(string(gpg("--list-secret-keys", "--with-colons")), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && k.fingerprint == "" {
			k.fingerprint = f[9]
		}
	}
	if k.fingerprint == "" {
		t.Fatal("no fingerprint")
	}
	k.armoredPub = gpg("--armor", "--export", k.fingerprint)
	return k
}

// sshSigningKey is an SSH key pair made with ssh-keygen.
type sshSigningKey struct {
	private string // path
	public  []byte // authorized_keys line
}

func newSSHSigningKey(t *testing.T, typ string) *sshSigningKey {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed")
	}
	p := filepath.Join(t.TempDir(), "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", "signer", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return &sshSigningKey{private: p, public: pub}
}

// signedRepo pushes signed and unsigned commits and tags with the git CLI.
type signedRepo struct {
	repo                 *gitserver.Repo
	pgp, otherPGP        *gpgKey
	ssh, otherSSH        *sshSigningKey
	unsigned, pgpC, sshC string
}

func newSignedRepo(t *testing.T, srv *gitserver.Server) *signedRepo {
	t.Helper()
	r := &signedRepo{
		repo:     gitopstest.NewGitRepo(t, srv, "signed"),
		pgp:      newGPGKey(t, "Signer <signer@example.com>"),
		otherPGP: newGPGKey(t, "Other <other@example.com>"),
		ssh:      newSSHSigningKey(t, "ed25519"),
		otherSSH: newSSHSigningKey(t, "ed25519"),
	}
	r.unsigned = commit(t, r.repo, gitserver.CommitOptions{Files: map[string]string{"app.yaml": "unsigned\n"}})

	g := newGitCLI(t, "GNUPGHOME="+r.pgp.home)
	g.clone(r.repo.HTTPURL())
	pgpSign := []string{"-c", "gpg.program=gpg", "-c", "user.signingkey=" + r.pgp.fingerprint}
	sshSign := []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + r.ssh.private}

	g.run("checkout", "-q", "-b", "pgp")
	g.writeFile("app.yaml", "pgp\n")
	g.run(append(pgpSign, "commit", "-q", "-S", "-am", "signed with gpg")...)
	r.pgpC = g.run("rev-parse", "HEAD")
	g.run(append(pgpSign, "tag", "-s", "v1.0.0", "-m", "v1.0.0 signed with gpg")...)

	g.run("checkout", "-q", "-b", "ssh", "main")
	g.writeFile("app.yaml", "ssh\n")
	g.run(append(sshSign, "commit", "-q", "-S", "-am", "signed with ssh")...)
	r.sshC = g.run("rev-parse", "HEAD")
	g.run(append(sshSign, "tag", "-s", "v2.0.0", "-m", "v2.0.0 signed with ssh")...)

	g.run("tag", "v3.0.0", "main")                         // lightweight
	g.run("tag", "-a", "v4.0.0", "-m", "unsigned", "main") // annotated, unsigned
	g.run("push", "-q", "origin", "pgp", "ssh", "--tags")
	return r
}

func TestVerifySignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	r := newSignedRepo(t, e.srv)
	both := append(append([]byte{}, r.pgp.armoredPub...), r.ssh.public...)
	head := func(keys ...[]byte) *source.Verification {
		return &source.Verification{Mode: source.VerifyHead, Keys: keys}
	}
	tagv := func(keys ...[]byte) *source.Verification {
		return &source.Verification{Mode: source.VerifyTag, Keys: keys}
	}
	cases := []struct {
		name   string
		ref    source.Ref
		verify *source.Verification
		signer string // prefix of VerifiedBy; "" means failure
		reason string // part of the failure message
	}{
		{"pgp commit", source.Ref{Branch: "pgp"}, head(r.pgp.armoredPub), "openpgp:" + r.pgp.fingerprint, ""},
		{"pgp commit, several keys", source.Ref{Branch: "pgp"}, head(r.otherPGP.armoredPub, r.pgp.armoredPub), "openpgp:" + r.pgp.fingerprint, ""},
		{"ssh commit", source.Ref{Branch: "ssh"}, head(r.ssh.public), "ssh:SHA256:", ""},
		{"ssh commit, mixed key entry", source.Ref{Branch: "ssh"}, head(both), "ssh:SHA256:", ""},
		{"pgp commit by commit ref", source.Ref{Commit: r.pgpC}, head(r.pgp.armoredPub), "openpgp:", ""},
		{"unsigned commit", source.Ref{Branch: "main"}, head(both), "", "not signed"},
		{"pgp commit, untrusted key", source.Ref{Branch: "pgp"}, head(r.otherPGP.armoredPub), "", "no trusted OpenPGP key"},
		{"pgp commit, only ssh keys", source.Ref{Branch: "pgp"}, head(r.ssh.public), "", "no trusted OpenPGP keys"},
		{"ssh commit, untrusted key", source.Ref{Branch: "ssh"}, head(r.otherSSH.public), "", "not trusted"},
		{"ssh commit, only pgp keys", source.Ref{Branch: "ssh"}, head(r.pgp.armoredPub), "", "no trusted SSH keys"},
		{"pgp tag", source.Ref{Tag: "v1.0.0"}, tagv(r.pgp.armoredPub), "openpgp:" + r.pgp.fingerprint, ""},
		{"ssh tag", source.Ref{Tag: "v2.0.0"}, tagv(r.ssh.public), "ssh:SHA256:", ""},
		{"semver picks a signed tag", source.Ref{SemVer: "<2.0.0"}, tagv(both), "openpgp:", ""},
		{"tag by name", source.Ref{Name: "refs/tags/v2.0.0"}, tagv(r.ssh.public), "ssh:", ""},
		{"lightweight tag", source.Ref{Tag: "v3.0.0"}, tagv(both), "", "lightweight"},
		{"unsigned annotated tag", source.Ref{Tag: "v4.0.0"}, tagv(both), "", "not signed"},
		{"ssh tag, untrusted key", source.Ref{Tag: "v2.0.0"}, tagv(r.otherSSH.public), "", "not trusted"},
		{"HEAD mode on a signed tag's unsigned commit", source.Ref{Tag: "v4.0.0"}, head(both), "", "not signed"},
	}
	for _, tr := range e.transports() {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel() // each case has its own cache; the repository is only read
				cache := newCache(t)
				res, err := source.Fetch(t.Context(), tr.url(r.repo), source.Options{Ref: tc.ref, Auth: tr.auth(t), Cache: cache, Verify: tc.verify})
				if tc.signer == "" {
					var ve *source.VerificationError
					if !errors.As(err, &ve) || !errors.Is(err, source.ErrVerification) {
						t.Fatalf("err = %v, want a *VerificationError", err)
					}
					if !strings.Contains(err.Error(), tc.reason) {
						t.Errorf("err = %v, want it to say %q", err, tc.reason)
					}
					if res != nil {
						t.Errorf("result on failure: %+v", res)
					}
					if entries, _ := os.ReadDir(filepath.Join(cache.Dir(), "artifacts")); len(entries) > 0 {
						t.Errorf("artifact written despite failed verification: %v", entries)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(res.Artifact.VerifiedBy, tc.signer) {
					t.Errorf("VerifiedBy = %q, want prefix %q", res.Artifact.VerifiedBy, tc.signer)
				}
			})
		}
	}
}
