package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// newRESTClient returns the JSON REST client server-side apply requests go
// through. Unlike the dynamic client's Apply it exposes the HTTP status,
// which tells a create (201) from an update (200) without another request.
func newRESTClient(cfg *rest.Config, hc *http.Client) (rest.Interface, error) {
	c := dynamic.ConfigFor(cfg)
	c.ContentType, c.AcceptContentTypes = "application/json", "application/json"
	c.GroupVersion = nil
	c.APIPath = "/"
	return rest.UnversionedRESTClientForConfigAndClient(c, hc)
}

// resourcePath returns the URL path segments of an object.
func resourcePath(gvr schema.GroupVersionResource, ns, name string) []string {
	p := []string{"/apis", gvr.Group, gvr.Version}
	if gvr.Group == "" {
		p = []string{"/api", gvr.Version}
	}
	if ns != "" {
		p = append(p, "namespaces", ns)
	}
	return append(p, gvr.Resource, name)
}

// serverSideApply sends one server-side apply request and returns the
// object the server answered with and whether the request created it.
func (m *Manager) serverSideApply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured,
	force, dryRun bool) (*unstructured.Unstructured, bool, error) {
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, false, err
	}
	req := m.rest.Patch(types.ApplyPatchType).
		AbsPath(resourcePath(gvr, obj.GetNamespace(), obj.GetName())...).
		Param("fieldManager", m.opts.FieldManager).
		Body(body)
	if force {
		req = req.Param("force", "true")
	}
	if dryRun {
		req = req.Param("dryRun", metav1.DryRunAll)
	}
	res := req.Do(ctx)
	if err := res.Error(); err != nil {
		return nil, false, err // with the server's Status details
	}
	raw, err := res.Raw()
	if err != nil {
		return nil, false, err
	}
	var code int
	res.StatusCode(&code)
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(raw); err != nil {
		return nil, false, fmt.Errorf("decode the server's answer: %w", err)
	}
	return out, code == http.StatusCreated, nil
}
