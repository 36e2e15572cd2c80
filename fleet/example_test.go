package fleet_test

import (
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/fleet"
)

// The fleet dashboard's query, "summarize count() by complianceState,
// clusterType", over a run's report.
func ExampleReport_Summarize() {
	rep := fleet.Report{Rows: []fleet.Row{
		{Member: "eu-1", Labels: map[string]string{"clusterType": "prod"}, Configuration: "fleet", State: fleet.StateCompliant},
		{Member: "us-1", Labels: map[string]string{"clusterType": "prod"}, Configuration: "fleet", State: fleet.StateNonCompliant,
			Reason: "unit apps-prd NotReady (HealthCheckFailed): kuard: 3/5 replicas ready"},
		{Member: "dev-1", Labels: map[string]string{"clusterType": "dev"}, Configuration: "fleet", State: fleet.StateCompliant},
	}}
	if err := rep.Summarize("complianceState", "clusterType").WriteTable(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// complianceState  clusterType  count_
	// Compliant        dev          1
	// Compliant        prod         1
	// NonCompliant     prod         1
}
