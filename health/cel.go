package health

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type schemaGroupKind = schema.GroupKind

func gkOf(obj *unstructured.Unstructured) schema.GroupKind { return obj.GroupVersionKind().GroupKind() }

// CELCheck computes the readiness of a kind of custom resource with CEL
// expressions, like Flux's healthCheckExprs. Each expression returns a bool
// and sees the object's top-level fields as variables (apiVersion, kind,
// metadata, spec, status; absent ones are empty maps) and the whole object
// as self.
//
// The expressions are evaluated in the order InProgress, Failed, Current;
// the first that is true gives the status. When none is, the object is in
// progress. An expression that fails at run time (for example a missing
// field read without has()) counts as false.
type CELCheck struct {
	// APIVersion ("example.com/v1") and Kind select the objects; any
	// version of the group matches.
	APIVersion, Kind string
	// Current is required: true when the object is ready.
	Current string
	// InProgress, optional: true while the object is on its way.
	InProgress string
	// Failed, optional: true when the object failed.
	Failed string
}

// CheckError says a [CELCheck] is not valid.
type CheckError struct {
	Check CELCheck
	Err   error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("health check for %s %s: %v", e.Check.APIVersion, e.Check.Kind, e.Err)
}

// Unwrap returns the compile error.
func (e *CheckError) Unwrap() error { return e.Err }

// celVariables are the variables an expression sees.
var celVariables = []string{"self", "apiVersion", "kind", "metadata", "spec", "status"}

type compiledCheck struct {
	check                       CELCheck
	gk                          schema.GroupKind
	current, inProgress, failed cel.Program
}

func compile(c CELCheck) (*compiledCheck, error) {
	gv, err := schema.ParseGroupVersion(c.APIVersion)
	if err != nil || c.Kind == "" {
		return nil, &CheckError{Check: c, Err: fmt.Errorf("apiVersion %q and kind %q do not name a kind", c.APIVersion, c.Kind)}
	}
	if c.Current == "" {
		return nil, &CheckError{Check: c, Err: fmt.Errorf("the current expression is required")}
	}
	opts := make([]cel.EnvOption, 0, len(celVariables))
	for _, v := range celVariables {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, &CheckError{Check: c, Err: err}
	}
	cc := &compiledCheck{check: c, gk: schema.GroupKind{Group: gv.Group, Kind: c.Kind}}
	for _, e := range []struct {
		name string
		src  string
		dst  *cel.Program
	}{{"current", c.Current, &cc.current}, {"inProgress", c.InProgress, &cc.inProgress}, {"failed", c.Failed, &cc.failed}} {
		if e.src == "" {
			continue
		}
		ast, iss := env.Compile(e.src)
		if iss.Err() != nil {
			return nil, &CheckError{Check: c, Err: fmt.Errorf("%s: %w", e.name, iss.Err())}
		}
		if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
			return nil, &CheckError{Check: c, Err: fmt.Errorf("%s: returns %s, want bool", e.name, t)}
		}
		if *e.dst, err = env.Program(ast); err != nil {
			return nil, &CheckError{Check: c, Err: fmt.Errorf("%s: %w", e.name, err)}
		}
	}
	return cc, nil
}

// evaluate returns the status and a message naming the expression that
// decided it.
func (cc *compiledCheck) evaluate(obj *unstructured.Unstructured) (Status, string) {
	vars := map[string]any{"self": obj.Object}
	for _, v := range celVariables[1:] {
		if val, ok := obj.Object[v]; ok {
			vars[v] = val
		} else {
			vars[v] = map[string]any{}
		}
	}
	var errs []string
	for _, e := range []struct {
		prg    cel.Program
		status Status
		src    string
	}{{cc.inProgress, InProgress, cc.check.InProgress}, {cc.failed, Failed, cc.check.Failed}, {cc.current, Current, cc.check.Current}} {
		if e.prg == nil {
			continue
		}
		out, _, err := e.prg.Eval(vars)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", e.src, err))
			continue
		}
		if b, ok := out.Value().(bool); ok && b {
			return e.status, "health check: " + e.src
		}
	}
	if len(errs) > 0 {
		return InProgress, fmt.Sprintf("health check: no expression is true (%v)", errs)
	}
	return InProgress, "health check: no expression is true"
}
