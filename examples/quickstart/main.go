// Command quickstart runs the gitopskit seed scenario end to end, as a
// company's Flux repository holds it: infra/ installs Prometheus with a
// HelmRepository and a HelmRelease (from a chart repository on loopback),
// apps/ has kuard with dev and prd overlays, and clusters/prod/fleet.yaml
// is the configuration: a GitRepository and three Kustomizations, infra ->
// apps-dev -> apps-prd. gitopskit reconciles it in process, with no Flux
// installed, on a local simulated cluster; a second team's configuration
// runs limited to its namespace (its push into kube-system is refused);
// then a change is pushed to Git.
//
//	go run ./examples/quickstart                 # embedded simulated cluster
//	go run ./examples/quickstart -kubeconfig FILE # an existing cluster
//
// It exits 0 only when the configuration is compliant at the end.
package main

import (
	"github.com/gitopskit/gitopskit/cluster"

	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/internal/demo"
	"github.com/gitopskit/gitopskit/reconcile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout))
}

func run(ctx context.Context, args []string, out io.Writer) int {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "use this cluster instead of starting an embedded one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	fail := func(err error) int { say("error: %v", err); return 1 }

	// 1. A cluster.
	var cfg *rest.Config
	if *kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			return fail(err)
		}
		cfg = c
		say("Using the existing cluster of %s (%s).", *kubeconfig, cfg.Host)
	} else {
		say("Starting an embedded simulated cluster: etcd, kube-apiserver, kube-controller-manager,")
		say("kube-scheduler and 3 kwok fake nodes (nodes are simulated: Pods are scheduled and become")
		say("Ready, but no container runs). The first run builds these binaries from the Go module proxy")
		say("and caches them in ~/.cache/gitopskit: about 20 minutes on 2 cores; later runs take seconds.")
		cluster, err := localcluster.Start(ctx, localcluster.Options{Simulated: true, Log: prefixWriter{out, "  | "}})
		if err != nil {
			return fail(err)
		}
		defer cluster.Stop()
		cfg = cluster.Config
		say("Cluster ready at %s (kubeconfig: %s).", cluster.Host(), cluster.KubeconfigPath())
	}

	// 2. A chart repository with the prometheus chart, and a Git server
	// with the Flux repository.
	charts, err := chartrepo.StartRepo(ctx, chartrepo.RepoOptions{})
	if err != nil {
		return fail(err)
	}
	defer charts.Close()
	if err := charts.AddChart(demo.PrometheusChart()); err != nil {
		return fail(err)
	}
	git, err := gitserver.Start(ctx, gitserver.Options{})
	if err != nil {
		return fail(err)
	}
	defer git.Close()
	repo, err := git.CreateRepo(ctx, "fleet")
	if err != nil {
		return fail(err)
	}
	files := demo.FluxFiles(repo.HTTPURL(), charts.URL())
	sha, err := repo.Commit(ctx, gitserver.CommitOptions{Files: files, Message: "infra and apps"})
	if err != nil {
		return fail(err)
	}
	say("\nServing the Flux repository at %s (commit %s) and the prometheus chart at %s.", repo.HTTPURL(), sha[:12], charts.URL())

	// 3. The configuration: the repository's own Flux objects. The
	// HelmRelease in infra/ becomes a unit when infra builds.
	conf, err := reconcile.LoadFlux(ctx, []byte(files["clusters/prod/fleet.yaml"]), reconcile.FluxOptions{Name: "fleet"})
	if err != nil {
		return fail(err)
	}
	say("Loaded clusters/prod/fleet.yaml: %d source(s), %d Kustomization(s) in namespace %s.", len(conf.Sources), len(conf.Units), conf.Namespace)
	kc, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		return fail(err)
	}
	r, err := reconcile.New(kc, conf, reconcile.Options{OnEvent: func(e reconcile.Event) {
		if e.Type == reconcile.EventDone || e.Type == reconcile.EventObject {
			return // the status table says it; per-object events are for tools
		}
		if e.Err != nil {
			say("  [%-8s] %-6s failed: %v", e.Unit, e.Stage, e.Err)
			return
		}
		say("  [%-8s] %-6s %s", e.Unit, e.Stage, e.Message)
	}})
	if err != nil {
		return fail(err)
	}
	defer r.Close()

	reconcileOnce := func(title string) (reconcile.Status, error) {
		say("\n%s", title)
		start := time.Now()
		s, err := r.Run(ctx)
		if err != nil {
			return s, err
		}
		say("\nCompliance after %s: %s", time.Since(start).Round(time.Millisecond), s)
		_ = s.WriteTable(out)
		return s, nil
	}
	if s, err := reconcileOnce("Reconciling infra (and the HelmRelease it declares) -> apps-dev -> apps-prd:"); err != nil || !s.Compliant() {
		return fail(fmt.Errorf("not compliant: %v %v", s, err))
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	if d, err := cs.AppsV1().Deployments("monitoring").Get(ctx, "prometheus", metav1.GetOptions{}); err == nil {
		say("\nmonitoring/prometheus (Helm release of chart prometheus %s): %d/%d replicas ready.",
			demo.PrometheusChart().Version, d.Status.ReadyReplicas, *d.Spec.Replicas)
	}
	if d, err := cs.AppsV1().Deployments("apps-prd").Get(ctx, "kuard", metav1.GetOptions{}); err == nil {
		say("\napps-prd/kuard: %d/%d replicas ready.", d.Status.ReadyReplicas, *d.Spec.Replicas)
	}

	// A second team's configuration, limited to its own namespace.
	team, err := reconcile.LoadFlux(ctx, []byte(files["clusters/team-b/configuration.yaml"]), reconcile.FluxOptions{})
	if err != nil {
		return fail(err)
	}
	team.Tenancy = &reconcile.Tenancy{Namespaces: []string{demo.TeamNamespace}}
	tr, err := reconcile.New(kc, team, reconcile.Options{})
	if err != nil {
		return fail(err)
	}
	defer tr.Close()
	ts, err := tr.Run(ctx)
	if err != nil || !ts.Compliant() {
		return fail(fmt.Errorf("team-b not compliant: %v %v", ts, err))
	}
	say("\nTeam b's configuration (clusters/team-b, limited to namespace %s): %s", demo.TeamNamespace, ts)
	escape := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team-b-was-here\n  namespace: kube-system\n"
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Message: "team b tries kube-system",
		Files: map[string]string{"teams/b/escape.yaml": escape}}); err != nil {
		return fail(err)
	}
	ts, err = tr.Run(ctx)
	if err != nil {
		return fail(err)
	}
	if u, _ := ts.Unit("team-b"); u.Reason == reconcile.ReasonPolicyViolation {
		say("Team b pushed a ConfigMap into kube-system: refused, nothing applied (%s).", u.Reason)
	} else {
		return fail(fmt.Errorf("team b's escape was not refused: %s", ts))
	}
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Message: "revert", Delete: []string{"teams/b/escape.yaml"}}); err != nil {
		return fail(err)
	}
	if ts, err = tr.Run(ctx); err != nil || !ts.Compliant() {
		return fail(fmt.Errorf("team-b not compliant after the revert: %v %v", ts, err))
	}
	say("Reverted: team b is compliant again.")

	// 4. Nothing changed: the no-op path.
	if _, err := reconcileOnce("Reconciling again with nothing changed (one ls-remote, no clone, no rebuild, one LIST per kind):"); err != nil {
		return fail(err)
	}

	// 5. A change in Git: prd to 3 replicas, its PodDisruptionBudget removed.
	kust := demo.Files()["apps/prd/kustomization.yaml"]
	kust = strings.NewReplacer("count: 5", "count: 3", "  - pdb.yaml\n", "").Replace(kust)
	sha, err = repo.Commit(ctx, gitserver.CommitOptions{
		Message: "prd: 3 replicas, drop the PodDisruptionBudget",
		Files:   map[string]string{"apps/prd/kustomization.yaml": kust},
		Delete:  []string{"apps/prd/pdb.yaml"},
	})
	if err != nil {
		return fail(err)
	}
	say("\nPushed commit %s: apps/prd to 3 replicas, pdb.yaml deleted. The plan:", sha[:12])
	plan, err := r.Plan(ctx)
	if err != nil {
		return fail(err)
	}
	_ = plan.WriteText(prefixWriter{out, "  "})

	// 6. Drift: someone scales apps-dev by hand.
	if scale, err := cs.AppsV1().Deployments("apps-dev").GetScale(ctx, "kuard", metav1.GetOptions{}); err == nil {
		scale.Spec.Replicas = 4
		if _, err := cs.AppsV1().Deployments("apps-dev").UpdateScale(ctx, "kuard", scale, metav1.UpdateOptions{FieldManager: "kubectl"}); err == nil {
			say("\nMeanwhile someone ran `kubectl scale -n apps-dev deployment/kuard --replicas=4` (drift).")
		}
	}
	s, err := reconcileOnce("Reconciling the change and the drift:")
	if err != nil {
		return fail(err)
	}
	if d, err := cs.AppsV1().Deployments("apps-dev").Get(ctx, "kuard", metav1.GetOptions{}); err == nil {
		say("\napps-dev/kuard is back to %d replica(s) as Git says.", *d.Spec.Replicas)
	}
	if !s.Compliant() {
		return fail(fmt.Errorf("not compliant: %s", s))
	}
	say("\nDone: the cluster complies with Git.")
	return 0
}

// prefixWriter indents lines written through it.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	lines := strings.SplitAfter(string(b), "\n")
	var sb strings.Builder
	for _, l := range lines {
		if l != "" {
			sb.WriteString(p.prefix + l)
		}
	}
	if _, err := io.WriteString(p.w, sb.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
