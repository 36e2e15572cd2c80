package reconcile

import (
	"strings"
	"testing"
)

func TestStatusCompliance(t *testing.T) {
	ready := UnitStatus{Name: "infra", Phase: PhaseReady, Reason: ReasonSucceeded}
	tests := []struct {
		name      string
		units     []UnitStatus
		compliant bool
		line      string
	}{
		{"empty configuration is not compliant", nil, false, "non-compliant: 0/0 units ready"},
		{"all ready", []UnitStatus{ready, {Name: "apps", Phase: PhaseReady}}, true, "compliant: 2/2 units ready"},
		{"one pending", []UnitStatus{ready, {Name: "apps", Phase: PhasePending, Reason: ReasonDependencyNotReady}}, false,
			"non-compliant: 1/2 units ready; apps Pending (DependencyNotReady)"},
		{"suspended is not compliant", []UnitStatus{{Name: "x", Phase: PhaseSuspended, Reason: ReasonSuspended}}, false,
			"non-compliant: 0/1 units ready; x Suspended (Suspended)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Status{Units: tt.units}
			if got := s.Compliant(); got != tt.compliant {
				t.Errorf("Compliant() = %v, want %v", got, tt.compliant)
			}
			if got := s.String(); got != tt.line {
				t.Errorf("String() = %q, want %q", got, tt.line)
			}
		})
	}
}

func TestStatusTable(t *testing.T) {
	s := Status{Units: []UnitStatus{
		{Name: "infra", Phase: PhaseReady, LastAppliedRevision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
			Objects: 9, Counts: Counts{Created: 9}},
		{Name: "apps-dev", Phase: PhaseNotReady, Reason: ReasonHealthCheckFailed, DependsOn: []string{"infra"},
			LastAttemptedRevision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
			Message:               "apps/Deployment/apps-dev/kuard:\n  ProgressDeadlineExceeded"},
	}}
	var b strings.Builder
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header and 2 rows, got:\n%s", b.String())
	}
	for _, want := range []string{"infra", "True", "main@sha1:0123456789ab ", "9", "-"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	for _, want := range []string{"apps-dev", "NotReady (HealthCheckFailed)", "infra", "apps/Deployment/apps-dev/kuard: ProgressDeadlineExceeded"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %q", lines[2], want)
		}
	}
}
