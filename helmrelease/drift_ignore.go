package helmrelease

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/internal/jsonpointer"
)

// driftIgnore is a compiled [DriftIgnore].
type driftIgnore struct {
	paths  [][]string // pointers, split and unescaped
	target *build.Matcher
}

// Validate checks the rule: at least one path, each a JSON pointer, and a
// target that compiles.
func (rule DriftIgnore) Validate() error {
	_, err := rule.compile()
	return err
}

func (rule DriftIgnore) compile() (driftIgnore, error) {
	var c driftIgnore
	if len(rule.Paths) == 0 {
		return c, errors.New("no paths")
	}
	for _, p := range rule.Paths {
		tokens, err := jsonpointer.Parse(p)
		if err != nil {
			return c, err
		}
		c.paths = append(c.paths, tokens)
	}
	if rule.Target != nil {
		m, err := rule.Target.Compile()
		if err != nil {
			return c, err
		}
		c.target = m
	}
	return c, nil
}

// compileDriftIgnores checks the rules and compiles them.
func compileDriftIgnores(rules []DriftIgnore) ([]driftIgnore, error) {
	out := make([]driftIgnore, 0, len(rules))
	for i, rule := range rules {
		c, err := rule.compile()
		if err != nil {
			return nil, fmt.Errorf("drift ignore rule %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// ignoredPaths returns the pointers of the rules that select obj.
func ignoredPaths(rules []driftIgnore, obj *unstructured.Unstructured) [][]string {
	var out [][]string
	for _, r := range rules {
		if r.target == nil || r.target.Matches(obj) {
			out = append(out, r.paths...)
		}
	}
	return out
}

// patchOp is one JSON patch (RFC 6902) operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// patchOps returns the JSON patch operations that turn from into to, field
// by field (a list of another length is replaced whole).
func patchOps(prefix string, from, to any, out []patchOp) []patchOp {
	fm, fok := from.(map[string]any)
	tm, tok := to.(map[string]any)
	if fok && tok {
		for _, k := range sortedKeys(fm, tm) {
			p := prefix + "/" + jsonpointer.Escape(k)
			fv, inFrom := fm[k]
			tv, inTo := tm[k]
			switch {
			case !inTo:
				out = append(out, patchOp{Op: "remove", Path: p})
			case !inFrom:
				out = append(out, patchOp{Op: "add", Path: p, Value: tv})
			default:
				out = patchOps(p, fv, tv, out)
			}
		}
		return out
	}
	fl, fok := from.([]any)
	tl, tok := to.([]any)
	if fok && tok && len(fl) == len(tl) {
		for i := range fl {
			out = patchOps(prefix+"/"+strconv.Itoa(i), fl[i], tl[i], out)
		}
		return out
	}
	if !reflect.DeepEqual(from, to) {
		out = append(out, patchOp{Op: "replace", Path: prefix, Value: to})
	}
	return out
}

func sortedKeys(a, b map[string]any) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var keys []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}
