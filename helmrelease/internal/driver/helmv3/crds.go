package helmv3

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/resource"

	hrdriver "github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// EnsureNamespace implements [hrdriver.Driver].
func (d *Driver) EnsureNamespace(ctx context.Context) error {
	cs, err := d.cfg.KubernetesClientSet()
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   d.namespace,
		Labels: map[string]string{"name": d.namespace},
	}}
	_, err = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", d.namespace, err)
	}
	return nil
}

// ApplyCRDs implements [hrdriver.Driver].
func (d *Driver) ApplyCRDs(ctx context.Context, ch *hrdriver.Chart, replace bool, timeout time.Duration) error {
	c, err := load(ch)
	if err != nil {
		return err
	}
	var applied kube.ResourceList
	for _, crd := range c.CRDObjects() {
		if err := ctx.Err(); err != nil {
			return err
		}
		list, err := d.kc.Build(bytes.NewReader(crd.File.Data), false)
		if err != nil {
			return fmt.Errorf("CRD file %s: %w", crd.Filename, err)
		}
		for _, info := range list {
			changed, err := createOrReplace(info, replace)
			if err != nil {
				return fmt.Errorf("CRD %s: %w", info.Name, err)
			}
			if changed {
				applied = append(applied, info)
			}
		}
	}
	if len(applied) == 0 {
		return nil
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	if err := d.kc.Wait(applied, timeout); err != nil {
		return fmt.Errorf("wait for CRDs: %w", err)
	}
	d.getter.discovery.Invalidate()
	if m, ok := d.getter.mapper.(meta.ResettableRESTMapper); ok {
		m.Reset()
	}
	return nil
}

func createOrReplace(info *resource.Info, replace bool) (bool, error) {
	h := resource.NewHelper(info.Client, info.Mapping)
	_, err := h.Create(info.Namespace, true, info.Object)
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	if !replace {
		return false, nil
	}
	existing, err := h.Get(info.Namespace, info.Name)
	if err != nil {
		return false, err
	}
	rv, err := meta.NewAccessor().ResourceVersion(existing)
	if err != nil {
		return false, err
	}
	if err := meta.NewAccessor().SetResourceVersion(info.Object, rv); err != nil {
		return false, err
	}
	if _, err := h.Replace(info.Namespace, info.Name, true, info.Object); err != nil {
		return false, err
	}
	return true, nil
}
