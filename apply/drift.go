package apply

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/jsonpointer"
)

// FieldDiff is one field that differs between the live object and the
// desired (applied) one.
type FieldDiff struct {
	// Path is the field's JSON pointer ("/spec/replicas").
	Path string
	// Live and Desired are the values; nil when the field is absent. Secret
	// data values are replaced by [Masked].
	Live, Desired any
}

// Masked replaces Secret values in a drift report.
const Masked = "(masked)"

// String returns "path: live -> desired".
func (d FieldDiff) String() string {
	return fmt.Sprintf("%s: %s -> %s", d.Path, show(d.Live), show(d.Desired))
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	return fmt.Sprint(v)
}

// volatile are the fields the server maintains; they are not drift.
var volatile = []string{
	"/metadata/managedFields", "/metadata/resourceVersion", "/metadata/generation",
	"/metadata/creationTimestamp", "/metadata/uid", "/metadata/selfLink", "/status",
}

// Drift compares a live object with the object desired (for example the
// result of a dry-run apply) and returns the fields that differ, sorted by
// path, leaving out the fields the server maintains and those under the
// ignored JSON pointers. Values of a Secret's data and stringData are
// masked.
func Drift(live, desired *unstructured.Unstructured, ignore ...string) []FieldDiff {
	var l, d map[string]any
	if live != nil {
		l = live.Object
	}
	if desired != nil {
		d = desired.Object
	}
	skip := append(slices.Clone(volatile), ignore...)
	var out []FieldDiff
	diffValues("", l, d, skip, &out)
	kind := ""
	if desired != nil {
		kind = desired.GetKind()
	} else if live != nil {
		kind = live.GetKind()
	}
	if kind == "Secret" {
		for i := range out {
			if strings.HasPrefix(out[i].Path, "/data/") || strings.HasPrefix(out[i].Path, "/stringData/") ||
				out[i].Path == "/data" || out[i].Path == "/stringData" {
				out[i].Live, out[i].Desired = mask(out[i].Live), mask(out[i].Desired)
			}
		}
	}
	slices.SortFunc(out, func(a, b FieldDiff) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func mask(v any) any {
	switch m := v.(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]any, len(m))
		for k := range m {
			out[k] = Masked
		}
		return out
	default:
		return Masked
	}
}

func diffValues(path string, a, b any, skip []string, out *[]FieldDiff) {
	if path != "" && ignored(path, skip) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok || (a == nil && bok) || (aok && b == nil) {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			diffValues(path+"/"+jsonpointer.Escape(k), am[k], bm[k], skip, out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffValues(path+"/"+strconv.Itoa(i), al[i], bl[i], skip, out)
		}
		return
	}
	if !equalValues(a, b) {
		*out = append(*out, FieldDiff{Path: path, Live: a, Desired: b})
	}
}

// equalValues compares JSON values, treating integer and float forms of the
// same number as equal.
func equalValues(a, b any) bool {
	if af, ok := number(a); ok {
		bf, ok := number(b)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
