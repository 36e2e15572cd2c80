package reconcile

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

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
		encrypted := sops.IsEncrypted(o.Object)
		if !encrypted && (u.Decryption == nil || o.GetKind() != "Secret" || o.GetAPIVersion() != "v1") {
			continue
		}
		id := object.KeyOf(o)
		if u.Decryption == nil {
			return nil, fmt.Errorf("reconcile: %s: %w", id, ErrEncryptedObject)
		}
		if !encrypted && !hasEncryptedData(o) {
			continue
		}
		k, err := keysOf()
		if err != nil || k == nil {
			return objs, err
		}
		if encrypted {
			plain, err := k.Decrypt(o.Object)
			if err != nil {
				return nil, fmt.Errorf("reconcile: decrypting %s: %w", id, err)
			}
			objs[i] = &unstructured.Unstructured{Object: plain}
			continue
		}
		if err := decryptSecretData(k, o); err != nil {
			return nil, fmt.Errorf("reconcile: decrypting %s: %w", id, err)
		}
	}
	return objs, nil
}

// secretData returns a Secret's data, decoded; a value that is not base64
// is left out (the API server will refuse it).
func secretData(o *unstructured.Unstructured) map[string]string {
	data, _, _ := unstructured.NestedStringMap(o.Object, "data")
	out := make(map[string]string, len(data))
	for k, v := range data {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			out[k] = string(b)
		}
	}
	return out
}

func hasEncryptedData(o *unstructured.Unstructured) bool {
	data := secretData(o)
	if sops.IsEncryptedDotenv(data) {
		return true
	}
	for _, v := range data {
		if sops.IsEncryptedFile([]byte(v)) {
			return true
		}
	}
	return false
}

// decryptSecretData decrypts the data of a Secret that a secretGenerator
// made of encrypted files: all its entries when they are an encrypted
// dotenv file's (envs), otherwise each entry that is an encrypted file.
func decryptSecretData(k *sops.Keys, o *unstructured.Unstructured) error {
	data := secretData(o)
	plain := map[string]string{}
	if sops.IsEncryptedDotenv(data) {
		var err error
		if plain, err = k.DecryptDotenv(data); err != nil {
			return err
		}
	} else {
		for key, v := range data {
			if !sops.IsEncryptedFile([]byte(v)) {
				plain[key] = v
				continue
			}
			b, err := k.DecryptFile(key, []byte(v))
			if err != nil {
				return fmt.Errorf("data %s: %w", key, err)
			}
			plain[key] = string(b)
		}
	}
	raw, _, _ := unstructured.NestedStringMap(o.Object, "data")
	encoded := make(map[string]any, len(plain))
	for key, v := range raw {
		if _, decoded := data[key]; !decoded {
			encoded[key] = v // not base64: left for the API server to refuse
		}
	}
	for key, v := range plain {
		encoded[key] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return unstructured.SetNestedField(o.Object, encoded, "data")
}
