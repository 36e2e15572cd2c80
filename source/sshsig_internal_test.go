package source

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// sign signs message with a new key of type typ using ssh-keygen -Y sign
// and returns the armored signature and the public key.
func sshKeygenSign(t *testing.T, typ, namespace string, message []byte) ([]byte, ssh.PublicKey) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	args := []string{"-q", "-t", typ, "-N", "", "-f", key}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %v: %v: %s", args, err, out)
	}
	msg := filepath.Join(dir, "msg")
	if err := os.WriteFile(msg, message, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", namespace, "-f", key, msg).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v: %s", err, out)
	}
	sig, err := os.ReadFile(msg + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	pubLine, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubLine)
	if err != nil {
		t.Fatal(err)
	}
	return sig, pub
}

func TestVerifySSHSig(t *testing.T) {
	message := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@example.com> 1700000000 +0000\n\nmessage\n")
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			sig, pub := sshKeygenSign(t, typ, "git", message)
			_, other := sshKeygenSign(t, "ed25519", "git", message)
			fileSig, _ := sshKeygenSign(t, typ, "file", message)

			got, err := verifySSHSig(sig, message, "git", []ssh.PublicKey{other, pub})
			if err != nil {
				t.Fatalf("valid signature: %v", err)
			}
			if ssh.FingerprintSHA256(got) != ssh.FingerprintSHA256(pub) {
				t.Errorf("signer = %s", ssh.FingerprintSHA256(got))
			}

			bad := []struct {
				name    string
				sig     []byte
				msg     []byte
				trusted []ssh.PublicKey
				want    string
			}{
				{"tampered message", sig, append([]byte("x"), message...), []ssh.PublicKey{pub}, "bad SSH signature"},
				{"untrusted key", sig, message, []ssh.PublicKey{other}, "not trusted"},
				{"no keys", sig, message, nil, "not trusted"},
				{"other namespace", fileSig, message, []ssh.PublicKey{pub}, "namespace"},
				{"not armored", []byte("garbage"), message, []ssh.PublicKey{pub}, "not an armored"},
				{"PGP armor", []byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"), message, []ssh.PublicKey{pub}, "not an armored"},
				{"truncated", []byte(strings.Replace(string(sig), "\n", "", 3)), message, []ssh.PublicKey{pub}, ""},
			}
			for _, b := range bad {
				if _, err := verifySSHSig(b.sig, b.msg, "git", b.trusted); err == nil {
					t.Errorf("%s: verified", b.name)
				} else if !strings.Contains(err.Error(), b.want) {
					t.Errorf("%s: err = %v, want %q", b.name, err, b.want)
				}
			}
		})
	}
}
