package build

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/object"
)

// SubstituteAnnotation, set to [SubstituteDisabled] on an object, exempts the
// object from post-build substitution: its ${...} text is left as written.
// This is the only annotation the build package reads.
const (
	SubstituteAnnotation = "gitopskit.dev/substitute"
	SubstituteDisabled   = "disabled"
)

// substituteYAML replaces variables in one object's YAML, as kustomize
// serialises it, as Flux does: a value that is exactly one variable takes the
// YAML type of what replaces it, so replicas: ${n} becomes a number (see
// restoreStrings for the fields that stay strings).
// The result is decoded again and must be exactly one object; identities are
// re-validated by the caller afterwards, so a substitution that changes a
// name or kind is checked like any other object.
func substituteYAML(key object.Key, text []byte, vars map[string]string, strict bool) (*unstructured.Unstructured, error) {
	res, undefined := expandVars(string(text), vars, strict)
	if undefined != "" {
		return nil, &SubstitutionError{Variable: undefined, Object: key}
	}
	decoded, err := object.Decode([]byte(res), "substituted "+key.String())
	if err != nil {
		return nil, err
	}
	if len(decoded) != 1 {
		return nil, &InvalidObjectError{Object: key, Reason: fmt.Sprintf("substitution turned it into %d objects", len(decoded))}
	}
	restoreStrings(decoded[0])
	return decoded[0], nil
}

// expandVars replaces ${name}, ${name:=default} and ${name:-default} (the
// default applies when name is unset or empty) and turns $${ into a literal
// ${. Text that does not form a valid reference (a name is
// [A-Za-z_][A-Za-z0-9_]*), such as ${a.b} or a lone $, is left as it is.
// With strict, the first variable with no value and no default is returned
// as undefined; otherwise such variables become empty.
func expandVars(s string, vars map[string]string, strict bool) (result, undefined string) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != '$' {
			j := strings.IndexByte(s[i:], '$')
			if j < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+2+end]
		name, def, hasDef, ok := parseReference(body)
		if !ok {
			b.WriteString(s[i : i+3+end])
			i += 3 + end
			continue
		}
		v, set := vars[name]
		switch {
		case hasDef && v == "":
			v = def
		case !set && strict:
			return "", name
		}
		b.WriteString(v)
		i += 3 + end
	}
	return b.String(), ""
}

func parseReference(body string) (name, def string, hasDef, ok bool) {
	n := 0
	for n < len(body) && (body[n] == '_' || body[n] >= 'A' && body[n] <= 'Z' || body[n] >= 'a' && body[n] <= 'z' || n > 0 && body[n] >= '0' && body[n] <= '9') {
		n++
	}
	if n == 0 {
		return "", "", false, false
	}
	name, rest := body[:n], body[n:]
	switch {
	case rest == "":
		return name, "", false, true
	case strings.HasPrefix(rest, ":="), strings.HasPrefix(rest, ":-"):
		return name, rest[2:], true, true
	}
	return "", "", false, false
}

// restoreStrings turns numbers and booleans that substitution produced back
// into strings where the API only accepts strings: labels and annotations
// (anywhere, pod templates included), container env values, ConfigMap data
// and Secret stringData. Kustomize does not keep the source's quoting, so
// "${port}" and ${port} look the same after a build; without this, a
// quoted numeric value would make the object invalid.
func restoreStrings(u *unstructured.Unstructured) {
	var walk func(v any, parent string)
	walk = func(v any, parent string) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				switch {
				case k == "labels" || k == "annotations":
					stringifyMap(x)
				case k == "value" && parent == "env":
					if s, ok := scalarString(x); ok {
						t[k] = s
					}
				}
				walk(x, k)
			}
		case []any:
			for _, x := range t {
				walk(x, parent)
			}
		}
	}
	walk(u.Object, "")
	switch {
	case u.GetAPIVersion() == "v1" && u.GetKind() == "ConfigMap":
		stringifyMap(u.Object["data"])
	case u.GetAPIVersion() == "v1" && u.GetKind() == "Secret":
		stringifyMap(u.Object["stringData"])
	}
}

func stringifyMap(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range m {
		if s, ok := scalarString(x); ok {
			m[k] = s
		}
	}
}

func scalarString(x any) (string, bool) {
	switch t := x.(type) {
	case int64:
		return strconv.FormatInt(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}
