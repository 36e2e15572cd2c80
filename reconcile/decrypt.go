package reconcile

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/object"
	"github.com/gitopskit/gitopskit/sops"
)

// ErrEncryptedObject: a unit's build has a SOPS-encrypted object and the
// unit has no [Unit.Decryption]. Ciphertext is never applied.
var ErrEncryptedObject = errors.New("encrypted with SOPS, and the unit has no decryption")

// Decryption names the Secret whose keys decrypt the SOPS-encrypted
// objects of a unit's build, as Flux's spec.decryption with provider
// "sops": age identities in entries named *.agekey, OpenPGP private keys
// in *.asc (see [sops.ParseKeys]).
type Decryption struct {
	// Namespace of the Secret; empty for the configuration's.
	Namespace string
	Name      string
}

// decrypt decrypts, as Flux does, what a unit's build holds encrypted with
// SOPS: objects (an encrypted Secret manifest), and, with a Decryption,
// the data of Secrets a secretGenerator made of encrypted files (a data
// value that is an encrypted file; all the entries of an encrypted dotenv
// file's envs). The keys of the unit's Decryption Secret are read (as
// gitopskit's identity) only when something is encrypted. Offline, a
// Secret neither the render nor [RenderOptions.Objects] has is a gap: the
// objects are rendered as they are in Git.
func (r *Reconciler) decrypt(ctx context.Context, u Unit, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var keys *sops.Keys
	missing := false
	// keysOf reads the keys once; nil, nil offline when the Secret is
	// missing.
	keysOf := func() (*sops.Keys, error) {
		if keys != nil || missing {
			return keys, nil
		}
		ns := u.Decryption.Namespace
		if ns == "" {
			ns = r.conf.Namespace
		}
		data, err := r.readSecret(ctx, ns, u.Decryption.Name)
		if apierrors.IsNotFound(err) && r.offline != nil {
			if st := r.unit(u.Name); st != nil {
				r.offline.gap(st, "decryption Secret %s/%s: no earlier unit renders it and it was not supplied; encrypted objects are rendered encrypted", ns, u.Decryption.Name)
			}
			missing = true
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reconcile: decryption Secret %s/%s: %w", ns, u.Decryption.Name, err)
		}
		if keys, err = sops.ParseKeys(data); err != nil {
			return nil, fmt.Errorf("reconcile: decryption Secret %s/%s: %w", ns, u.Decryption.Name, err)
		}
		return keys, nil
	}
	for i, o := range objs {
		switch {
		case sops.IsEncrypted(o.Object):
			if u.Decryption == nil {
				return nil, fmt.Errorf("reconcile: %s: %w", object.KeyOf(o), ErrEncryptedObject)
			}
			k, err := keysOf()
			if err != nil {
				return nil, err
			}
			if k == nil {
				continue // offline, no keys: rendered encrypted
			}
			plain, err := k.Decrypt(o.Object)
			if err != nil {
				return nil, fmt.Errorf("reconcile: decrypting %s: %w", object.KeyOf(o), err)
			}
			objs[i] = &unstructured.Unstructured{Object: plain}
		case u.Decryption != nil && o.GetKind() == "Secret" && o.GetAPIVersion() == "v1":
			if err := decryptSecretData(o, keysOf); err != nil {
				return nil, fmt.Errorf("reconcile: decrypting %s: %w", object.KeyOf(o), err)
			}
		}
	}
	return objs, nil
}

// decryptSecretData decrypts the data of a Secret that a secretGenerator
// made of encrypted files: all its entries when they are an encrypted
// dotenv file's (envs), otherwise each entry that is an encrypted file.
// The keys are asked for only when there is something to decrypt; with
// none (offline, no key Secret) the Secret stays as it is.
func decryptSecretData(o *unstructured.Unstructured, keysOf func() (*sops.Keys, error)) error {
	raw, _, _ := unstructured.NestedStringMap(o.Object, "data")
	data := make(map[string]string, len(raw))
	var files []string
	for key, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			continue // not base64: left for the API server to refuse
		}
		data[key] = string(b)
		if sops.IsEncryptedFile(b) {
			files = append(files, key)
		}
	}
	slices.Sort(files)
	dotenv := sops.IsEncryptedDotenv(data)
	if !dotenv && len(files) == 0 {
		return nil
	}
	k, err := keysOf()
	if err != nil || k == nil {
		return err
	}
	plain := data
	if dotenv {
		if plain, err = k.DecryptDotenv(data); err != nil {
			return err
		}
	} else {
		for _, key := range files {
			b, err := k.DecryptFile(key, []byte(data[key]))
			if err != nil {
				return fmt.Errorf("data %s: %w", key, err)
			}
			plain[key] = string(b)
		}
	}
	encoded := make(map[string]any, len(raw))
	for key, v := range raw {
		if _, decoded := data[key]; !decoded {
			encoded[key] = v
		}
	}
	for key, v := range plain {
		encoded[key] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return unstructured.SetNestedField(o.Object, encoded, "data")
}
