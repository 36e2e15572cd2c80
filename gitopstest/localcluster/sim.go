package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// FakeNodeAnnotation marks the Nodes the kwok controller manages.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// startSimulation starts kube-controller-manager, kube-scheduler and kwok,
// creates the fake nodes and waits until they are Ready and the default
// service account exists (Pods can be created only after that).
func (c *Cluster) startSimulation(ctx context.Context) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2]
	kubeconfigs := map[string]pkix.Name{
		"controller-manager": {CommonName: "system:kube-controller-manager"},
		"scheduler":          {CommonName: "system:kube-scheduler"},
		"kwok":               {CommonName: "kwok-controller", Organization: []string{"system:masters"}},
	}
	paths := map[string]string{}
	for name, subject := range kubeconfigs {
		cred, err := c.pki.issue(name, subject, false)
		if err != nil {
			return err
		}
		kc, err := c.kubeconfigFor(name, cred)
		if err != nil {
			return err
		}
		paths[name] = filepath.Join(c.Dir, name+".kubeconfig")
		if err := os.WriteFile(paths[name], kc, 0o600); err != nil {
			return err
		}
	}
	p := c.pki.path
	kcm := paths["controller-manager"]
	if err := c.start("kube-controller-manager", c.bin(kubeassets.KubeControllerManager),
		"--kubeconfig="+kcm, "--authentication-kubeconfig="+kcm, "--authorization-kubeconfig="+kcm,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+p("sa.key"),
		"--root-ca-file="+p("ca.crt"),
		"--cluster-signing-cert-file="+p("ca.crt"), "--cluster-signing-key-file="+p("ca.key"),
		"--cluster-name=localcluster",
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--kube-api-qps=50", "--kube-api-burst=100"); err != nil {
		return err
	}
	sched := paths["scheduler"]
	if err := c.start("kube-scheduler", c.bin(kubeassets.KubeScheduler),
		"--kubeconfig="+sched, "--authentication-kubeconfig="+sched, "--authorization-kubeconfig="+sched,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--leader-elect=false"); err != nil {
		return err
	}
	kwokHome := filepath.Join(c.Dir, "kwok-home") // kwok also reads ~/.kwok/kwok.yaml: isolate it
	if err := os.MkdirAll(kwokHome, 0o755); err != nil {
		return err
	}
	if err := c.startEnv(append(os.Environ(), "HOME="+kwokHome), "kwok", c.bin(kubeassets.Kwok),
		"--kubeconfig="+paths["kwok"],
		"--config="+filepath.Join(c.assets, kubeassets.KwokStagesFile),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		"--node-ip=127.0.0.1", "--cidr=10.244.0.0/16",
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort)); err != nil {
		return err
	}

	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // self-signed health endpoints on loopback
	}}
	for _, w := range []struct{ name, url string }{
		{"kube-controller-manager", "https://127.0.0.1:" + strconv.Itoa(kcmPort) + "/healthz"},
		{"kube-scheduler", "https://127.0.0.1:" + strconv.Itoa(schedPort) + "/healthz"},
		{"kwok", "http://127.0.0.1:" + strconv.Itoa(kwokPort) + "/healthz"},
	} {
		if err := c.waitHealthy(ctx, w.name, w.url, insecure); err != nil {
			return err
		}
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	for i := range c.opts.Nodes {
		if _, err := cs.CoreV1().Nodes().Create(ctx, fakeNode(i), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create fake node: %w", err)
		}
	}
	return c.poll(ctx, "fake nodes Ready and ServiceAccount default/default", func(ctx context.Context) (bool, error) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready < c.opts.Nodes {
			return false, nil
		}
		_, err = cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// poll runs cond until it returns true, an error, a process dies, or the
// start timeout passes.
func (c *Cluster) poll(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		c.mu.Lock()
		for _, p := range c.procs {
			if p.exited() {
				c.mu.Unlock()
				return p.diedError()
			}
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fakeNode is a Node kwok plays kubelet for. Unlike kwok's examples it has no
// taint: there are no real nodes to protect here, so unmodified manifests
// schedule onto it.
func fakeNode(i int) *corev1.Node {
	name := "kwok-node-" + strconv.Itoa(i)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl": "0",
				FakeNodeAnnotation:             "fake",
			},
			Labels: map[string]string{
				"kubernetes.io/arch":            "amd64",
				"kubernetes.io/os":              "linux",
				"kubernetes.io/hostname":        name,
				"kubernetes.io/role":            "agent",
				"node-role.kubernetes.io/agent": "",
				"type":                          "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Allocatable: capacity,
			Capacity:    capacity,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture: "amd64", OperatingSystem: "linux",
				KubeletVersion: "fake",
			},
			Phase: corev1.NodeRunning,
		},
	}
}
