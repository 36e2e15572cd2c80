package source

import (
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// FuzzVerifySSHSig feeds arbitrary signature blobs to the SSHSIG parser:
// it must never panic nor verify.
func FuzzVerifySSHSig(f *testing.F) {
	f.Add([]byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n"), []byte("msg"))
	f.Add([]byte("garbage"), []byte(""))
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDmx0uU2JmMT0/SfbIgs7Ti2Jz7ZKw4ZJb4XrO0tvsQm"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, msg []byte) {
		if _, err := verifySSHSig(sig, msg, "git", []ssh.PublicKey{pub}); err == nil {
			t.Fatalf("verified a fuzzed signature")
		}
	})
}

// FuzzParseURL checks that URL validation never panics and never lets a
// password through.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"https://example.com/a.git", "git@github.com:org/repo.git", "ssh://git@h:22/r", "file:///tmp/x", "http://u:p@h/r", "::", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseURL(s)
		if err != nil {
			return
		}
		host, _, _ := strings.Cut(strings.TrimPrefix(u.key, u.ep.Protocol+"://"), "/")
		if u.ep.Password != "" || strings.Contains(host, "@") {
			t.Fatalf("%q: accepted with credentials or a user in the key: %+v key %q", s, u.ep, u.key)
		}
	})
}
