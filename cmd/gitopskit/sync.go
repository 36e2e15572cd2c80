package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitopskit/gitopskit/reconcile"
)

type syncFlags struct {
	config   configFlags
	watch    bool
	interval time.Duration
	quiet    bool
}

func newSyncCommand(e *env, g *globalFlags) *cobra.Command {
	f := &syncFlags{}
	cmd := &cobra.Command{
		Use:   "sync [-f FILE | --url URL ...]",
		Short: "Reconcile a configuration once, or in a loop, and report its compliance",
		Long: `sync fetches each unit's revision, builds it, applies it with server-side apply, prunes
what left Git, waits for health when asked, and records what it did in the configuration's
namespace, units in dependency order. Progress goes to stderr, one line per event; the
compliance table (or json/yaml) goes to stdout.

Once (the default), the exit code says whether every unit is compliant (0) or not (3).
With --watch every unit is reconciled on its own interval (--interval sets them all),
drift is put back, failed units are retried, until Ctrl-C or SIGTERM: then the last
status is printed and the exit code is 0.

Sources' credentials are read from the cluster's Secrets, or with --secrets-dir from
files; the ConfigMaps and Secrets of substituteFrom and valuesFrom from the cluster,
each time their unit runs.`,
		Example: `  # Flux objects: GitRepository, Kustomization, HelmRelease..., in any namespaces.
  gitopskit sync -f clusters/prod/flux-system/gotk-sync.yaml

  # The same as a multi-tenant platform runs Flux: no cross-namespace
  # references, tenants act as their own service account.
  gitopskit sync -f tenants.yaml --no-cross-namespace-refs --default-service-account=reconciler

  # Keep reconciling, every unit every minute, credentials from mounted files.
  gitopskit sync -f fleet.yaml --secrets-dir /etc/gitopskit/secrets --interval 1m

  # One path of one repository, given by flags.
  gitopskit sync --url https://github.com/org/fleet.git --branch main --path ./apps \
    --target-namespace apps --prune --wait --timeout 3m

  # The result as JSON for a script.
  gitopskit sync -f fleet.yaml -o json -q`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.config.validate(cmd); err != nil {
				return err
			}
			if cmd.Flags().Changed("interval") {
				if f.interval <= 0 {
					return usagef("--interval %s: want a positive duration", f.interval)
				}
				f.watch = true
			}
			return runSync(cmd.Context(), e, g, f)
		},
	}
	fs := cmd.Flags()
	f.config.addFlags(fs)
	fs.BoolVarP(&f.watch, "watch", "w", false, "reconcile every unit on its interval until interrupted")
	fs.DurationVar(&f.interval, "interval", 0, "with --watch (implied): reconcile every unit at this interval instead of its own")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "do not print events")
	return cmd
}

func runSync(ctx context.Context, e *env, g *globalFlags, f *syncFlags) error {
	kc, err := g.kube.clusterHandle()
	if err != nil {
		return failure(err)
	}
	conf, err := f.config.load(ctx, e.stdin, clusterData(kc.Kubernetes()))
	if err != nil {
		return failure(err)
	}
	if f.interval > 0 {
		for i := range conf.Units {
			conf.Units[i].Interval = f.interval
		}
	}
	opts := reconcile.Options{}
	if !f.quiet {
		opts.OnEvent = (&events{w: e.stderr, p: painter(e.colour(e.stderr))}).handle
	}
	r, err := reconcile.New(kc, conf, opts)
	if err != nil {
		return failure(err)
	}
	defer r.Close()
	namespace := conf.Namespace
	if namespace == "" {
		namespace = reconcile.DefaultNamespace
	}
	report := func(s reconcile.Status) error {
		if err := writeStatus(e.stdout, g.output, painter(e.colour(e.stdout)), time.Now(), conf.Name, namespace, s, true); err != nil {
			return failure(err)
		}
		return nil
	}

	if f.watch {
		if !f.quiet {
			fmt.Fprintf(e.stderr, "reconciling %d unit(s) of %s until interrupted\n", len(conf.Units), conf.Name)
		}
		if err := r.Start(ctx); err != nil {
			return failure(err)
		}
		return report(r.Status()) // stopped on request
	}
	s, err := r.Run(ctx)
	if err != nil {
		return failure(fmt.Errorf("sync interrupted: %w", err))
	}
	if err := report(s); err != nil {
		return err
	}
	if !s.Compliant() {
		return &exitErr{code: exitNotCompliant}
	}
	return nil
}
