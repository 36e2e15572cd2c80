package reconcile_test

import (
	"github.com/gitopskit/gitopskit/cluster"

	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// The seed scenario: three units in a chain, reconciled once.
func ExampleNew() {
	var cfg *rest.Config                          // from clientcmd, ctrl.GetConfig, or gitopstest in tests
	c, err := cluster.New(cfg, cluster.Options{}) // one per cluster: every unit and stage shares it
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := reconcile.New(c, reconcile.Configuration{
		Name:      "fleet",
		Namespace: "cluster-config",
		Sources: []reconcile.Source{{Name: "fleet", URL: "https://git.example.com/fleet.git",
			Ref: source.Ref{Branch: "main"}}},
		Units: []reconcile.Unit{
			{Name: "infra", Path: "infra", Prune: true, Wait: true},
			{Name: "apps-dev", Path: "apps/dev", DependsOn: []string{"infra"}, Prune: true, Wait: true},
			{Name: "apps-prd", Path: "apps/prd", DependsOn: []string{"apps-dev"}, Prune: true, Wait: true},
		},
	}, reconcile.Options{})
	if err != nil {
		fmt.Println(err) // e.g. a dependency cycle, naming it
		return
	}
	defer r.Close()
	status, err := r.Run(context.Background())
	if err != nil {
		return
	}
	fmt.Println(status) // compliant: 3/3 units ready
}

// Reconcile forever: every unit on its interval, drift put back, changes
// flowing down the dependency chain; stop with the context.
func ExampleReconciler_Start() {
	var r *reconcile.Reconciler // from reconcile.New
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_ = r.Start(ctx)
	_ = r.Status().WriteTable(os.Stdout)
}

// Print what a reconcile would change, without changing anything.
func ExampleReconciler_Plan() {
	var r *reconcile.Reconciler // from reconcile.New
	plan, err := r.Plan(context.Background())
	if err != nil {
		return
	}
	_ = plan.WriteText(os.Stdout)
}

func ExampleStatus_WriteTable() {
	s := reconcile.Status{Units: []reconcile.UnitStatus{
		{Name: "infra", Phase: reconcile.PhaseReady, Objects: 9, Counts: reconcile.Counts{Created: 9},
			LastAppliedRevision: "main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1"},
		{Name: "apps-dev", Phase: reconcile.PhasePending, Reason: reconcile.ReasonDependencyNotReady,
			DependsOn: []string{"infra"}, Message: "dependency infra is NotReady (HealthCheckFailed)"},
	}, Sources: []reconcile.SourceStatus{
		{Name: "fleet", URL: "https://git.example.com/fleet.git", Ready: true,
			Revision: "main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1"},
		{Name: "team-a", URL: "https://git.example.com/team-a.git", DeclaredBy: "infra",
			Message: "source: fetch https://git.example.com/team-a.git branch \"main\": authentication required"},
	}}
	fmt.Println(s)
	_ = s.WriteTable(os.Stdout)
	// Output:
	// non-compliant: 1/2 units ready; apps-dev Pending (DependencyNotReady)
	// UNIT      READY                         REVISION                OBJECTS  CREATED  CONFIGURED  PRUNED  DEPENDS ON  MESSAGE
	// infra     True                          main@sha1:7481fd9bc351  9        9        0           0       -
	// apps-dev  Pending (DependencyNotReady)  -                       0        0        0           0       infra       dependency infra is NotReady (HealthCheckFailed)
	//
	// SOURCE  READY  REVISION                DECLARED BY  URL                                 MESSAGE
	// fleet   True   main@sha1:7481fd9bc351  -            https://git.example.com/fleet.git
	// team-a  False  -                       infra        https://git.example.com/team-a.git  source: fetch https://git.example.com/team-a.git branch "main": authentication required
}
