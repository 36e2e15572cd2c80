package reconcile

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/object"
)

// RenderDiff is what changes between two renderings of a configuration
// (two revisions of a repository, say), unit by unit: the answer to "what
// will this pull request change?". It names objects and field paths, never
// values, so Secret data stays out of it.
type RenderDiff struct {
	// Units that differ, in the new rendering's order, then the removed
	// ones.
	Units []UnitDiff
}

// UnitDiff is how one unit's rendering changes.
type UnitDiff struct {
	Name string
	// Change is "added", "removed" or "changed".
	Change string
	// Added and Removed are object keys ("group/Kind/namespace/name").
	Added, Removed []string
	// Changed are the objects in both with different fields.
	Changed []ObjectDiff
	// Chart says how a Helm unit's chart changed ("prometheus 25.8.0 ->
	// 25.9.0"), if it did.
	Chart string
	// Err is the new rendering's error for the unit, if any.
	Err error
}

// ObjectDiff names the fields of an object that differ, as paths such as
// "spec.replicas" or "spec.template.spec.containers[0].image".
type ObjectDiff struct {
	Object string
	Paths  []string
}

// Empty reports whether nothing changes.
func (d RenderDiff) Empty() bool { return len(d.Units) == 0 }

// DiffRenderings compares two renderings of a configuration.
func DiffRenderings(old, new *Rendering) RenderDiff {
	var d RenderDiff
	before := map[string]RenderedUnit{}
	for _, u := range old.Units {
		before[u.Name] = u
	}
	seen := map[string]bool{}
	for _, u := range new.Units {
		seen[u.Name] = true
		o, ok := before[u.Name]
		if !ok {
			ud := UnitDiff{Name: u.Name, Change: "added", Err: u.Err, Chart: chartOf(u)}
			for _, obj := range u.Objects {
				ud.Added = append(ud.Added, object.KeyOf(obj).String())
			}
			d.Units = append(d.Units, ud)
			continue
		}
		if ud, changed := diffUnit(o, u); changed {
			d.Units = append(d.Units, ud)
		}
	}
	for _, u := range old.Units {
		if seen[u.Name] {
			continue
		}
		ud := UnitDiff{Name: u.Name, Change: "removed"}
		for _, obj := range u.Objects {
			ud.Removed = append(ud.Removed, object.KeyOf(obj).String())
		}
		d.Units = append(d.Units, ud)
	}
	return d
}

func chartOf(u RenderedUnit) string {
	if u.Chart == nil {
		return ""
	}
	return u.Chart.Name + " " + u.Chart.Version
}

func diffUnit(old, new RenderedUnit) (UnitDiff, bool) {
	ud := UnitDiff{Name: new.Name, Change: "changed", Err: new.Err}
	if a, b := chartOf(old), chartOf(new); a != b {
		ud.Chart = a + " -> " + b
	}
	byKey := func(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
		m := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			m[object.KeyOf(o).String()] = o
		}
		return m
	}
	a, b := byKey(old.Objects), byKey(new.Objects)
	for _, k := range slices.Sorted(maps.Keys(b)) {
		o, ok := a[k]
		if !ok {
			ud.Added = append(ud.Added, k)
			continue
		}
		if paths := fieldDiff("", o.Object, b[k].Object, nil); len(paths) > 0 {
			ud.Changed = append(ud.Changed, ObjectDiff{Object: k, Paths: paths})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if _, ok := b[k]; !ok {
			ud.Removed = append(ud.Removed, k)
		}
	}
	changed := ud.Chart != "" || len(ud.Added)+len(ud.Removed)+len(ud.Changed) > 0 ||
		(old.Err == nil) != (new.Err == nil)
	return ud, changed
}

// fieldDiff appends the paths where a and b differ.
func fieldDiff(path string, a, b any, out []string) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return append(out, orRoot(path))
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			out = fieldDiff(joinPath(path, k), av[k], bv[k], out)
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return append(out, orRoot(path))
		}
		for i := range av {
			out = fieldDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], out)
		}
		return out
	default:
		if !reflect.DeepEqual(a, b) {
			out = append(out, orRoot(path))
		}
		return out
	}
}

func orRoot(path string) string {
	if path == "" {
		return "(the whole object)"
	}
	return path
}

// WriteText writes the diff for humans and pull request comments.
func (d RenderDiff) WriteText(w io.Writer) error {
	var b strings.Builder
	if d.Empty() {
		b.WriteString("no changes\n")
	}
	for _, u := range d.Units {
		fmt.Fprintf(&b, "%s (%s)\n", u.Name, u.Change)
		if u.Chart != "" {
			fmt.Fprintf(&b, "  chart %s\n", u.Chart)
		}
		if u.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", u.Err)
		}
		for _, k := range u.Added {
			fmt.Fprintf(&b, "  + %s\n", k)
		}
		for _, c := range u.Changed {
			fmt.Fprintf(&b, "  ~ %s\n", c.Object)
			for _, p := range c.Paths {
				fmt.Fprintf(&b, "      %s\n", p)
			}
		}
		for _, k := range u.Removed {
			fmt.Fprintf(&b, "  - %s\n", k)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
