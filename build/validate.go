package build

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/object"
)

// built is an object and the file it came from, when known.
type built struct {
	obj    *unstructured.Unstructured
	origin string
}

// validate checks that every object has apiVersion, kind and metadata.name
// and that no two objects share a key.
func validate(objs []built) error {
	seen := make(map[object.Key]int, len(objs))
	for i, b := range objs {
		key := object.KeyOf(b.obj)
		var missing []string
		if b.obj.GetAPIVersion() == "" {
			missing = append(missing, "apiVersion")
		}
		if b.obj.GetKind() == "" {
			missing = append(missing, "kind")
		}
		if b.obj.GetName() == "" {
			missing = append(missing, "metadata.name")
		}
		if len(missing) > 0 {
			return &InvalidObjectError{Object: key, Source: b.origin, Reason: "missing " + strings.Join(missing, ", ")}
		}
		if j, dup := seen[key]; dup {
			return &DuplicateError{Key: key, First: describe(objs[j]), Second: describe(b)}
		}
		seen[key] = i
	}
	return nil
}

func describe(b built) string {
	s := b.obj.GetAPIVersion()
	if b.origin != "" {
		s += " from " + b.origin
	}
	return s
}

// finish validates and sorts objects.
func finish(objs []built, limits Limits) ([]*unstructured.Unstructured, error) {
	if limit := limits.withDefaults().MaxObjects; len(objs) > limit {
		return nil, &TooManyObjectsError{Count: len(objs), Limit: limit}
	}
	if err := validate(objs); err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, b := range objs {
		out[i] = b.obj
	}
	object.Sort(out)
	return out, nil
}

// EncodeYAML writes objects as a multi-document YAML stream ("---" before
// each document, map keys sorted), the form to store for diffs and golden
// tests: equal object lists always give equal bytes.
func EncodeYAML(objs []*unstructured.Unstructured) ([]byte, error) {
	return object.Encode(objs)
}
