package apply

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ManifestHash returns the hash the inventory records for an object applied
// by fieldManager: SHA-256 over the field manager and the object's canonical
// JSON (keys sorted), truncated to 128 bits and base64url-encoded. Any change
// to the manifest, its labels or annotations, or the field manager changes
// the hash.
func ManifestHash(obj *unstructured.Unstructured, fieldManager string) (string, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(fieldManager))
	h.Write([]byte{0})
	h.Write(data)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16]), nil
}
