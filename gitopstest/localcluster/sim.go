package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// FakeNodeAnnotation marks the Nodes the kwok controller manages.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// startSimulation starts kube-controller-manager, kube-scheduler and kwok,
// creates the fake nodes and waits until they are Ready and schedulable and
// the default service account exists (Pods can be created only after that).
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
	qps := c.opts.ControllerQPS
	if qps <= 0 {
		qps = 50
	}
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
		// kwok renews the fake nodes' leases from a process that competes
		// for the CPU with the tests: on a busy machine the default 50s
		// grace would mark nodes NotReady (and taint them, and evict their
		// Pods) for lack of a lease renewal a real kubelet would have sent.
		"--node-monitor-grace-period=2m",
		"--kube-api-qps="+strconv.Itoa(qps), "--kube-api-burst="+strconv.Itoa(2*qps)); err != nil {
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
	return c.poll(ctx, "fake nodes Ready and schedulable, and ServiceAccount default/default", func(ctx context.Context) (bool, error) {
		return c.simReady(ctx, cs)
	})
}

// notReadyTaints are the taints the node lifecycle controller (and the
// NodeTaint admission plugin, at creation) put on a Node whose Ready
// condition is not True. A Node that carries one still refuses Pods for a
// moment after kwok reported it Ready: the controller removes the taint on
// its own schedule.
var notReadyTaints = []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable}

// simReady reports whether every fake node is Ready and schedulable (no
// not-ready or unreachable taint, not cordoned) and the default ServiceAccount
// of namespace default exists (Pods are refused before that). Errors from the
// API server are transient here: the caller's deadline decides.
func (c *Cluster) simReady(ctx context.Context, cs kubernetes.Interface) (bool, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		c.setWaitingFor("listing nodes: " + err.Error())
		return false, nil
	}
	ready := 0
	for _, n := range nodes.Items {
		if why := nodeNotSchedulable(&n); why != "" {
			c.setWaitingFor("node " + n.Name + " " + why)
			return false, nil
		}
		ready++
	}
	if ready < c.opts.Nodes {
		c.setWaitingFor(fmt.Sprintf("%d of %d nodes exist", ready, c.opts.Nodes))
		return false, nil
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		c.setWaitingFor("ServiceAccount default/default: " + err.Error())
		return false, nil
	}
	return true, nil
}

// nodeNotSchedulable says why the scheduler would not place a Pod that
// tolerates nothing on n, or "" when it would.
func nodeNotSchedulable(n *corev1.Node) string {
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return "is not Ready"
	}
	if n.Spec.Unschedulable {
		return "is cordoned"
	}
	for _, t := range n.Spec.Taints {
		if slices.Contains(notReadyTaints, t.Key) {
			return "has taint " + t.ToString()
		}
	}
	return ""
}

// poll runs cond until it returns true, an error, a process dies, ctx ends or
// the start timeout passes. The error names what was still missing.
func (c *Cluster) poll(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	c.setWaitingFor("")
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, c.opts.StartTimeout, true, func(ctx context.Context) (bool, error) {
		if err := c.exitedProcess(); err != nil {
			return false, err
		}
		return cond(ctx)
	})
	if err != nil {
		if last := c.waitingFor(); last != "" {
			return fmt.Errorf("waiting for %s (last: %s): %w", what, last, err)
		}
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// exitedProcess returns the error of a cluster process that has exited.
func (c *Cluster) exitedProcess() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.exited() {
			return p.diedError()
		}
	}
	return nil
}

func (c *Cluster) setWaitingFor(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastWait = s
}

func (c *Cluster) waitingFor() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastWait
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
