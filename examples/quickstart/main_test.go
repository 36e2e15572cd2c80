package main

import (
	"strings"
	"testing"
)

// TestQuickstart runs the quickstart as a newcomer would, on its embedded
// simulated cluster, and checks it ends compliant with the change applied.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated cluster")
	}
	var out strings.Builder
	code := run(t.Context(), nil, &out)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{
		"nodes are simulated",
		"Loaded clusters/prod/fleet.yaml: 1 source(s), 3 Kustomization(s) in namespace cluster-config.",
		"its build declares 1 Flux unit(s)",
		"monitoring/prometheus (Helm release of chart prometheus 25.8.0): 1/1 replicas ready.",
		"apps-prd/kuard: 5/5 replicas ready.",
		"Team b's configuration (clusters/team-b, limited to namespace team-b): compliant: 1/1 units ready",
		"Team b pushed a ConfigMap into kube-system: refused, nothing applied (PolicyViolation).",
		"Reverted: team b is compliant again.",
		"update apps/Deployment/apps-prd/kuard",
		"delete policy/PodDisruptionBudget/apps-prd/kuard",
		"apps-dev/kuard is back to 1 replica(s)",
		"Done: the cluster complies with Git.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
