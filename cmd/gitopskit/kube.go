package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitopskit/gitopskit/cluster"
)

// kubeFlags are kubectl's flags for choosing a cluster, with kubectl's
// meaning: the kubeconfig file (else $KUBECONFIG, else ~/.kube/config,
// else the in-cluster service account), and a context, cluster or user of
// it.
type kubeFlags struct {
	kubeconfig, context, cluster, user string
}

func (k *kubeFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.kubeconfig, clientcmd.RecommendedConfigPathFlag, "",
		"path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&k.context, clientcmd.FlagContext, "", "the name of the kubeconfig context to use")
	fs.StringVar(&k.cluster, clientcmd.FlagClusterName, "", "the name of the kubeconfig cluster to use")
	fs.StringVar(&k.user, clientcmd.FlagAuthInfoName, "", "the name of the kubeconfig user to use")
}

// restConfig loads the client configuration the flags select, as kubectl
// does.
func (k *kubeFlags) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.context,
		Context: clientcmdapi.Context{Cluster: k.cluster, AuthInfo: k.user}}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// clusterHandle returns the cluster handle the flags select.
func (k *kubeFlags) clusterHandle() (*cluster.Cluster, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Host, err)
	}
	return c, nil
}
