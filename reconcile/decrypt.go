package reconcile

import (
	"context"
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

// decrypt replaces the SOPS-encrypted objects of a unit's build by their
// decryption, with the keys of the unit's Decryption Secret, read (as
// gitopskit's identity) only when an object is encrypted. Offline, a
// Secret neither the render nor [RenderOptions.Objects] has is a gap: the
// objects are rendered as they are in Git.
func (r *Reconciler) decrypt(ctx context.Context, u Unit, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var keys *sops.Keys
	for i, o := range objs {
		if !sops.IsEncrypted(o.Object) {
			continue
		}
		id := object.KeyOf(o)
		if u.Decryption == nil {
			return nil, fmt.Errorf("reconcile: %s: %w", id, ErrEncryptedObject)
		}
		if keys == nil {
			ns := u.Decryption.Namespace
			if ns == "" {
				ns = r.conf.Namespace
			}
			data, err := r.readSecret(ctx, ns, u.Decryption.Name)
			if apierrors.IsNotFound(err) && r.offline != nil {
				if st := r.unit(u.Name); st != nil {
					r.offline.gap(st, "decryption Secret %s/%s: no earlier unit renders it and it was not supplied; encrypted objects are rendered encrypted", ns, u.Decryption.Name)
				}
				return objs, nil
			}
			if err != nil {
				return nil, fmt.Errorf("reconcile: decryption Secret %s/%s: %w", ns, u.Decryption.Name, err)
			}
			if keys, err = sops.ParseKeys(data); err != nil {
				return nil, fmt.Errorf("reconcile: decryption Secret %s/%s: %w", ns, u.Decryption.Name, err)
			}
		}
		plain, err := keys.Decrypt(o.Object)
		if err != nil {
			return nil, fmt.Errorf("reconcile: decrypting %s: %w", id, err)
		}
		objs[i] = &unstructured.Unstructured{Object: plain}
	}
	return objs, nil
}
