package source

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/ssh"
)

// This file verifies SSH signatures in the SSHSIG format that
// `ssh-keygen -Y sign` writes and git uses with gpg.format=ssh. See
// PROTOCOL.sshsig in the OpenSSH sources.

const (
	sshsigMagic      = "SSHSIG"
	sshsigVersion    = 1
	sshsigPEMType    = "SSH SIGNATURE"
	sshsigGitNS      = "git"
	sshsigArmorBegin = "-----BEGIN SSH SIGNATURE-----"
)

// sshsigBlob is the signature blob after the magic preamble.
type sshsigBlob struct {
	Version       uint32
	PublicKey     []byte
	Namespace     string
	Reserved      []byte
	HashAlgorithm string
	Signature     []byte
}

// sshsigSignedData is what the key signs, after the magic preamble.
type sshsigSignedData struct {
	Namespace     string
	Reserved      []byte
	HashAlgorithm string
	Hash          []byte
}

// verifySSHSig checks the armored SSH signature armored over message in
// namespace against the trusted keys and returns the key that signed.
func verifySSHSig(armored, message []byte, namespace string, trusted []ssh.PublicKey) (ssh.PublicKey, error) {
	block, _ := pem.Decode(bytes.TrimSpace(armored))
	if block == nil || block.Type != sshsigPEMType {
		return nil, errors.New("not an armored SSH signature")
	}
	blob, ok := bytes.CutPrefix(block.Bytes, []byte(sshsigMagic))
	if !ok {
		return nil, errors.New("SSH signature lacks the SSHSIG magic")
	}
	var sig sshsigBlob
	if err := ssh.Unmarshal(blob, &sig); err != nil {
		return nil, fmt.Errorf("parsing SSH signature: %w", err)
	}
	if sig.Version != sshsigVersion {
		return nil, fmt.Errorf("unsupported SSH signature version %d", sig.Version)
	}
	if sig.Namespace != namespace {
		return nil, fmt.Errorf("SSH signature is for namespace %q, want %q", sig.Namespace, namespace)
	}
	pub, err := ssh.ParsePublicKey(sig.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parsing the signature's public key: %w", err)
	}
	var signer ssh.PublicKey
	for _, k := range trusted {
		if bytes.Equal(k.Marshal(), pub.Marshal()) {
			signer = k
			break
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("signed by %s key %s, which is not trusted", pub.Type(), ssh.FingerprintSHA256(pub))
	}

	var h hash.Hash
	switch sig.HashAlgorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unsupported SSH signature hash algorithm %q", sig.HashAlgorithm)
	}
	h.Write(message)
	signed := append([]byte(sshsigMagic), ssh.Marshal(sshsigSignedData{
		Namespace:     sig.Namespace,
		Reserved:      sig.Reserved,
		HashAlgorithm: sig.HashAlgorithm,
		Hash:          h.Sum(nil),
	})...)

	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		return nil, fmt.Errorf("parsing SSH signature value: %w", err)
	}
	// PROTOCOL.sshsig forbids SHA-1 RSA signatures.
	if pub.Type() == ssh.KeyAlgoRSA && s.Format == ssh.KeyAlgoRSA {
		return nil, errors.New("ssh-rsa (SHA-1) signatures are not accepted")
	}
	if err := signer.Verify(signed, &s); err != nil {
		return nil, fmt.Errorf("bad SSH signature by %s: %w", ssh.FingerprintSHA256(pub), err)
	}
	return signer, nil
}
