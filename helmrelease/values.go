package helmrelease

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	valuesutil "github.com/gitopskit/gitopskit/internal/values"
)

// DefaultValuesKey is the data key read when [ValuesFrom.ValuesKey] is
// empty.
const DefaultValuesKey = "values.yaml"

// ValuesFrom is values the caller loaded from a ConfigMap or Secret. The
// caller reads the object (helmrelease never reads ConfigMaps or Secrets
// itself) and passes its data; [MergeValues] does the rest.
type ValuesFrom struct {
	// Kind and Name name the object, for error messages ("ConfigMap",
	// "Secret").
	Kind string
	Name string
	// ValuesKey is the data key to read. Default [DefaultValuesKey].
	ValuesKey string
	// TargetPath, if set, places the key's content, a single flat value,
	// at this path instead of merging it as a YAML document: "a.b",
	// "list[0].name", with "\." for a dot inside a key. The value is typed
	// as Flux types it: "true", "false", "null" and integers become
	// booleans, null and numbers; quote the content ('3' or "3") to keep a
	// string.
	TargetPath string
	// Optional makes a missing object (nil Data) or key a no-op instead of
	// an error.
	Optional bool
	// Data is the object's data (a Secret's data, or a ConfigMap's data
	// converted with [ConfigMapData]); nil when the object does not exist.
	Data map[string][]byte
}

// ConfigMapData converts a ConfigMap's data for [ValuesFrom.Data].
func ConfigMapData(data map[string]string) map[string][]byte {
	if data == nil {
		return nil
	}
	out := make(map[string][]byte, len(data))
	for k, v := range data {
		out[k] = []byte(v)
	}
	return out
}

// MergeValues merges values as Flux's HelmRelease does: each of from in
// order (a later one wins), then inline on top. Maps merge key by key,
// recursively; any other value replaces what was there. The inputs are not
// modified. Errors are [*ValuesError].
func MergeValues(inline map[string]any, from ...ValuesFrom) (map[string]any, error) {
	out := map[string]any{}
	for _, ref := range from {
		key := ref.ValuesKey
		if key == "" {
			key = DefaultValuesKey
		}
		verr := func(err error) error { return &ValuesError{Kind: ref.Kind, Name: ref.Name, Key: key, Err: err} }
		if ref.Data == nil {
			if ref.Optional {
				continue
			}
			return nil, verr(errors.New("object not found"))
		}
		raw, ok := ref.Data[key]
		if !ok {
			if ref.Optional {
				continue
			}
			return nil, verr(errors.New("key not found"))
		}
		if ref.TargetPath != "" {
			if err := setPath(out, ref.TargetPath, flatValue(string(raw))); err != nil {
				return nil, verr(err)
			}
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, verr(fmt.Errorf("not a YAML map: %w", err))
		}
		out = valuesutil.Merge(out, doc)
	}
	return valuesutil.Merge(out, valuesutil.DeepCopy(inline)), nil
}

// flatValue types a value placed at a target path as Flux's helm-controller
// does (with Helm's --set parser): a value in single or double quotes is
// the string between them; otherwise "true" and "false" are booleans,
// "null" is null, an integer without a leading zero is an int64, and
// anything else is the string as is. Helm's parser would also split a
// value at commas and read "{a,b}" as a list, where Flux reports an error
// or makes a list; here such a value is one string.
func flatValue(raw string) any {
	if len(raw) >= 2 && (raw[0] == '\'' || raw[0] == '"') && raw[len(raw)-1] == raw[0] {
		return raw[1 : len(raw)-1]
	}
	switch {
	case strings.EqualFold(raw, "true"):
		return true
	case strings.EqualFold(raw, "false"):
		return false
	case strings.EqualFold(raw, "null"):
		return nil
	case raw == "0":
		return int64(0)
	}
	if raw != "" && raw[0] != '0' {
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return n
		}
	}
	return raw
}

// pathElem is one step of a target path: a map key, then optional list
// indexes.
type pathElem struct {
	key     string
	indexes []int
}

// parsePath splits "a.b\.c.list[0][1].d" into elements.
func parsePath(path string) ([]pathElem, error) {
	var elems []pathElem
	var cur strings.Builder
	var e pathElem
	inIndex := false
	var idx strings.Builder
	flush := func() error {
		if e.key == "" && cur.Len() == 0 {
			return fmt.Errorf("target path %q: empty key", path)
		}
		if cur.Len() > 0 {
			e.key = cur.String()
		}
		elems = append(elems, e)
		e = pathElem{}
		cur.Reset()
		return nil
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case inIndex:
			if c == ']' {
				n, err := strconv.Atoi(idx.String())
				if err != nil || n < 0 {
					return nil, fmt.Errorf("target path %q: bad index %q", path, idx.String())
				}
				e.indexes = append(e.indexes, n)
				idx.Reset()
				inIndex = false
				continue
			}
			idx.WriteByte(c)
		case c == '\\' && i+1 < len(path):
			i++
			cur.WriteByte(path[i])
		case c == '.':
			if err := flush(); err != nil {
				return nil, err
			}
		case c == '[':
			if cur.Len() > 0 {
				e.key = cur.String()
				cur.Reset()
			}
			if e.key == "" {
				return nil, fmt.Errorf("target path %q: index without a key", path)
			}
			inIndex = true
		default:
			if len(e.indexes) > 0 {
				return nil, fmt.Errorf("target path %q: text after an index", path)
			}
			cur.WriteByte(c)
		}
	}
	if inIndex {
		return nil, fmt.Errorf("target path %q: unclosed [", path)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return elems, nil
}

// setPath sets value at path in m, creating maps and growing lists (with
// nil elements) as needed.
func setPath(m map[string]any, path string, value any) error {
	elems, err := parsePath(path)
	if err != nil {
		return err
	}
	var container any = m
	for i, e := range elems {
		last := i == len(elems)-1
		mm, ok := container.(map[string]any)
		if !ok {
			return fmt.Errorf("target path %q: %q is not a map", path, e.key)
		}
		if len(e.indexes) == 0 {
			if last {
				mm[e.key] = value
				return nil
			}
			next, ok := mm[e.key].(map[string]any)
			if !ok {
				next = map[string]any{}
				mm[e.key] = next
			}
			container = next
			continue
		}
		// key[i][j]...: walk lists.
		parent := mm
		parentKey := e.key
		list, _ := parent[parentKey].([]any)
		setList := func(l []any) { parent[parentKey] = l }
		for j, n := range e.indexes {
			for len(list) <= n {
				list = append(list, nil)
			}
			setList(list)
			lastIndex := j == len(e.indexes)-1
			if last && lastIndex {
				list[n] = value
				return nil
			}
			if lastIndex {
				next, ok := list[n].(map[string]any)
				if !ok {
					next = map[string]any{}
					list[n] = next
				}
				container = next
				break
			}
			inner, _ := list[n].([]any)
			outer, at := list, n
			list = inner
			setList = func(l []any) { outer[at] = l }
		}
	}
	return nil
}

// digestOf is "sha256:<hex>" of v's JSON encoding (map keys sorted).
func digestOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// ValuesDigest is "sha256:<hex>" over the canonical JSON encoding of
// values: equal values give equal digests whatever the map order or the
// YAML formatting they came from.
func ValuesDigest(values map[string]any) (string, error) {
	if values == nil {
		values = map[string]any{}
	}
	d, err := digestOf(values)
	if err != nil {
		return "", &ValuesError{Kind: "inline", Key: "-", Err: err}
	}
	return d, nil
}
