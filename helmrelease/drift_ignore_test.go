package helmrelease

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/internal/jsonpointer"
)

// TestDriftIgnore: fields another controller owns (the replicas an
// autoscaler sets) are neither reported nor corrected; the other drifted
// fields of the same object are corrected around them, and objects the
// rule does not select are reported as before.
func TestDriftIgnore(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	ns := uniqueNamespace("drift-ignore")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Timeout: time.Minute,
		Drift: DriftPolicy{Mode: DriftWarn, Ignore: []DriftIgnore{
			{Paths: []string{"/spec/replicas"}, Target: &build.Selector{Kind: "Deployment"}},
			{Paths: []string{"/metadata/annotations/example.com~1touched"}},
		}},
	}
	mustReconcile(t, r, rel)
	ctx := t.Context()
	cs := clientset(t)

	// An autoscaler scales the Deployment, someone edits its image and the
	// ConfigMap, and a webhook annotates the ConfigMap.
	scaleDeployment(t, ns, "web", 4)
	editConfigMap(t, ns, "web-config", func(cm *corev1.ConfigMap) {
		cm.Data["message"] = "edited by hand"
		cm.Annotations["example.com/touched"] = "by a webhook"
	})

	// Only the ConfigMap's data drifted, as far as the release is concerned.
	st := mustReconcile(t, r, rel)
	got := map[string][]string{}
	for _, d := range st.Drift {
		got[d.Kind] = d.Fields
	}
	if len(got) != 1 || !slices.Equal(got["ConfigMap"], []string{"data.message"}) {
		t.Fatalf("warn with ignore rules: drift %v, want only ConfigMap data.message", got)
	}

	// The image too: the Deployment drifted, and is corrected without its
	// replicas.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		dep.Spec.Template.Spec.Containers[0].Image = "example.com/app:hotfix"
		_, err = cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rel.Drift.Mode = DriftCorrect
	st = mustReconcile(t, r, rel)
	got = map[string][]string{}
	for _, d := range st.Drift {
		got[d.Kind] = d.Fields
		if !d.Corrected {
			t.Errorf("%s not corrected", d)
		}
	}
	if !slices.Equal(got["Deployment"], []string{"spec.template.spec.containers[0].image"}) || !slices.Equal(got["ConfigMap"], []string{"data.message"}) {
		t.Errorf("correct with ignore rules: drift %v", got)
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 4 || dep.Spec.Template.Spec.Containers[0].Image != "example.com/app:1.0.0" {
		t.Errorf("after correction: replicas %d image %s, want 4 (ignored) and example.com/app:1.0.0", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["message"] != "hello" || cm.Annotations["example.com/touched"] != "by a webhook" {
		t.Errorf("ConfigMap after correction: data %v annotations %v", cm.Data, cm.Annotations)
	}
	if st = mustReconcile(t, r, rel); len(st.Drift) != 0 {
		t.Errorf("after correction: drift %+v", st.Drift)
	}
}

func TestDriftIgnoreValidate(t *testing.T) {
	for _, tc := range []struct {
		rule DriftIgnore
		ok   bool
	}{
		{DriftIgnore{Paths: []string{"/spec/replicas"}}, true},
		{DriftIgnore{Paths: []string{"/metadata/annotations/a~1b", "/data/x~0y"}, Target: &build.Selector{Kind: "Config.*", LabelSelector: "app=web"}}, true},
		{DriftIgnore{}, false},
		{DriftIgnore{Paths: []string{"spec/replicas"}}, false},
		{DriftIgnore{Paths: []string{"/"}}, false},
		{DriftIgnore{Paths: []string{"/a~2b"}}, false},
		{DriftIgnore{Paths: []string{"/spec"}, Target: &build.Selector{Name: "web("}}, false},
		{DriftIgnore{Paths: []string{"/spec"}, Target: &build.Selector{LabelSelector: "a in (("}}, false},
	} {
		err := tc.rule.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err = %v, want ok %v", tc.rule, err, tc.ok)
		}
	}
	rel := Release{Name: "x", Namespace: "x", Chart: ChartRef{Path: "."}, Drift: DriftPolicy{Ignore: []DriftIgnore{{Paths: []string{"bad"}}}}}
	if err := rel.Validate(); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("Release.Validate with a bad ignore rule: %v", err)
	}
}

func TestPatchOpsAroundIgnoredPaths(t *testing.T) {
	decode := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	live := decode(`{"spec":{"replicas":4,"paused":true,"template":{"spec":{"containers":[{"name":"a","image":"x:hotfix"}]}}},"metadata":{"annotations":{"a/b":"1","keep":"k"}}}`)
	want := decode(`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"a","image":"x:1"}]}},"minReadySeconds":5},"metadata":{"annotations":{"keep":"k"}}}`)
	ignored := [][]string{{"spec", "replicas"}, {"metadata", "annotations", "a/b"}, {"spec", "nothing", "here"}, {"spec", "template", "spec", "containers", "7"}}
	for _, p := range ignored {
		jsonpointer.Remove(live, p)
		jsonpointer.Remove(want, p)
	}
	ops := patchOps("", live, want, nil)
	b, _ := json.Marshal(ops)
	const expect = `[{"op":"add","path":"/spec/minReadySeconds","value":5},{"op":"remove","path":"/spec/paused"},` +
		`{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"x:1"}]`
	if string(b) != expect {
		t.Errorf("ops\n got %s\nwant %s", b, expect)
	}
}
