package jsonpointer

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse splits a JSON pointer to a field ("/spec/replicas",
// "/metadata/annotations/example.com~1owner") into its unescaped tokens
// ("~1" is "/", "~0" is "~"). The root pointer "" and "/" name no field
// and are errors, as is a "~" not followed by 0 or 1.
func Parse(p string) ([]string, error) {
	if p == "" || p == "/" || !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q: want a JSON pointer to a field, such as /spec/replicas", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(t, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("path %q: %q has a \"~\" that is neither ~0 nor ~1", p, t)
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// Escape escapes one token for a pointer.
func Escape(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// Remove deletes the field tokens name from v (decoded JSON: maps, lists
// and values), if it is there; tokens that index lists walk into their
// elements. A pointer to a list element itself is left alone: removing it
// would shift the elements after it.
func Remove(v any, tokens []string) {
	for i, t := range tokens {
		last := i == len(tokens)-1
		switch node := v.(type) {
		case map[string]any:
			if last {
				delete(node, t)
				return
			}
			v = node[t]
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(node) || last {
				return
			}
			v = node[n]
		default:
			return
		}
	}
}
