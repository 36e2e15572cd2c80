package localcluster

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// Options configure [Start].
type Options struct {
	// Simulated adds kube-controller-manager, kube-scheduler and kwok fake
	// nodes to the API server. See the package documentation.
	Simulated bool
	// Nodes is the number of fake nodes of a simulated cluster. Default 3.
	Nodes int
	// AssetsDir holds the binaries. Default: built or found by
	// [kubeassets.Ensure] in its default folder.
	AssetsDir string
	// Dir is where the cluster keeps its data, certificates and logs.
	// Default: a new temporary folder, removed by [Cluster.Stop].
	Dir string
	// Log receives progress lines (including the minutes-long first build of
	// the binaries). Default: discarded.
	Log io.Writer
	// ControllerQPS is the client-side rate limit of each controller of
	// kube-controller-manager (--kube-api-qps; the burst is twice as much)
	// in a simulated cluster. Default 50. The deployment controller spends
	// two or three requests on each new Deployment, so at 50 a first
	// rollout of 1,000 Deployments takes about a minute whatever applied
	// them: a benchmark of the tools that apply raises it.
	ControllerQPS int
	// StartTimeout bounds each wait for a component to become healthy.
	// Default 3m: a component that exits fails the start at once, but one
	// that is merely slow (kube-apiserver takes 5 s on an idle 2-core
	// machine, ten times that on a busy one) gets time.
	StartTimeout time.Duration
}

// Cluster is a running local cluster. Its methods are safe for concurrent use.
type Cluster struct {
	// Config is a client configuration with cluster-admin rights
	// (group system:masters), unthrottled.
	Config *rest.Config
	// Dir holds the data, certificates, kubeconfigs and the logs of every
	// process (Dir/logs/<name>.log).
	Dir string
	// Simulated says whether controllers, scheduler and fake nodes run.
	Simulated bool

	opts       Options
	assets     string
	removeDir  bool
	pki        *pki
	host       string
	etcdURL    string
	apiPort    int
	kubeconfig []byte

	mu       sync.Mutex
	procs    map[string]*process
	lastWait string // what a wait was last waiting for, for its error
}

// Start starts a cluster and waits until it serves requests (and, when
// simulated, until its nodes are Ready). On error, whatever was started is
// stopped again.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	c := &Cluster{opts: opts, Simulated: opts.Simulated, procs: map[string]*process{}}
	c.assets = opts.AssetsDir
	if c.assets == "" {
		comps := kubeassets.APIServer
		if opts.Simulated {
			comps = kubeassets.SimCluster
		}
		if c.assets, err = kubeassets.Ensure(ctx, kubeassets.Options{Components: comps, Log: opts.Log}); err != nil {
			return nil, fmt.Errorf("localcluster: %w", err)
		}
	}
	c.Dir = opts.Dir
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "gitopskit-cluster-"); err != nil {
			return nil, fmt.Errorf("localcluster: %w", err)
		}
		c.removeDir = true
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
			err = fmt.Errorf("localcluster: %w", err)
		}
	}()
	if err := os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := c.startControlPlane(ctx); err != nil {
		return nil, err
	}
	c.logf("etcd and kube-apiserver ready at %s (%s)", c.host, time.Since(t0).Round(time.Millisecond))
	if opts.Simulated {
		if err := c.startSimulation(ctx); err != nil {
			return nil, err
		}
		c.logf("simulated cluster with %d kwok fake nodes ready (%s)", opts.Nodes, time.Since(t0).Round(time.Millisecond))
	}
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, "localcluster: "+format+"\n", args...)
}

func (c *Cluster) bin(name kubeassets.Component) string { return filepath.Join(c.assets, string(name)) }

func (c *Cluster) startControlPlane(ctx context.Context) error {
	var err error
	if c.pki, err = newPKI(filepath.Join(c.Dir, "pki")); err != nil {
		return err
	}
	if _, err := c.pki.issue("apiserver", pkix.Name{CommonName: "kube-apiserver"}, true); err != nil {
		return err
	}
	if err := c.pki.serviceAccountKeys(); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdPort, peerPort := ports[0], ports[1]
	c.apiPort = ports[2]
	c.host = "https://127.0.0.1:" + strconv.Itoa(c.apiPort)
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)

	admin, err := c.pki.issue("admin", pkix.Name{CommonName: "gitopskit-admin", Organization: []string{"system:masters"}}, false)
	if err != nil {
		return err
	}
	c.Config = c.restConfig(admin)
	if c.kubeconfig, err = c.kubeconfigFor("admin", admin); err != nil {
		return err
	}
	if err := os.WriteFile(c.KubeconfigPath(), c.kubeconfig, 0o600); err != nil {
		return err
	}

	if err := c.start("etcd", c.bin(kubeassets.Etcd),
		"--name=localcluster", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+c.etcdURL, "--advertise-client-urls="+c.etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=localcluster="+peerURL, "--unsafe-no-fsync=true",
		"--listen-metrics-urls=", "--log-level=warn"); err != nil {
		return err
	}
	return c.StartAPIServer(ctx)
}

// StartAPIServer starts kube-apiserver again after [Cluster.StopAPIServer],
// on the same address and storage, and waits until it is ready. It is how
// fault tests simulate an API server that goes away and comes back.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	p := c.pki.path
	err := c.start("kube-apiserver", c.bin(kubeassets.KubeAPIServer),
		"--etcd-servers="+c.etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(c.apiPort),
		// Without a default route kube-apiserver cannot pick an address to
		// advertise, nor maintain the endpoints of the kubernetes Service.
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(c.Dir, "apiserver-certs"),
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--client-ca-file="+p("ca.crt"),
		"--service-account-issuer="+c.host,
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true")
	if err != nil {
		return err
	}
	return c.waitHealthy(ctx, "kube-apiserver", c.host+"/readyz", c.adminHTTPClient())
}

// StopAPIServer stops kube-apiserver (etcd keeps running). Requests fail
// until [Cluster.StartAPIServer] is called.
func (c *Cluster) StopAPIServer() error { return c.stopProcess("kube-apiserver") }

func (c *Cluster) start(name, bin string, args ...string) error {
	return c.startEnv(nil, name, bin, args...)
}

func (c *Cluster) startEnv(env []string, name, bin string, args ...string) error {
	p, err := startProcess(filepath.Join(c.Dir, "logs"), env, name, bin, args...)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	return nil
}

func (c *Cluster) stopProcess(name string) error {
	c.mu.Lock()
	p := c.procs[name]
	delete(c.procs, name)
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop(10 * time.Second)
}

func (c *Cluster) adminHTTPClient() *http.Client {
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil { // only on malformed TLS material, which we generated
		return http.DefaultClient
	}
	hc.Timeout = 5 * time.Second
	return hc
}

// waitHealthy polls url until it answers 200, the process exits, or the
// start timeout passes.
func (c *Cluster) waitHealthy(ctx context.Context, name, url string, hc *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	var last error
	for {
		if p != nil && p.exited() {
			return p.diedError()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s answered %s", url, resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			msg := ""
			if p != nil {
				msg = "; last lines of " + p.logPath + ":\n" + p.logTail(15)
			}
			return fmt.Errorf("waiting for %s: %w (last: %v)%s", name, ctx.Err(), last, msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops every process in reverse start order and removes the cluster's
// folder when Start created it. It is safe to call more than once.
func (c *Cluster) Stop() error {
	var errs []error
	for _, name := range []string{"kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"} {
		errs = append(errs, c.stopProcess(name))
	}
	if c.removeDir && c.Dir != "" {
		errs = append(errs, os.RemoveAll(c.Dir))
		c.removeDir = false
	}
	return errors.Join(errs...)
}

// Host returns the API server URL.
func (c *Cluster) Host() string { return c.host }

// KubeconfigPath returns the path of an admin kubeconfig for the cluster,
// usable with kubectl.
func (c *Cluster) KubeconfigPath() string { return filepath.Join(c.Dir, "kubeconfig") }

// Kubeconfig returns the admin kubeconfig file content.
func (c *Cluster) Kubeconfig() []byte { return c.kubeconfig }

// UserConfig returns a client configuration that authenticates as the given
// user and groups (with a client certificate signed by the cluster's CA), for
// testing what RBAC lets a user or service account do. Impersonation through
// [Cluster.Config] is the other way to do that.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	cred, err := c.pki.issue("user-"+strconv.FormatInt(time.Now().UnixNano(), 36), pkix.Name{CommonName: user, Organization: groups}, false)
	if err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}
	return c.restConfig(cred), nil
}

func (c *Cluster) restConfig(cred credential) *rest.Config {
	return &rest.Config{
		Host: c.host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.pki.caPEM,
			CertData: cred.certPEM,
			KeyData:  cred.keyPEM,
		},
		// A local test server: no client-side throttling.
		QPS:   -1,
		Burst: -1,
	}
}

func (c *Cluster) kubeconfigFor(user string, cred credential) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.host, CertificateAuthorityData: c.pki.caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cred.certPEM, ClientKeyData: cred.keyPEM}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	cfg.CurrentContext = "local"
	return clientcmd.Write(*cfg)
}
