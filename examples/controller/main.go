// Command controller is a controller-runtime manager that owns a small API
// of its own, GitOpsUnit (gitops.example.com/v1alpha1), and reconciles each
// unit with gitopskit: fetch a Git revision, build it with kustomize, apply
// it with server-side apply, prune what left Git, optionally wait for
// readiness. The inventory of applied objects and the Ready condition live
// in the unit's status.
//
//	go run ./examples/controller --kubeconfig ~/.kube/config
//	kubectl apply -f unit.yaml   # a GitOpsUnit, see README.md
//	kubectl get gitopsunits
//
// It installs (server-side applies) its CustomResourceDefinition on start.
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/source"
)

//go:embed crd.yaml
var crdYAML []byte

// fieldManager is the server-side apply field manager of everything this
// controller applies.
const fieldManager = "gitopsunit-controller"

// options are the command-line settings.
type options struct {
	CacheDir    string // Git clones and artifacts
	MetricsAddr string // "0" disables the metrics server
	ProbeAddr   string // "0" disables the health probes
	LeaderElect bool
	Concurrency int // units reconciled at once

	// skipNameValidation lets one process build the controller more than
	// once (tests run with go test -count=N); controller-runtime refuses a
	// second controller of the same name otherwise.
	skipNameValidation bool
}

func main() {
	var o options
	// --kubeconfig is registered by controller-runtime and read by ctrl.GetConfig.
	flag.StringVar(&o.CacheDir, "cache-dir", filepath.Join(os.TempDir(), "gitopsunit-controller"), "directory for Git clones and artifacts")
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", `metrics address, "0" to disable`)
	flag.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", `healthz/readyz address, "0" to disable`)
	flag.BoolVar(&o.LeaderElect, "leader-elect", false, "elect a leader, to run several replicas")
	flag.IntVar(&o.Concurrency, "concurrency", 4, "units reconciled in parallel")
	flag.Parse()

	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil)))
	ctx := ctrl.SetupSignalHandler()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	cfg, err := ctrl.GetConfig() // --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config
	if err != nil {
		return err
	}
	mgr, err := newManager(ctx, cfg, o)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// newManager installs the CRD and returns a manager running the GitOpsUnit
// controller, not started yet.
func newManager(ctx context.Context, cfg *rest.Config, o options) (ctrl.Manager, error) {
	// The library's access to the cluster: one HTTP client, discovery cache
	// and request budget, shared by the clients below and every reconcile.
	kube, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		return nil, err
	}
	applier, err := apply.NewManager(kube, apply.ManagerOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, err
	}
	waiter, err := health.NewWaiter(kube, health.WaiterOptions{})
	if err != nil {
		return nil, err
	}
	sources, err := source.NewCache(o.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := installCRD(ctx, applier); err != nil {
		return nil, err
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: o.ProbeAddr,
		LeaderElection:         o.LeaderElect,
		LeaderElectionID:       "gitopsunit-controller.gitops.example.com",
		Controller:             config.Controller{SkipNameValidation: &o.skipNameValidation},
	})
	if err != nil {
		return nil, err
	}
	if o.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Applier:   applier,
		Waiter:    waiter,
		Sources:   sources,
		Builds:    build.NewCache(0),
	}
	if err := r.SetupWithManager(mgr, max(o.Concurrency, 1)); err != nil {
		return nil, err
	}
	return mgr, nil
}

// installCRD applies the embedded CRD and waits until it is Established
// (apply.Manager.Apply does both for CRDs).
func installCRD(ctx context.Context, applier *apply.Manager) error {
	data, err := yaml.YAMLToJSON(crdYAML)
	if err != nil {
		return fmt.Errorf("crd.yaml: %w", err)
	}
	crd := &unstructured.Unstructured{}
	if err := crd.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("crd.yaml: %w", err)
	}
	// TakeOverConflicts, not Force: Force may delete and recreate an
	// object, and deleting a CRD deletes every GitOpsUnit.
	cs, err := applier.Apply(ctx, []*unstructured.Unstructured{crd}, apply.ApplyOptions{TakeOverConflicts: true})
	if err != nil {
		return fmt.Errorf("install the GitOpsUnit CRD: %w", err)
	}
	ctrl.Log.Info("CRD installed", "change", cs.Summary())
	return nil
}
