// Command units measures gitopskit next to Flux's own kustomize-controller
// and source-controller on many small units (issue 14): fluxcd/flux-benchmark's
// workload of a Kustomization with wait, a 1-minute timeout and an
// impersonated service account per unit, whose path holds a Deployment
// scaled to 0, a ServiceAccount, a Service and an Ingress.
//
// For each size it starts one simulated cluster (gitopstest/localcluster:
// kube-apiserver, etcd, controller-manager, scheduler, kwok fake nodes) and
// one Git server (gitopstest/gitserver), then runs the tools one after the
// other on them, each as its own process behind its own counting proxy:
// first run until every unit is Ready, then a no-op re-reconcile of every
// unit. See ../../README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gitopskit/gitopskit/bench/internal/mdsection"
)

type config struct {
	sizes    []int
	tools    []string
	out      string
	results  string
	deadline time.Duration
	cleanup  time.Duration
	workdir  string
	rebuild  bool
	keep     bool
	assets   string
	bare     bool
	profile  string
	// controllerQPS is kube-controller-manager's per-controller rate
	// limit in the simulated cluster.
	controllerQPS int
	// workers is gitopskit's reconcile.Options.Workers (0: its default).
	workers int
}

func main() {
	log.SetFlags(log.Ltime)
	var c config
	var sizes, tools string
	render := flag.Bool("render", false, "only rewrite the units section of -out from -results, measuring nothing")
	quick := flag.Bool("quick", false, "smoke test: 20 units, report on stdout only (same as -sizes 20 -out '' -results '')")
	flag.StringVar(&sizes, "sizes", "100", "comma-separated unit counts, e.g. 100,500,1000 (one cluster per size)")
	flag.StringVar(&tools, "tools", "floor,gitopskit,flux", "tools in the order they run on each cluster (floor: the cluster's own speed, no tool)")
	flag.IntVar(&c.workers, "gitopskit-workers", 0, "gitopskit's reconcile.Options.Workers (0: the library's default)")
	flag.IntVar(&c.controllerQPS, "controller-qps", 50, "kube-controller-manager's --kube-api-qps in the simulated cluster (its deployment controller spends 2-3 requests per new Deployment, so at 50 it takes about a minute to roll out 1,000 whoever applied them)")
	flag.StringVar(&c.out, "out", "RESULTS.md", "Markdown file whose units section is (re)written; empty: stdout only")
	flag.StringVar(&c.results, "results", "units-results.json", "JSON file keeping the figures per size across runs; a run replaces the sizes it measured; empty: none")
	flag.DurationVar(&c.deadline, "deadline", 20*time.Minute, "give up waiting for a phase (first run, no-op) after this long")
	flag.DurationVar(&c.cleanup, "cleanup-timeout", 5*time.Minute, "how long to wait for a tool's namespace to be deleted before the next tool runs")
	flag.StringVar(&c.workdir, "workdir", "", "folder for logs, kubeconfigs and storage (default: a temporary folder, kept on failure)")
	flag.BoolVar(&c.rebuild, "rebuild", false, "rebuild the Flux controllers even if bin/ has them")
	flag.BoolVar(&c.keep, "keep", false, "keep the work folder")
	flag.StringVar(&c.assets, "assets", "", "folder of the cluster binaries (default: gitopstest/kubeassets builds or finds them)")
	flag.BoolVar(&c.bare, "bare", false, "for developing the benchmark only: a bare API server instead of the simulated cluster (Deployments never become Ready, so no unit does)")
	flag.StringVar(&c.profile, "profile", "", "folder for CPU and heap profiles of the gitopskit process, per size and run (n<size>/run-<i>.{cpu,heap,peak.heap}.pprof)")
	flag.Parse()
	if *quick {
		sizes, c.out, c.results = "20", "", ""
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			log.Fatalf("-sizes: bad size %q", s)
		}
		c.sizes = append(c.sizes, n)
	}
	for _, t := range strings.Split(tools, ",") {
		t = strings.TrimSpace(t)
		if t != toolGitopskit && t != toolFlux && t != toolFloor {
			log.Fatalf("-tools: unknown tool %q (want %s, %s or %s)", t, toolFloor, toolGitopskit, toolFlux)
		}
		c.tools = append(c.tools, t)
	}
	if *render {
		if err := renderOnly(c); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, c config) (err error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run from the bench folder (cd bench): %w", err)
	}
	if c.workdir == "" {
		if c.workdir, err = os.MkdirTemp("", "gitopskit-units-"); err != nil {
			return err
		}
		defer func() {
			if err == nil && !c.keep {
				_ = os.RemoveAll(c.workdir)
			} else {
				log.Printf("work folder kept: %s", c.workdir)
			}
		}()
	}
	bins, err := buildAll(ctx, c)
	if err != nil {
		return err
	}
	info := collectInfo(ctx)
	info.ControllerQPS = c.controllerQPS
	var rows []row
	for _, n := range c.sizes {
		dir := filepath.Join(c.workdir, "n"+strconv.Itoa(n))
		r, err := runSize(ctx, c, bins, n, dir)
		rows = append(rows, r...)
		if err != nil {
			return fmt.Errorf("%d units: %w", n, err)
		}
	}
	fmt.Print(textTable(rows))
	if c.results != "" {
		if rows, err = mergeResults(c.results, rows, info); err != nil {
			return err
		}
	}
	if c.out != "" {
		if err := mdsection.Write(c.out, sectionName, markdown(rows, info)); err != nil {
			return err
		}
		log.Printf("wrote the units section of %s", c.out)
	}
	return nil
}

// renderOnly rewrites the units section of c.out from c.results.
func renderOnly(c config) error {
	b, err := os.ReadFile(c.results)
	if err != nil {
		return err
	}
	var rf resultsFile
	if err := json.Unmarshal(b, &rf); err != nil {
		return fmt.Errorf("%s: %w", c.results, err)
	}
	fmt.Print(textTable(rf.Rows))
	return mdsection.Write(c.out, sectionName, markdown(rf.Rows, rf.Info))
}
