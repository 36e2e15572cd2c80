// Package values holds helpers for Helm-style values (nested
// map[string]any), shared by build's Helm rendering and helmrelease.
package values

// DeepCopy returns a deep copy of v, copying nested maps and slices; other
// values are copied as they are. A nil map gives an empty one, because Helm
// merges into the map it is given.
func DeepCopy(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = deepCopyValue(x)
	}
	return out
}

func deepCopyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return DeepCopy(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopyValue(e)
		}
		return s
	default:
		return x
	}
}

// Merge merges src into dst, recursively for maps that are maps in both
// (src wins otherwise), and returns dst. Maps taken from src are copied.
// This is how Helm and Flux merge values files and values references.
func Merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = Merge(dm, sm)
				continue
			}
			dst[k] = DeepCopy(sm)
			continue
		}
		dst[k] = deepCopyValue(v)
	}
	return dst
}
