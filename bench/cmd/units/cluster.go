package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// env is what every tool of one size shares: the cluster, the Git server and
// the repository of units.
type env struct {
	n       int
	dir     string
	cluster *localcluster.Cluster
	admin   *rest.Config // the benchmark's own, uncounted client
	cs      kubernetes.Interface
	git     *gitserver.Server
	repoURL string
}

// Names shared by both tools' setups.
const (
	repoName    = "units"
	tenantSA    = "tenant" // the service account every unit impersonates
	unitsDir    = "units"
	deadlinePad = 30 * time.Second
)

// serviceCIDR is added to the cluster's own /24 (localcluster's
// --service-cluster-ip-range) so that 2 x 1,000 ClusterIP Services fit.
const serviceCIDR = "10.96.0.0/16"

func runSize(ctx context.Context, c config, bins binaries, n int, dir string) ([]row, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e, err := startEnv(ctx, c, n, dir)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	var rows []row
	for i, tool := range c.tools {
		if i > 0 {
			if err := ctx.Err(); err != nil {
				return rows, err
			}
		}
		log.Printf("%d units: %s", n, tool)
		var r row
		switch tool {
		case toolGitopskit:
			r, err = runGitopskit(ctx, c, e, bins)
		case toolFlux:
			r, err = runFlux(ctx, c, e, bins)
		case toolFloor:
			r, err = runFloor(ctx, c, e)
		}
		if err != nil {
			return rows, fmt.Errorf("%s: %w", tool, err)
		}
		log.Printf("%d units: %s", n, r.summary())
		rows = append(rows, r)
		if i < len(c.tools)-1 {
			if err := e.deleteNamespace(ctx, namespaceOf(tool), c.cleanup); err != nil {
				log.Printf("cleanup: %v (continuing)", err)
			}
		}
	}
	return rows, nil
}

func startEnv(ctx context.Context, c config, n int, dir string) (_ *env, err error) {
	e := &env{n: n, dir: dir}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	t0 := time.Now()
	e.cluster, err = localcluster.Start(ctx, localcluster.Options{
		Simulated:     !c.bare,
		ControllerQPS: c.controllerQPS,
		AssetsDir:     c.assets,
		Dir:           filepath.Join(dir, "cluster"),
		Log:           logWriter{},
	})
	if err != nil {
		return nil, err
	}
	e.admin = e.cluster.Config
	if e.cs, err = kubernetes.NewForConfig(e.admin); err != nil {
		return nil, err
	}
	sc := &networkingv1.ServiceCIDR{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{serviceCIDR}},
	}
	if _, err := e.cs.NetworkingV1().ServiceCIDRs().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("add ServiceCIDR %s: %w", serviceCIDR, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "git"), 0o755); err != nil {
		return nil, err
	}
	if e.git, err = gitserver.Start(ctx, gitserver.Options{Root: filepath.Join(dir, "git")}); err != nil {
		return nil, err
	}
	repo, err := e.git.CreateRepo(ctx, repoName)
	if err != nil {
		return nil, err
	}
	if _, err := repo.Commit(ctx, gitserver.CommitOptions{Message: "units", Files: unitFiles(n)}); err != nil {
		return nil, err
	}
	e.repoURL = repo.HTTPURL()
	log.Printf("%d units: cluster, Git server and repository ready (%s)", n, time.Since(t0).Round(time.Millisecond))
	return e, nil
}

func (e *env) stop() {
	if e.git != nil {
		_ = e.git.Close()
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			log.Printf("stop cluster: %v", err)
		}
	}
}

// prepareTenant creates a tool's namespace with flux-benchmark's tenant: a
// service account bound to the ClusterRole admin in the namespace (its
// templates/rbac.cue, role "namespace-admin", the default).
func (e *env) prepareTenant(ctx context.Context, ns string) error {
	labels := map[string]string{"toolkit.fluxcd.io/tenant": ns}
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := e.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: tenantSA, Namespace: ns, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := e.cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: tenantSA, Namespace: ns}},
	}, metav1.CreateOptions{})
	return err
}

// controllerProxy starts the counting proxy of a tool's process. It
// forwards as the service account user ns/name bound to cluster-admin, as
// Flux's controllers run (flux-benchmark's manifests/rbac/reconciler.yaml).
// Not system:masters, whose requests API Priority and Fairness exempts: the
// tools meet the same flow control (the "service-accounts" flow schema) as
// in a cluster.
func (e *env) controllerProxy(ctx context.Context, ns, name string) (*proxy, error) {
	user := "system:serviceaccount:" + ns + ":" + name
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-" + ns + "-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if _, err := e.cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	id, err := e.cluster.UserConfig(user, "system:serviceaccounts", "system:serviceaccounts:"+ns, "system:authenticated")
	if err != nil {
		return nil, err
	}
	return startProxy(id)
}

// deleteNamespace deletes a tool's namespace and waits until the namespace
// controller has removed it and everything in it.
func (e *env) deleteNamespace(ctx context.Context, ns string, timeout time.Duration) error {
	t0 := time.Now()
	err := e.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for time.Since(t0) < timeout {
		if _, err := e.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			log.Printf("namespace %s deleted (%s)", ns, time.Since(t0).Round(time.Second))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("namespace %s still there after %s", ns, timeout)
}

// countDeployments returns how many Deployments ns holds, as a check that
// a tool really applied its units.
func (e *env) countDeployments(ctx context.Context, ns string) (int, error) {
	l, err := e.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	return len(l.Items), nil
}

func unitPath(i int) string { return unitsDir + "/unit-" + strconv.Itoa(i) }

type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	log.Print(string(p))
	return len(p), nil
}
