package helmrelease

import (
	"errors"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/gitopstest"
)

// findObject returns the object of kind and name in objs, or nil.
func findObject(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// Post renderers (a strategic merge patch of a label and the replicas, an
// image override, a JSON 6902 patch with a target) change what is
// installed, and Template renders the same offline; changing them
// upgrades the release, and one that does not apply fails before any
// revision is written.
func TestPostRenderers(t *testing.T) {
	t.Parallel()
	ns := uniqueNamespace("postrender")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Timeout: time.Minute,
		PostRenderers: []PostRenderer{
			{
				Patches: []build.Patch{{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {team: platform}\nspec:\n  replicas: 2\n"}},
				Images:  []build.Image{{Name: "example.com/app", NewName: "mirror.example.com/app", NewTag: "9.9"}},
			},
			{Patches: []build.Patch{{
				Patch:  "- op: replace\n  path: /data/message\n  value: patched\n",
				Target: &build.Selector{Kind: "ConfigMap", Name: "web-.*"},
			}}},
		},
	}

	// Offline.
	objs, _, err := Template(t.Context(), rel, TemplateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep, cm := findObject(objs, "Deployment", "web"), findObject(objs, "ConfigMap", "web-config")
	if dep == nil || cm == nil {
		t.Fatalf("Template: %d objects, Deployment %v ConfigMap %v", len(objs), dep != nil, cm != nil)
	}
	replicas, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	image := containers[0].(map[string]any)["image"]
	message, _, _ := unstructured.NestedString(cm.Object, "data", "message")
	if dep.GetLabels()["team"] != "platform" || fmt.Sprint(replicas) != "2" || image != "mirror.example.com/app:9.9" || message != "patched" {
		t.Fatalf("Template: team %q replicas %v image %v message %q", dep.GetLabels()["team"], replicas, image, message)
	}

	// On the cluster.
	r, _ := newTestReconciler(t)
	st := mustReconcile(t, r, rel)
	if st.Reason != ReasonInstalled {
		t.Fatalf("reason %s", st.Reason)
	}
	live, err := clientset(t).AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Labels["team"] != "platform" || *live.Spec.Replicas != 2 || live.Spec.Template.Spec.Containers[0].Image != "mirror.example.com/app:9.9" {
		t.Errorf("live Deployment: team %q replicas %d image %s", live.Labels["team"], *live.Spec.Replicas, live.Spec.Template.Spec.Containers[0].Image)
	}
	if got := configMapData(t, ns, "web-config")["message"]; got != message {
		t.Errorf("live message %q, Template's %q", got, message)
	}
	if st := mustReconcile(t, r, rel); st.Reason != ReasonUpToDate {
		t.Errorf("again: %s, want %s", st.Reason, ReasonUpToDate)
	}

	// Changing a post renderer upgrades.
	rel.PostRenderers[0].Images[0].NewTag = "10.0"
	if st := mustReconcile(t, r, rel); st.Reason != ReasonUpgraded || st.Revision != 2 {
		t.Fatalf("new post renderer: %s revision %d", st.Reason, st.Revision)
	}
	live, err = clientset(t).AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil || live.Spec.Template.Spec.Containers[0].Image != "mirror.example.com/app:10.0" {
		t.Errorf("after upgrade: %v %v", err, live.Spec.Template.Spec.Containers)
	}

	// A strategic merge patch naming no rendered object.
	bad := rel
	bad.PostRenderers = []PostRenderer{{Patches: []build.Patch{{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: missing}\ndata: {a: b}\n"}}}}
	st, err = r.Reconcile(t.Context(), bad)
	if !errors.Is(err, ErrPostRender) || st.Reason != ReasonPostRenderFailed || st.Revision != 2 {
		t.Errorf("bad post renderer: reason %s revision %d err %v", st.Reason, st.Revision, err)
	}
	if _, _, err := Template(t.Context(), bad, TemplateOptions{}); !errors.Is(err, ErrPostRender) {
		t.Errorf("Template with a bad post renderer: %v", err)
	}
}

// Values files of the chart replace its default values, merged in order;
// the release's values are merged over them; a missing file is a typed
// error unless ignored.
func TestValuesFiles(t *testing.T) {
	t.Parallel()
	c := appChart("1.0.0")
	c.Files = map[string]string{"values-prod.yaml": "message: prod\nreplicas: 2\n", "values-eu.yaml": "message: prod-eu\n"}
	dir := gitopstest.WriteChartDir(t, c)
	message := func(t *testing.T, rel Release) string {
		t.Helper()
		objs, _, err := Template(t.Context(), rel, TemplateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm := findObject(objs, "ConfigMap", "web-config")
		m, _, _ := unstructured.NestedString(cm.Object, "data", "message")
		return m
	}
	base := Release{Name: "web", Namespace: "apps", Chart: ChartRef{Path: dir}}
	tests := []struct {
		name    string
		files   []string
		ignore  bool
		values  map[string]any
		message string
		missing bool
	}{
		{"none", nil, false, nil, "hello", false},
		{"over values.yaml", []string{"values.yaml", "values-prod.yaml"}, false, nil, "prod", false},
		{"later wins", []string{"values.yaml", "values-prod.yaml", "values-eu.yaml"}, false, nil, "prod-eu", false},
		{"release values win", []string{"values.yaml", "values-prod.yaml"}, false, map[string]any{"message": "inline"}, "inline", false},
		{"missing", []string{"values.yaml", "values-staging.yaml"}, false, nil, "", true},
		{"missing ignored", []string{"values.yaml", "values-staging.yaml", "values-prod.yaml"}, true, nil, "prod", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := base
			rel.Chart.ValuesFiles, rel.Chart.IgnoreMissingValuesFiles, rel.Values = tt.files, tt.ignore, tt.values
			if tt.missing {
				_, _, err := Template(t.Context(), rel, TemplateOptions{})
				var vfe *ValuesFileError
				if !errors.As(err, &vfe) || !errors.Is(err, ErrValuesFileNotFound) || !errors.Is(err, ErrValues) || vfe.File != "values-staging.yaml" {
					t.Fatalf("err %v, want a *ValuesFileError for values-staging.yaml", err)
				}
				return
			}
			if got := message(t, rel); got != tt.message {
				t.Errorf("message %q, want %q", got, tt.message)
			}
		})
	}

	// On the cluster: installed with the files' values; a missing file is
	// reported as a values failure before any action.
	r, _ := newTestReconciler(t)
	rel := base
	rel.Namespace, rel.CreateNamespace, rel.Timeout = uniqueNamespace("valuesfiles"), true, time.Minute
	rel.Chart.ValuesFiles = []string{"values.yaml", "values-prod.yaml"}
	mustReconcile(t, r, rel)
	if got := configMapData(t, rel.Namespace, "web-config")["message"]; got != "prod" {
		t.Errorf("live message %q, want prod", got)
	}
	// Another list of files is another chart: an upgrade.
	rel.Chart.ValuesFiles = append(rel.Chart.ValuesFiles, "values-eu.yaml")
	if st := mustReconcile(t, r, rel); st.Reason != ReasonUpgraded {
		t.Errorf("new values files: %s, want %s", st.Reason, ReasonUpgraded)
	}
	rel.Chart.ValuesFiles = []string{"values-staging.yaml"}
	st, err := r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrValuesFileNotFound) || st.Reason != ReasonValuesFailed || len(st.Actions) != 0 {
		t.Errorf("missing file: reason %s actions %v err %v", st.Reason, st.Actions, err)
	}
}
