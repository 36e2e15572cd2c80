package build_test

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/build"
)

func TestSelectorMatches(t *testing.T) {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	obj.SetNamespace("shop")
	obj.SetName("web-frontend")
	obj.SetLabels(map[string]string{"tier": "web", "autoscaled": "true"})
	obj.SetAnnotations(map[string]string{"team": "shop"})
	for _, tc := range []struct {
		name string
		sel  build.Selector
		want bool
	}{
		{"empty selects everything", build.Selector{}, true},
		{"kind", build.Selector{Kind: "Deployment"}, true},
		{"kind is anchored", build.Selector{Kind: "Deploy"}, false},
		{"group and version", build.Selector{Group: "apps", Version: "v1"}, true},
		{"core group is empty", build.Selector{Group: "^$"}, false},
		{"name regexp", build.Selector{Name: "web-.*"}, true},
		{"name alternatives", build.Selector{Name: "api|worker"}, false},
		{"namespace", build.Selector{Namespace: "shop|cart"}, true},
		{"labels", build.Selector{LabelSelector: "tier=web,autoscaled"}, true},
		{"labels mismatch", build.Selector{LabelSelector: "tier!=web"}, false},
		{"annotations", build.Selector{AnnotationSelector: "team in (shop, cart)"}, true},
		{"all must hold", build.Selector{Kind: "Deployment", Name: "api"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.sel.Compile()
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(obj); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []build.Selector{{Name: "web("}, {Kind: "[a-"}, {LabelSelector: "a in (("}, {AnnotationSelector: "=x"}} {
		if _, err := bad.Compile(); !errors.Is(err, build.ErrInvalidSelector) {
			t.Errorf("%+v: err = %v, want ErrInvalidSelector", bad, err)
		}
	}
}
