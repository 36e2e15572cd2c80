package gitopstest_test

import (
	"context"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// shared is the bare API server the package's tests share, started by the
// first test that needs it.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	os.Exit(shared.Run(m))
}

// cluster returns the shared cluster; it skips t with -short.
func cluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	return shared.Get(t)
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cluster(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestClusterServesAndEnforcesRBAC(t *testing.T) {
	ctx := t.Context()
	cs := clientset(t)
	name := gitopstest.UniqueName("kit")
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Data:       map[string]string{"hello": "world"},
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil || got.Data["hello"] != "world" {
		t.Fatalf("read back: %v %v", got, err)
	}

	// A user without bindings is authenticated but forbidden: RBAC is on.
	cfg, err := cluster(t).UserConfig("alice", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	alice := kubernetes.NewForConfigOrDie(cfg)
	_, err = alice.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("alice reading a ConfigMap: got %v, want Forbidden", err)
	}
}

func TestClusterAPIServerRestart(t *testing.T) {
	ctx := t.Context()
	cs := clientset(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gitopstest.UniqueName("restart")}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cluster(t).StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Get(short, ns.Name, metav1.GetOptions{}); err == nil {
		t.Fatal("API server answered while stopped")
	}
	if err := cluster(t).StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace lost across the restart: %v", err)
	}
}

func deployment(name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	podLabels := map[string]string{"app": name}
	for k, v := range labels {
		podLabels[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To(replicas),
			ProgressDeadlineSeconds: ptr.To[int32](5),
			Selector:                &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
			},
		},
	}
}

// TestSimClusterRollouts proves that the simulated cluster rolls Deployments
// out and fails them the way a real cluster does.
func TestSimClusterRollouts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated cluster (~12 s)")
	}
	sim := gitopstest.StartSimCluster(t)
	cs := kubernetes.NewForConfigOrDie(sim.Config)
	ctx := t.Context()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 3 {
		t.Fatalf("nodes: %d, %v", len(nodes.Items), err)
	}
	for _, n := range nodes.Items {
		if len(n.Spec.Taints) != 0 {
			t.Errorf("node %s has taints %v; fake nodes must accept unmodified manifests", n.Name, n.Spec.Taints)
		}
	}

	tests := []struct {
		name       string
		deployment *appsv1.Deployment
		wantType   appsv1.DeploymentConditionType
		wantStatus corev1.ConditionStatus
		wantReason string
		wantReady  int32
	}{
		{"available", deployment("web", 3, nil), appsv1.DeploymentAvailable, corev1.ConditionTrue, "MinimumReplicasAvailable", 3},
		{"never ready", deployment("stuck", 2, map[string]string{kubeassets.NeverReadyLabel: "true"}),
			appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cs.AppsV1().Deployments("default").Create(ctx, tt.deployment, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(90 * time.Second)
			for {
				d, err := cs.AppsV1().Deployments("default").Get(ctx, tt.deployment.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range d.Status.Conditions {
					if c.Type == tt.wantType && c.Status == tt.wantStatus && c.Reason == tt.wantReason {
						if d.Status.ReadyReplicas != tt.wantReady {
							t.Fatalf("ready replicas %d, want %d", d.Status.ReadyReplicas, tt.wantReady)
						}
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("condition %s=%s (%s) not reached; status: %+v", tt.wantType, tt.wantStatus, tt.wantReason, d.Status)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
}
