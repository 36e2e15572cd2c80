package source

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"golang.org/x/crypto/ssh"
)

// VerifyMode says which signature [Verification] checks.
type VerifyMode int

const (
	// VerifyHead checks the signature of the fetched commit.
	VerifyHead VerifyMode = iota + 1
	// VerifyTag checks the signature of the annotated tag named by
	// [Ref.Tag] or picked by [Ref.SemVer] (or a [Ref.Name] under
	// refs/tags/). Lightweight tags carry no signature and fail.
	VerifyTag
)

func (m VerifyMode) String() string {
	switch m {
	case VerifyHead:
		return "HEAD"
	case VerifyTag:
		return "Tag"
	}
	return fmt.Sprintf("VerifyMode(%d)", int(m))
}

// Verification asks [Fetch] to check a signature before handing out the
// artifact. A signature that is missing, made by an untrusted key, or
// wrong fails the fetch with a [*VerificationError].
type Verification struct {
	// Mode is VerifyHead or VerifyTag.
	Mode VerifyMode
	// Keys are the trusted public keys. Each entry holds ASCII-armored
	// OpenPGP public keys ("-----BEGIN PGP PUBLIC KEY BLOCK-----", for
	// signatures made with gpg) or SSH public keys in authorized_keys
	// format, one per line (for signatures made with git's
	// gpg.format=ssh), or both.
	Keys [][]byte
}

// trustedKeys are the parsed [Verification.Keys].
type trustedKeys struct {
	pgp []string // armored key rings
	ssh []ssh.PublicKey
}

const pgpKeyBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

// parseKeys splits and parses v.Keys. The error wraps ErrInvalid.
func (v *Verification) parseKeys() (*trustedKeys, error) {
	switch v.Mode {
	case VerifyHead, VerifyTag:
	default:
		return nil, invalidf("verification mode %v: want VerifyHead or VerifyTag", v.Mode)
	}
	tk := &trustedKeys{}
	for i, k := range v.Keys {
		s := string(k)
		// Armored OpenPGP blocks, each read as one key ring.
		for {
			b := strings.Index(s, pgpKeyBegin)
			if b < 0 {
				break
			}
			const end = "-----END PGP PUBLIC KEY BLOCK-----"
			e := strings.Index(s[b:], end)
			if e < 0 {
				return nil, invalidf("verification key %d: unterminated OpenPGP key block", i)
			}
			tk.pgp = append(tk.pgp, s[b:b+e+len(end)]+"\n")
			s = s[:b] + s[b+e+len(end):]
		}
		// What is left: authorized_keys lines.
		rest := []byte(s)
		for len(bytes.TrimSpace(rest)) > 0 {
			pub, _, _, r, err := ssh.ParseAuthorizedKey(rest)
			if err != nil {
				return nil, invalidf("verification key %d: neither an armored OpenPGP key nor SSH authorized_keys lines: %v", i, err)
			}
			tk.ssh = append(tk.ssh, pub)
			rest = r
		}
	}
	if len(tk.pgp) == 0 && len(tk.ssh) == 0 {
		return nil, invalidf("verification needs at least one trusted key")
	}
	return tk, nil
}

// verify checks the signature that v.Mode asks for on target t in st and
// returns a description of the key that made it.
func (v *Verification) verify(st storer.EncodedObjectStorer, t target, tk *trustedKeys) (string, error) {
	if v.Mode == VerifyTag {
		name := strings.TrimPrefix(t.refName, "refs/tags/")
		obj := "tag " + name
		tag, err := object.GetTag(st, t.want)
		if err == plumbing.ErrObjectNotFound || err == nil && tag == nil {
			return "", &VerificationError{Object: obj, Reason: "lightweight tag: it has no signature"}
		} else if err != nil {
			return "", &VerificationError{Object: obj, Reason: "reading the tag", Err: err}
		}
		if tag.PGPSignature == "" {
			return "", &VerificationError{Object: obj, Reason: "not signed"}
		}
		return checkSignature(obj, tag.PGPSignature, tag.EncodeWithoutSignature, tk)
	}
	obj := "commit " + t.commit.String()
	c, err := object.GetCommit(st, t.commit)
	if err != nil {
		return "", &VerificationError{Object: obj, Reason: "reading the commit", Err: err}
	}
	if c.PGPSignature == "" {
		return "", &VerificationError{Object: obj, Reason: "not signed"}
	}
	return checkSignature(obj, c.PGPSignature, c.EncodeWithoutSignature, tk)
}

// checkSignature verifies sig over the payload that encode writes.
func checkSignature(obj, sig string, encode func(plumbing.EncodedObject) error, tk *trustedKeys) (string, error) {
	mo := &plumbing.MemoryObject{}
	if err := encode(mo); err != nil {
		return "", &VerificationError{Object: obj, Reason: "encoding the signed payload", Err: err}
	}
	r, err := mo.Reader()
	if err != nil {
		return "", &VerificationError{Object: obj, Reason: "encoding the signed payload", Err: err}
	}
	payload, err := io.ReadAll(r)
	if err != nil {
		return "", &VerificationError{Object: obj, Reason: "encoding the signed payload", Err: err}
	}

	switch {
	case strings.HasPrefix(sig, sshsigArmorBegin):
		if len(tk.ssh) == 0 {
			return "", &VerificationError{Object: obj, Reason: "SSH signature, but no trusted SSH keys given"}
		}
		pub, err := verifySSHSig([]byte(sig), payload, sshsigGitNS, tk.ssh)
		if err != nil {
			return "", &VerificationError{Object: obj, Reason: "SSH signature not verified", Err: err}
		}
		return "ssh:" + ssh.FingerprintSHA256(pub), nil
	case strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----"):
		if len(tk.pgp) == 0 {
			return "", &VerificationError{Object: obj, Reason: "OpenPGP signature, but no trusted OpenPGP keys given"}
		}
		var lastErr error
		for _, ring := range tk.pgp {
			e, err := verifyPGP(ring, payload, sig)
			if err == nil {
				return e, nil
			}
			lastErr = err
		}
		return "", &VerificationError{Object: obj, Reason: "no trusted OpenPGP key verified the signature", Err: lastErr}
	}
	return "", &VerificationError{Object: obj, Reason: "unsupported signature format (want OpenPGP or SSH)"}
}

// verifyPGP checks the armored detached OpenPGP signature sig over payload
// with the armored key ring and returns "openpgp:<fingerprint>" of the key.
func verifyPGP(ring string, payload []byte, sig string) (string, error) {
	if strings.Count(sig, "-----BEGIN PGP SIGNATURE-----") > 1 {
		return "", object.ErrMultipleSignatures
	}
	keyring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(ring))
	if err != nil {
		return "", fmt.Errorf("reading OpenPGP key ring: %w", err)
	}
	e, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(payload), strings.NewReader(sig), nil)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("openpgp:%X", e.PrimaryKey.Fingerprint), nil
}
