package apply_test

import (
	"testing"

	"github.com/gitopskit/gitopskit/apply"
)

func TestNilChangeSet(t *testing.T) {
	var cs *apply.ChangeSet
	if cs.Count(apply.Created) != 0 || cs.Failures() != nil || cs.Summary() != "no objects" {
		t.Errorf("nil change set: %d %v %q", cs.Count(apply.Created), cs.Failures(), cs.Summary())
	}
}
