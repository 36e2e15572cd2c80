package reconcile_test

import (
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"

	"context"
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// The examples that reconcile use the package's shared test cluster and a
// Git server on 127.0.0.1; in a program cfg comes from your kubeconfig and
// the URL names your repository.

// exampleConfiguration serves a repository whose "app" directory holds a
// Namespace and a ConfigMap in it, and returns the configuration name
// reconciling that directory as unit "app". The caller closes the server.
func exampleConfiguration(ctx context.Context, name string) (*gitserver.Server, reconcile.Configuration, error) {
	srv, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		return nil, reconcile.Configuration{}, err
	}
	repo, err := srv.CreateRepo(ctx, "fleet")
	if err == nil {
		_, err = repo.Commit(ctx, gitserver.CommitOptions{Files: map[string]string{
			"app/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n",
			"app/settings.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: " + name + "\ndata:\n  color: blue\n",
		}})
	}
	if err != nil {
		srv.Close()
		return nil, reconcile.Configuration{}, err
	}
	return srv, reconcile.Configuration{
		Name:    name,
		Sources: []reconcile.Source{{Name: "fleet", URL: repo.HTTPURL(), Ref: source.Ref{Branch: "main"}}},
		Units:   []reconcile.Unit{{Name: "app", Path: "app", Prune: true, Wait: true}},
	}, nil
}

// Reconcile every unit once and report compliance.
func ExampleReconciler_Run() {
	ctx := context.Background()
	srv, conf, err := exampleConfiguration(ctx, "example-run")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	r, err := reconcile.New(exampleCluster(), conf, reconcile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	status, err := r.Run(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(status)
	// Output: compliant: 1/1 units ready
}

// The compliance state as of the last reconcile, e.g. for a status endpoint
// while Start runs.
func ExampleReconciler_Status() {
	ctx := context.Background()
	srv, conf, err := exampleConfiguration(ctx, gitopstest.UniqueName("example-status")) // created anew each run
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	r, err := reconcile.New(exampleCluster(), conf, reconcile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println("before:", r.Status())
	if _, err := r.Run(ctx); err != nil {
		fmt.Println(err)
		return
	}

	app, _ := r.Status().Unit("app")
	fmt.Println("after:", app.Phase, app.Objects, app.Counts)
	// Output:
	// before: non-compliant: 0/1 units ready; app Pending (NotReconciledYet)
	// after: Ready 2 2 created, 0 configured, 0 unchanged, 0 pruned, 0 skipped
}

// Close removes the temporary caches of a Reconciler that is no longer
// needed; objects in the cluster stay.
func ExampleReconciler_Close() {
	ctx := context.Background()
	srv, conf, err := exampleConfiguration(ctx, "example-close")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	r, err := reconcile.New(exampleCluster(), conf, reconcile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	status, _ := r.Run(ctx)
	fmt.Println(status.Compliant(), r.Close())
	// Output: true <nil>
}

// What a reconcile did to a unit's objects, in a few words.
func ExampleCounts_String() {
	fmt.Println(reconcile.Counts{Created: 2, Configured: 1, Unchanged: 7})
	fmt.Println(reconcile.Counts{Deleted: 1})
	// Output:
	// 2 created, 1 configured, 7 unchanged, 0 pruned, 0 skipped
	// 0 created, 0 configured, 0 unchanged, 1 pruned, 0 skipped
}

// Print a plan: per unit, what would be created, changed and deleted.
func ExamplePlan_WriteText() {
	plan := reconcile.Plan{Units: []reconcile.UnitPlan{{
		Name:     "apps",
		Revision: "main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1",
		Apply: &apply.ChangeSet{DryRun: true, Changes: []apply.Change{
			{Object: inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "new"}, Action: apply.Created},
			{Object: inventory.Entry{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}, Action: apply.Configured,
				Drift: []apply.FieldDiff{{Path: "/spec/replicas", Live: int64(5), Desired: int64(3)}}},
			{Object: inventory.Entry{Version: "v1", Kind: "Service", Namespace: "shop", Name: "web"}, Action: apply.Unchanged},
		}},
		Prune: &apply.ChangeSet{DryRun: true, Changes: []apply.Change{
			{Object: inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "old"}, Action: apply.Deleted},
		}},
	}}}
	if err := plan.WriteText(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// apps @ main@sha1:7481fd9bc3510ca8b6e4c2b8d3bbb1f7c1d6d5e1
	//   create core/ConfigMap/shop/new
	//   update apps/Deployment/shop/web
	//       /spec/replicas: 5 -> 3
	//   delete core/ConfigMap/shop/old
}

// A configuration is compliant when every unit is Ready.
func ExampleStatus_Compliant() {
	s := reconcile.Status{Units: []reconcile.UnitStatus{
		{Name: "infra", Phase: reconcile.PhaseReady},
		{Name: "apps", Phase: reconcile.PhaseNotReady, Reason: reconcile.ReasonHealthCheckFailed},
	}}
	fmt.Println(s.Compliant())
	s.Units[1].Phase, s.Units[1].Reason = reconcile.PhaseReady, ""
	fmt.Println(s.Compliant())
	// Output:
	// false
	// true
}

// The one-line summary, for logs and exit messages.
func ExampleStatus_String() {
	s := reconcile.Status{Units: []reconcile.UnitStatus{
		{Name: "infra", Phase: reconcile.PhaseReady},
		{Name: "apps-dev", Phase: reconcile.PhaseNotReady, Reason: reconcile.ReasonHealthCheckFailed},
		{Name: "apps-prd", Phase: reconcile.PhasePending, Reason: reconcile.ReasonDependencyNotReady},
	}}
	fmt.Println(s.String())
	// Output: non-compliant: 1/3 units ready; apps-dev NotReady (HealthCheckFailed), apps-prd Pending (DependencyNotReady)
}

// Look one unit up by name.
func ExampleStatus_Unit() {
	s := reconcile.Status{Units: []reconcile.UnitStatus{
		{Name: "infra", Phase: reconcile.PhaseReady, Objects: 9},
		{Name: "apps", Phase: reconcile.PhasePending, Reason: reconcile.ReasonDependencyNotReady},
	}}
	u, ok := s.Unit("infra")
	fmt.Println(u.Phase, u.Objects, ok)
	_, ok = s.Unit("monitoring")
	fmt.Println(ok)
	// Output:
	// Ready 9 true
	// false
}

// A unit is compliant when it is Ready; Pending and NotReady units are not.
func ExampleUnitStatus_Compliant() {
	for _, u := range []reconcile.UnitStatus{
		{Name: "infra", Phase: reconcile.PhaseReady},
		{Name: "apps", Phase: reconcile.PhasePending, Reason: reconcile.ReasonDependencyNotReady},
	} {
		fmt.Println(u.Name, u.Compliant())
	}
	// Output:
	// infra true
	// apps false
}

// exampleCluster is the handle of the package's test cluster; in a program,
// cluster.New(restConfig, cluster.Options{}).
func exampleCluster() *cluster.Cluster {
	lc, err := shared.Start(context.Background()) // with -short, TestMain skips the Examples that call this
	if err != nil {
		panic(err)
	}
	c, err := cluster.New(lc.Config, cluster.Options{})
	if err != nil {
		panic(err) // a test helper: the config is known good
	}
	return c
}
