package apply

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitopskit/gitopskit/internal/jsonpointer"
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

// removePointer deletes the field the pointer names from obj, if present
// (a pointer to a list element is left alone).
func removePointer(obj map[string]any, pointer string) error {
	tokens, err := jsonpointer.Parse(pointer)
	if err != nil {
		return fmt.Errorf("ignore rule: %w", err)
	}
	jsonpointer.Remove(obj, tokens)
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
