package health

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/gitopskit/gitopskit/internal/object"
)

// Status is the readiness of an object, in kstatus' terms.
type Status string

const (
	// Current: the object is ready (its controller reached the desired
	// state).
	Current Status = "Current"
	// InProgress: the object is on its way.
	InProgress Status = "InProgress"
	// Failed: the object will not get ready without a change (a Deployment
	// past its progress deadline, a failed Job, a failed CEL check).
	Failed Status = "Failed"
	// Terminating: the object is being deleted.
	Terminating Status = "Terminating"
	// NotFound: the object does not exist.
	NotFound Status = "NotFound"
	// Unknown: the status could not be computed.
	Unknown Status = "Unknown"
)

// ID identifies an object: group, kind, namespace and name.
type ID = object.Key

// ObjectStatus is the readiness of one object and why.
type ObjectStatus struct {
	Object  ID
	Status  Status
	Message string
}

// String returns "group/Kind/namespace/name: Status: message".
func (s ObjectStatus) String() string {
	if s.Message == "" {
		return fmt.Sprintf("%s: %s", s.Object, s.Status)
	}
	return fmt.Sprintf("%s: %s: %s", s.Object, s.Status, s.Message)
}

// Checks computes the readiness of objects: with a [CELCheck] for the kinds
// that have one, with kstatus for the others. It is safe for concurrent use.
type Checks struct {
	byKind map[schemaGroupKind]*compiledCheck
}

// NewChecks compiles the CEL checks. An expression that does not compile, or
// two checks for one kind, give a [*CheckError].
func NewChecks(checks ...CELCheck) (*Checks, error) {
	c := &Checks{byKind: map[schemaGroupKind]*compiledCheck{}}
	for _, chk := range checks {
		cc, err := compile(chk)
		if err != nil {
			return nil, err
		}
		if _, dup := c.byKind[cc.gk]; dup {
			return nil, &CheckError{Check: chk, Err: fmt.Errorf("a check for %s is defined twice", cc.gk)}
		}
		c.byKind[cc.gk] = cc
	}
	return c, nil
}

// Status computes the readiness of obj. It makes no request.
func (c *Checks) Status(obj *unstructured.Unstructured) ObjectStatus {
	st := ObjectStatus{Object: object.KeyOf(obj)}
	if obj.GetDeletionTimestamp() != nil {
		st.Status, st.Message = Terminating, "being deleted"
		return st
	}
	if c != nil {
		if cc, ok := c.byKind[gkOf(obj)]; ok {
			st.Status, st.Message = cc.evaluate(obj)
			return st
		}
	}
	res, err := status.Compute(obj)
	if err != nil {
		st.Status, st.Message = Unknown, err.Error()
		return st
	}
	st.Status, st.Message = Status(res.Status), res.Message
	for _, cond := range res.Conditions {
		if cond.Type == status.ConditionStalled && cond.Message != "" {
			st.Message += ": " + cond.Message
		}
	}
	return st
}
