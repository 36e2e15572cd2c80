package build

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Matcher is a compiled [Selector].
type Matcher struct {
	group, version, kind, namespace, name *regexp.Regexp
	labels, annotations                   labels.Selector
}

// Compile checks the selector and returns its matcher. As kustomize's
// selectors (and Flux's, which are kustomize's), Group, Version, Kind,
// Namespace and Name are regular expressions anchored at both ends (a
// plain name matches itself), and LabelSelector and AnnotationSelector are
// label selectors ("app=web,tier!=db").
func (s Selector) Compile() (*Matcher, error) {
	m := &Matcher{}
	for _, f := range []struct {
		name, expr string
		re         **regexp.Regexp
	}{
		{"group", s.Group, &m.group}, {"version", s.Version, &m.version}, {"kind", s.Kind, &m.kind},
		{"namespace", s.Namespace, &m.namespace}, {"name", s.Name, &m.name},
	} {
		if f.expr == "" {
			continue
		}
		re, err := regexp.Compile("^(?:" + f.expr + ")$")
		if err != nil {
			return nil, fmt.Errorf("%w: selector %s %q: %w", ErrInvalidSelector, f.name, f.expr, err)
		}
		*f.re = re
	}
	var err error
	if s.LabelSelector != "" {
		if m.labels, err = labels.Parse(s.LabelSelector); err != nil {
			return nil, fmt.Errorf("%w: selector labelSelector %q: %w", ErrInvalidSelector, s.LabelSelector, err)
		}
	}
	if s.AnnotationSelector != "" {
		if m.annotations, err = labels.Parse(s.AnnotationSelector); err != nil {
			return nil, fmt.Errorf("%w: selector annotationSelector %q: %w", ErrInvalidSelector, s.AnnotationSelector, err)
		}
	}
	return m, nil
}

// Matches reports whether obj is selected.
func (m *Matcher) Matches(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	for _, f := range []struct {
		re *regexp.Regexp
		v  string
	}{{m.group, gvk.Group}, {m.version, gvk.Version}, {m.kind, gvk.Kind}, {m.namespace, obj.GetNamespace()}, {m.name, obj.GetName()}} {
		if f.re != nil && !f.re.MatchString(f.v) {
			return false
		}
	}
	if m.labels != nil && !m.labels.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	return m.annotations == nil || m.annotations.Matches(labels.Set(obj.GetAnnotations()))
}
