// Command gitops-sync is the smallest program that keeps a cluster in sync
// with a Flux-format configuration using package reconcile: load the
// configuration with reconcile.LoadFlux (sources' credential Secrets read
// from the cluster, or from files as mounted in a Pod), reconcile it once, print
// the compliance table.
//
//	go run ./examples/gitops-sync -config flux-system/gotk-sync.yaml
//
// It is meant to be read and copied into your own program. The command line
// tool is cmd/gitopskit (`gitopskit sync`), which adds loops, plans,
// status, other formats and kubectl's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops-sync:", err)
		os.Exit(1)
	}
}

// run reconciles the configuration once; the error is non-nil when it could
// not, or when a unit is not compliant.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gitops-sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "Flux-format YAML file (GitRepository, Kustomization, HelmRelease...)")
	secretsDir := fs.String("secrets-dir", "", "read Secret NAME (source credentials) from the files of DIR/NAME/ instead of the cluster")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		return errors.New("-config is required")
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	c, err := cluster.New(cfg, cluster.Options{}) // one per cluster, shared by every unit
	if err != nil {
		return err
	}

	// The configuration, with its sources' credentials.
	data, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	opts := reconcile.FluxOptions{SecretData: clusterSecret(c.Kubernetes())}
	if *secretsDir != "" {
		opts.SecretData = dirSecret(*secretsDir)
	}
	conf, err := reconcile.LoadFlux(ctx, data, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}

	// Reconcile once, with a line per event on stderr.
	r, err := reconcile.New(c, conf, reconcile.Options{OnEvent: func(e reconcile.Event) {
		if e.Type != reconcile.EventObject || e.Action != "unchanged" {
			fmt.Fprintf(stderr, "%s %-12s %-7s %s\n", e.Time.Format("15:04:05"), e.Unit, e.Stage, e.Message)
		}
	}})
	if err != nil {
		return err // a cycle, a missing dependency: *reconcile.ConfigError
	}
	defer r.Close()
	status, err := r.Run(ctx)
	if err != nil {
		return err // interrupted
	}
	if err := status.WriteTable(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, status)
	if !status.Compliant() {
		return errors.New("not compliant")
	}
	return nil
}

// clusterSecret reads from the cluster. A missing object
// is a NotFound API error, which LoadFlux understands.
func clusterSecret(cs kubernetes.Interface) func(context.Context, string, string) (map[string][]byte, error) {
	return func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
		s, err := cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return s.Data, nil
	}
}

// dirSecret reads NAME from the files of dir/NAME/, one key
// per file, as Kubernetes mounts them into a Pod. A missing directory wraps
// reconcile.ErrNotFound.
func dirSecret(dir string) func(context.Context, string, string) (map[string][]byte, error) {
	return func(_ context.Context, _, name string) (map[string][]byte, error) {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("invalid name %q", name)
		}
		entries, err := os.ReadDir(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s in %s: %w", name, dir, reconcile.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		data := map[string][]byte{}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				if data[e.Name()], err = os.ReadFile(filepath.Join(dir, name, e.Name())); err != nil {
					return nil, err
				}
			}
		}
		return data, nil
	}
}
