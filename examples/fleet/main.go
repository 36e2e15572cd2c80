// Command fleet reconciles the seed scenario's configuration onto a fleet
// of three embedded clusters (two "prod", one "dev") from one process,
// then asks the question a fleet dashboard asks:
//
//	summarize count() by complianceState, clusterType
//
// as a gitopskit call. One cluster's API server is stopped before a second
// run, to show a failing member in the roll-up while the others converge.
//
//	go run ./examples/fleet
//
// It exits 0 when the last run is compliant everywhere.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/fleet"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/internal/demo"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Stdout))
}

func run(ctx context.Context, out io.Writer) int {
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	fail := func(err error) int { say("error: %v", err); return 1 }

	git, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		return fail(err)
	}
	defer git.Close()
	repo, err := git.CreateRepo(ctx, "fleet")
	if err != nil {
		return fail(err)
	}
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Files: demo.Files(), Message: "infra and apps"}); err != nil {
		return fail(err)
	}
	conf := reconcile.Configuration{Name: "fleet", Namespace: "cluster-config",
		Sources: []reconcile.Source{{Name: "fleet", URL: repo.HTTPURL(), Ref: source.Ref{Branch: "main"}}}}
	for _, u := range demo.Units() {
		// Bare API servers run no Pods: apply, prune and record, no waits.
		conf.Units = append(conf.Units, reconcile.Unit{Name: u.Name, Path: u.Path, DependsOn: u.DependsOn, Prune: true, Timeout: time.Minute})
	}

	say("Starting three embedded API servers (the first run builds them from the Go module proxy: ~20 minutes).")
	var clusters []*localcluster.Cluster
	var members []fleet.Member
	for _, m := range []struct{ name, typ string }{{"eu-1", "prod"}, {"us-1", "prod"}, {"dev-1", "dev"}} {
		lc, err := localcluster.Start(ctx, localcluster.Options{})
		if err != nil {
			return fail(err)
		}
		defer lc.Stop()
		clusters = append(clusters, lc)
		c, err := cluster.New(lc.Config, cluster.Options{})
		if err != nil {
			return fail(err)
		}
		members = append(members, fleet.Member{Name: m.name, Labels: map[string]string{"clusterType": m.typ}, Cluster: c})
		say("  %s (%s) at %s", m.name, m.typ, lc.Host())
	}
	f, err := fleet.New(members, []reconcile.Configuration{conf}, fleet.Options{ProbeTimeout: 3 * time.Second})
	if err != nil {
		return fail(err)
	}
	defer f.Close()

	report := func(title string) (fleet.Report, error) {
		say("\n%s", title)
		rep, err := f.Run(ctx)
		if err != nil {
			return rep, err
		}
		_ = rep.WriteTable(out)
		say("\nsummarize count() by complianceState, clusterType:")
		_ = rep.Summarize("complianceState", "clusterType").WriteTable(out)
		return rep, nil
	}
	if _, err := report("Reconciling the configuration onto the fleet:"); err != nil {
		return fail(err)
	}
	if err := clusters[2].StopAPIServer(); err != nil {
		return fail(err)
	}
	if _, err := report("dev-1's API server is down; reconciling again:"); err != nil {
		return fail(err)
	}
	if err := clusters[2].StartAPIServer(ctx); err != nil {
		return fail(err)
	}
	rep, err := report("dev-1 is back:")
	if err != nil {
		return fail(err)
	}
	if !rep.Compliant() {
		return fail(fmt.Errorf("the fleet is not compliant"))
	}
	say("\nDone: every cluster complies with Git.")
	return 0
}
