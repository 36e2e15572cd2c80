package main

import (
	"strings"
	"testing"
)

// TestFleetExample runs the example as a reader would and checks the
// roll-up at each step.
func TestFleetExample(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three API servers")
	}
	var out strings.Builder
	code := run(t.Context(), &out)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{
		"Compliant        prod         2",
		"Unreachable      dev          1",
		"dev-1   fleet          Unreachable",
		"Done: every cluster complies with Git.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
