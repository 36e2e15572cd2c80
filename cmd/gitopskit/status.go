package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

type statusFlags struct {
	namespace     string
	allNamespaces bool
}

func newStatusCommand(e *env, g *globalFlags) *cobra.Command {
	f := &statusFlags{}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show the compliance of configurations in a cluster, from their records",
		Long: `status reads the compliance of a configuration from the record its last sync left in
the cluster (the ConfigMap "<NAME>-status" in the configuration's namespace): per unit
whether it is Ready, why not, the revision it applied and when; per Git source its last
fetched revision, or why the last fetch failed, and the unit whose build declared it (a
Helm unit's chart and version are in its message). It needs no configuration
file and no access to Git, and changes nothing.

Without NAME it shows every configuration whose record is in the namespace (with -A: in
any namespace).

Exit codes: 0 every configuration shown is compliant, 3 one is not, 1 no record was
found or the cluster could not be read.`,
		Example: `  # The configuration "fleet", whose records are in cluster-config.
  gitopskit status fleet -n cluster-config

  # Every configuration in the cluster, as YAML.
  gitopskit status -A -o yaml

  # A CI gate: fail unless production is compliant.
  gitopskit status fleet -n cluster-config --context prod -o json > status.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && f.allNamespaces {
				return usagef("a configuration NAME cannot be combined with --all-namespaces")
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return runStatus(cmd.Context(), e, g, f, name)
		},
	}
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", reconcile.DefaultNamespace, "namespace of the configuration's records")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "every configuration, in any namespace")
	return cmd
}

// configurationRef names a configuration by its record's place.
type configurationRef struct{ namespace, name string }

func runStatus(ctx context.Context, e *env, g *globalFlags, f *statusFlags, name string) error {
	kc, err := g.kube.clusterHandle()
	if err != nil {
		return failure(err)
	}
	refs := []configurationRef{{f.namespace, name}}
	if name == "" {
		ns := f.namespace
		if f.allNamespaces {
			ns = metav1.NamespaceAll
		}
		if refs, err = listConfigurations(ctx, kc, ns); err != nil {
			return failure(err)
		}
		if len(refs) == 0 {
			where := "namespace " + f.namespace
			if f.allNamespaces {
				where = "any namespace"
			}
			return failure(fmt.Errorf("no configuration has records in %s: %w", where, reconcile.ErrNotFound))
		}
	}
	var views []statusView
	compliant := true
	p := painter(e.colour(e.stdout))
	now := time.Now()
	for i, ref := range refs {
		s, err := reconcile.ReadStatus(ctx, kc, ref.namespace, ref.name)
		if errors.Is(err, reconcile.ErrNotFound) && name != "" {
			return failure(fmt.Errorf("configuration %s has no record in namespace %s (never synced there? see -n and -A): %w",
				ref.name, ref.namespace, err))
		}
		if err != nil {
			return failure(err)
		}
		compliant = compliant && s.Compliant()
		if g.output != "text" {
			views = append(views, newStatusView(ref.name, ref.namespace, s, false))
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := writeStatus(e.stdout, "text", p, now, ref.name, ref.namespace, s, false); err != nil {
			return failure(err)
		}
	}
	switch {
	case g.output == "text":
	case name != "":
		err = writeStructured(e.stdout, g.output, views[0])
	default:
		err = writeStructured(e.stdout, g.output, struct {
			Compliant      bool         `json:"compliant"`
			Configurations []statusView `json:"configurations"`
		}{compliant, views})
	}
	if err != nil {
		return failure(err)
	}
	if !compliant {
		return &exitErr{code: exitNotCompliant}
	}
	return nil
}

// listConfigurations finds the configurations whose records are in
// namespace (every namespace when empty), by the records' label.
func listConfigurations(ctx context.Context, kc *cluster.Cluster, namespace string) ([]configurationRef, error) {
	list, err := kc.Kubernetes().CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: reconcile.LabelConfiguration})
	if err != nil {
		return nil, fmt.Errorf("list configuration records: %w", err)
	}
	var refs []configurationRef
	for _, cm := range list.Items {
		name := cm.Labels[reconcile.LabelConfiguration]
		if cm.Name == name+"-status" {
			refs = append(refs, configurationRef{cm.Namespace, name})
		}
	}
	slices.SortFunc(refs, func(a, b configurationRef) int {
		return strings.Compare(a.namespace+"/"+a.name, b.namespace+"/"+b.name)
	})
	return refs, nil
}
