package sops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// Key file suffixes of a Flux decryption Secret.
const (
	// AgeKeySuffix ends the name of an entry holding age identities.
	AgeKeySuffix = ".agekey"
	// PGPKeySuffix ends the name of an entry holding an armored OpenPGP
	// private key.
	PGPKeySuffix = ".asc"
)

// Keys are the private keys a document can be decrypted with.
type Keys struct {
	age []age.Identity
	pgp openpgp.EntityList
}

// ParseKeys reads the age identities (entries named *.agekey) and OpenPGP
// private keys (*.asc) of a decryption Secret's data. Other entries are
// ignored. A key that does not parse, or an OpenPGP key protected by a
// passphrase, is an [ErrInvalidKey] naming the entry.
func ParseKeys(data map[string][]byte) (*Keys, error) {
	k := &Keys{}
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, AgeKeySuffix):
			ids, err := age.ParseIdentities(bytes.NewReader(data[name]))
			if err != nil {
				return nil, fmt.Errorf("%w: entry %s: %w", ErrInvalidKey, name, err)
			}
			k.age = append(k.age, ids...)
		case strings.HasSuffix(name, PGPKeySuffix):
			ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data[name]))
			if err != nil {
				return nil, fmt.Errorf("%w: entry %s: %w", ErrInvalidKey, name, err)
			}
			for _, e := range ring {
				if e.PrivateKey == nil {
					return nil, fmt.Errorf("%w: entry %s: a public key, not a private one", ErrInvalidKey, name)
				}
				if e.PrivateKey.Encrypted {
					return nil, fmt.Errorf("%w: entry %s: the private key is protected by a passphrase", ErrInvalidKey, name)
				}
			}
			k.pgp = append(k.pgp, ring...)
		}
	}
	return k, nil
}

// Len returns the number of keys: age identities and OpenPGP keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.age) + len(k.pgp)
}

// recipients of a data key, as a document's metadata lists them.
type recipients struct {
	age []string // armored age files
	pgp []string // armored OpenPGP messages
	kms int      // entries of cloud key services, which are not used
}

// dataKey opens the data key with the first recipient the keys match.
func (k *Keys) dataKey(r recipients) ([]byte, error) {
	var errs []error
	if k != nil {
		for _, enc := range r.age {
			if len(k.age) == 0 {
				break
			}
			key, err := readAll(age.Decrypt(armor.NewReader(strings.NewReader(enc)), k.age...))
			if err == nil {
				return checkDataKey(key)
			}
			var noMatch *age.NoIdentityMatchError
			if !errors.As(err, &noMatch) {
				errs = append(errs, fmt.Errorf("age: %w", err))
			}
		}
		for _, enc := range r.pgp {
			if len(k.pgp) == 0 {
				break
			}
			block, err := pgparmor.Decode(strings.NewReader(enc))
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: an OpenPGP recipient's data key is not armored: %w", ErrInvalid, err))
				continue
			}
			md, err := openpgp.ReadMessage(block.Body, k.pgp, nil, nil)
			if err != nil {
				if !errors.Is(err, pgperrors.ErrKeyIncorrect) {
					errs = append(errs, fmt.Errorf("openpgp: %w", err))
				}
				continue
			}
			key, err := readAll(md.UnverifiedBody, nil)
			if err == nil {
				return checkDataKey(key)
			}
			errs = append(errs, fmt.Errorf("openpgp: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrNoKey, errors.Join(errs...))
	}
	msg := fmt.Sprintf("%d age and %d OpenPGP recipient(s), %d key(s) given", len(r.age), len(r.pgp), k.Len())
	if r.kms > 0 {
		msg += fmt.Sprintf("; %d recipient(s) of cloud key services, which are not used", r.kms)
	}
	return nil, fmt.Errorf("%w (%s)", ErrNoKey, msg)
}

// maxDataKey bounds what a recipient's plaintext may be: the data key is
// 32 bytes.
const maxDataKey = 64

func readAll(r io.Reader, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, maxDataKey+1))
}

func checkDataKey(key []byte) ([]byte, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: the data key has %d bytes, want 32", ErrInvalid, len(key))
	}
	return key, nil
}
