package helmv3

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// getter is the RESTClientGetter Helm's kube client is built from. It hands
// out the caller's rest.Config, a shared discovery cache and RESTMapper, and
// the driver's namespace; it never reads a kubeconfig file.
type getter struct {
	cfg       *rest.Config
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
	namespace string
}

func (g *getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *getter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *getter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return clientConfig{g} }

// clientConfig answers kubectl's factory with the getter's config and
// namespace.
type clientConfig struct{ g *getter }

func (c clientConfig) RawConfig() (clientcmdapi.Config, error) { return clientcmdapi.Config{}, nil }

func (c clientConfig) ClientConfig() (*rest.Config, error) { return rest.CopyConfig(c.g.cfg), nil }

func (c clientConfig) Namespace() (string, bool, error) { return c.g.namespace, true, nil }

func (c clientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return &clientcmd.ClientConfigLoadingRules{}
}
