package apply

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ManifestHash returns the hash the inventory records for an object applied
// by fieldManager: SHA-256 over the field manager and the object's canonical
// JSON (keys sorted), truncated to 128 bits and base64url-encoded. Any change
// to the manifest, its labels or annotations, or the field manager changes
// the hash.
func ManifestHash(obj *unstructured.Unstructured, fieldManager string) (string, error) {
	var h manifestHasher
	return h.hash(obj, fieldManager)
}

// manifestHasher computes [ManifestHash], reusing one buffer across the
// objects of an apply.
type manifestHasher struct {
	buf []byte
}

func (h *manifestHasher) hash(obj *unstructured.Unstructured, fieldManager string) (string, error) {
	b := append(h.buf[:0], fieldManager...)
	b = append(b, 0)
	b, err := appendCanonicalJSON(b, obj.Object)
	h.buf = b
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// appendCanonicalJSON appends the JSON encoding of v to b, byte for byte
// what encoding/json's Marshal writes (map keys sorted, HTML characters
// escaped), so that hashes stay those of the inventories already stored.
// The values an unstructured object holds take a fast path; anything else,
// and strings that need escaping, are encoded by encoding/json itself.
func appendCanonicalJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendJSONString(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONString(b, k); err != nil {
				return b, err
			}
			b = append(b, ':')
			if b, err = appendCanonicalJSON(b, v[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonicalJSON(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	default:
		data, err := json.Marshal(v)
		return append(b, data...), err
	}
}

// appendJSONString appends s as a JSON string: as is when no byte of it
// needs escaping, else as encoding/json writes it.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			data, err := json.Marshal(s)
			return append(b, data...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
