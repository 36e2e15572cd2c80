// Command bench runs gitopskit and the tools people would otherwise pick
// side by side against one real API server (and one local Git server), in
// the same run, and writes a table of medians, ratios, request counts and
// peak memory. See ../../README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/bench/internal/mdsection"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

type config struct {
	reps, warmup     int
	n                int
	plot             bool
	plotSizes        []int
	plotReps         int
	large            bool
	largeN           int
	only             map[string]bool
	out, png         string
	kubectl, kustBin string
	kubectlExtra     string
	workDir          string
	verbose          bool
	tools            map[string]bool // empty: all
	hold             bool
}

func main() {
	var c config
	var only, sizes string
	flag.IntVar(&c.reps, "reps", 3, "measured repetitions per scenario and tool (medians are over these)")
	flag.IntVar(&c.warmup, "warmup", 1, "warm-up repetitions per tool, run first and discarded")
	flag.IntVar(&c.n, "n", 1000, "objects in the apply scenarios (spread over 10 namespaces, plus the 10 Namespaces)")
	flag.BoolVar(&c.plot, "plot", false, "also measure first apply and no-op at the -plot-sizes and write the PNG plot")
	flag.StringVar(&sizes, "plot-sizes", "100,1000,5000", "object counts of the plot (the -n size reuses the main measurements)")
	flag.IntVar(&c.plotReps, "plot-reps", 0, "repetitions at the extra plot sizes (default: -reps)")
	flag.BoolVar(&c.large, "large", false, "also measure first apply and no-op with -large-n objects, once, for memory")
	flag.IntVar(&c.largeN, "large-n", 10000, "objects of the -large variant")
	flag.StringVar(&only, "only", "apply,kustomize,git", "scenario groups to run: apply (1-5), kustomize (6), git (7)")
	flag.StringVar(&c.out, "out", "RESULTS.md", "Markdown report to write (empty: stdout only)")
	flag.StringVar(&c.png, "png", "results.png", "plot to write with -plot")
	flag.StringVar(&c.kubectl, "kubectl", "bin/kubectl", "kubectl binary (bin/kubectl is built from the module proxy at the API server's version if missing)")
	flag.StringVar(&c.kubectlExtra, "kubectl-extra", defaultKubectlExtra(), "a second kubectl, measured in scenarios 1 and 2 only (empty: none)")
	flag.StringVar(&c.kustBin, "kustomize", "bin/kustomize", "kustomize CLI binary (built from the module proxy if missing)")
	flag.StringVar(&c.workDir, "workdir", "", "scratch directory (default: a temporary one, removed at the end)")
	flag.BoolVar(&c.verbose, "v", false, "log the cluster start")
	flag.BoolVar(&c.hold, "hold", false, "start the API server, print its kubeconfig and wait for Ctrl-C (for poking at a tool by hand)")
	var toolList string
	flag.StringVar(&toolList, "tools", "", "apply tools to run, by namespace prefix: gk,ssa,ssa8,kc,cu,bound (default: all; for trying things out)")
	flag.Parse()
	c.tools = map[string]bool{}
	for _, s := range strings.Split(toolList, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.tools[s] = true
		}
	}
	c.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		c.only[strings.TrimSpace(s)] = true
	}
	for _, s := range strings.Split(sizes, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < namespacesPerSet {
			log.Fatalf("bench: bad -plot-sizes %q", sizes)
		}
		c.plotSizes = append(c.plotSizes, v)
	}
	for _, p := range []*string{&c.kubectl, &c.kustBin, &c.kubectlExtra} {
		if strings.Contains(*p, "/") && !filepath.IsAbs(*p) {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	if c.plotReps <= 0 {
		c.plotReps = c.reps
	}
	if c.n%namespacesPerSet != 0 || c.reps < 1 {
		log.Fatal("bench: -n must be a multiple of 10 and -reps at least 1")
	}
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Args[1:]); err != nil {
		log.Fatalf("FAILED: %v", err)
	}
}

// defaultKubectlExtra is the machine's packaged kubectl, if any: the newest
// concrete kubectl of the Google Cloud SDK Debian package (what its
// /usr/bin/kubectl version dispatcher runs), called directly so that the
// dispatcher adds no process and no version request.
func defaultKubectlExtra() string {
	const sdk = "/usr/lib/google-cloud-sdk/bin/"
	for _, v := range []string{"1.37", "1.36", "1.35", "1.34", "1.33"} {
		if _, err := os.Stat(sdk + "kubectl." + v); err == nil {
			return sdk + "kubectl." + v
		}
	}
	return ""
}

// bench holds what every scenario shares.
type bench struct {
	cfg     config
	cluster *localcluster.Cluster
	admin   *rest.Config
	dyn     dynamic.Interface
	md      metadata.Interface
	res     *results
	work    string
	info    *runInfo
	// kubeconfig is the cluster's, with the inventory namespace as the
	// context namespace, for kubectl and cli-utils.
	kubeconfig  string
	applySetCRD bool   // kubectl's ApplySet parent CRD was created
	kubectlName string // the main kubectl's column
}

func run(ctx context.Context, c config, args []string) (err error) {
	start := time.Now()
	b := &bench{cfg: c, res: newResults()}
	b.info = collectInfo(ctx, c, args)
	b.work = c.workDir
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "gitopskit-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(b.work)
	} else if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}

	if c.only["kustomize"] {
		if err := ensureKustomize(ctx, c.kustBin); err != nil {
			return err
		}
		b.info.kustomizeCLI = toolVersion(ctx, c.kustBin, "version")
	}

	if c.only["apply"] || c.only["kustomize"] {
		if err := ensureKubectl(ctx, c.kubectl); err != nil {
			return err
		}
	}
	if c.only["apply"] {
		var logw io.Writer = io.Discard
		if c.verbose {
			logw = os.Stderr
		}
		log.Printf("starting the API server")
		cl, err := localcluster.Start(ctx, localcluster.Options{Log: logw})
		if err != nil {
			return err
		}
		defer func() {
			if e := cl.Stop(); e != nil && err == nil {
				err = e
			}
		}()
		b.cluster = cl
		if c.hold {
			fmt.Printf("export KUBECONFIG=%s\n", cl.KubeconfigPath())
			<-ctx.Done()
			return nil
		}
		b.admin = rest.CopyConfig(cl.Config)
		b.admin.QPS = -1
		if b.dyn, err = dynamic.NewForConfig(b.admin); err != nil {
			return err
		}
		if b.md, err = metadata.NewForConfig(b.admin); err != nil {
			return err
		}
		if err := b.applyScenarios(ctx); err != nil {
			return err
		}
	}
	if c.only["kustomize"] {
		if err := b.kustomizeScenario(ctx); err != nil {
			return err
		}
	}
	if c.only["git"] {
		if err := b.gitScenario(ctx); err != nil {
			return err
		}
	}
	b.info.duration = time.Since(start)
	b.info.loadEnd = loadAvg()
	report := b.report()
	fmt.Print(report)
	if c.out != "" {
		// The units benchmark (cmd/units) owns a section of the same file.
		report := mdsection.Keep(c.out, "units", report)
		if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
			return err
		}
		log.Printf("wrote %s", c.out)
	}
	if c.plot && c.only["apply"] {
		if err := b.writePlot(c.png); err != nil {
			return err
		}
		log.Printf("wrote %s", c.png)
	}
	return nil
}

// ensureKustomize builds the kustomize CLI at the version whose kustomize/api
// gitopskit uses, from the Go module proxy, unless it is there.
func ensureKustomize(ctx context.Context, bin string) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	abs, err := filepath.Abs(filepath.Dir(bin))
	if err != nil {
		return err
	}
	log.Printf("building %s (sigs.k8s.io/kustomize/kustomize/v5@%s) from the module proxy", bin, kustomizeCLIVersion)
	cmd := exec.CommandContext(ctx, "go", "install", "sigs.k8s.io/kustomize/kustomize/v5@"+kustomizeCLIVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+abs, "GOWORK=off", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// ensureKubectl builds kubectl (./cmd/kubectl, the main of
// k8s.io/kubernetes/cmd/kubectl) at the k8s.io/kubectl version of this
// module, which is the API server's, unless bin already exists.
func ensureKubectl(ctx context.Context, bin string) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	v := kubectlModuleVersion()
	if v == "" {
		return fmt.Errorf("cannot tell the k8s.io/kubectl version to build %s; build it by hand (see README.md) or pass -kubectl", bin)
	}
	log.Printf("building %s (kubectl %s) from the module proxy", bin, v)
	var ld []string
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		ld = append(ld, "-X", pkg+".gitVersion="+v, "-X", pkg+".gitMajor=1", "-X", pkg+".gitMinor="+strings.Split(v, ".")[1])
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", strings.Join(ld, " "), "-o", bin, "./cmd/kubectl")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// kubectlModuleVersion maps the k8s.io/kubectl module version this program
// was built with (v0.37.2) to the kubectl release (v1.37.2).
func kubectlModuleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == "k8s.io/kubectl" && strings.HasPrefix(d.Version, "v0.") {
			return "v1." + strings.TrimPrefix(d.Version, "v0.")
		}
	}
	return ""
}

// kubeconfigWithNamespace writes a copy of the cluster's kubeconfig whose
// context namespace is ns (kubectl puts the ApplySet parent there).
func kubeconfigWithNamespace(src, dst, ns string) error {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return err
	}
	for _, ctx := range cfg.Contexts {
		ctx.Namespace = ns
	}
	return clientcmd.WriteToFile(*cfg, dst)
}

func (b *bench) createNamespace(ctx context.Context, name string) error {
	kc, err := kubernetes.NewForConfig(b.admin)
	if err != nil {
		return err
	}
	_, err = kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// clearInventories deletes every tool's inventory objects between rounds.
func (b *bench) clearInventories(ctx context.Context) error {
	for _, gvr := range []struct{ r string }{{"configmaps"}, {"secrets"}} {
		ri := b.dyn.Resource(gvrConfigMap)
		if gvr.r == "secrets" {
			ri = b.dyn.Resource(gvrSecret)
		}
		if err := deleteAll(ctx, ri.Namespace(inventoryNamespace), metav1.ListOptions{}); err != nil {
			return err
		}
	}
	if b.applySetCRD {
		return deleteAll(ctx, b.dyn.Resource(applySetGVR), metav1.ListOptions{})
	}
	return nil
}
