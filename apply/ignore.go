package apply

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// IgnoreRule names fields that another controller manages (a replica count
// an autoscaler sets, a caBundle a webhook injects). The fields are removed
// from the applied manifest, so apply neither sets nor owns them, and left
// out of the drift report.
type IgnoreRule struct {
	// Paths are JSON pointers (RFC 6901), such as "/spec/replicas" or
	// "/spec/template/spec/containers/0/image".
	Paths []string
	// Target selects the objects the rule applies to; nil selects all.
	Target *Selector
}

// Selector selects objects by identity and labels. Empty fields match
// anything.
type Selector struct {
	Group, Version, Kind, Namespace, Name string
	// LabelSelector is a label selector ("app=web,tier!=db").
	LabelSelector string
}

// matches reports whether the selector selects obj.
func (s *Selector) matches(obj *unstructured.Unstructured) (bool, error) {
	if s == nil {
		return true, nil
	}
	gvk := obj.GroupVersionKind()
	for _, f := range [][2]string{{s.Group, gvk.Group}, {s.Version, gvk.Version}, {s.Kind, gvk.Kind},
		{s.Namespace, obj.GetNamespace()}, {s.Name, obj.GetName()}} {
		if f[0] != "" && f[0] != f[1] {
			return false, nil
		}
	}
	if s.LabelSelector == "" {
		return true, nil
	}
	sel, err := labels.Parse(s.LabelSelector)
	if err != nil {
		return false, fmt.Errorf("ignore rule: label selector %q: %w", s.LabelSelector, err)
	}
	return sel.Matches(labels.Set(obj.GetLabels())), nil
}

// parsePointer splits a JSON pointer into unescaped segments.
func parsePointer(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("ignore rule: %q is not a JSON pointer (it must start with /)", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// ignoredPaths returns the pointers of the rules that select obj.
func ignoredPaths(rules []IgnoreRule, obj *unstructured.Unstructured) ([]string, error) {
	var out []string
	for _, r := range rules {
		ok, err := r.Target.matches(obj)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r.Paths...)
		}
	}
	return out, nil
}

// removePointer deletes the field the pointer names from obj, if present.
func removePointer(obj map[string]any, pointer string) error {
	segs, err := parsePointer(pointer)
	if err != nil {
		return err
	}
	var cur any = obj
	for i, seg := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				delete(c, seg)
				return nil
			}
			cur = c[seg]
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				return nil
			}
			if last {
				// Removing a list element would shift the others: leave
				// lists to pointers into their elements.
				return nil
			}
			cur = c[n]
		default:
			return nil
		}
	}
	return nil
}

// ignored reports whether path (a JSON pointer) is, or is under, one of the
// ignored pointers.
func ignored(path string, pointers []string) bool {
	for _, p := range pointers {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
