package health_test

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/health"
)

var widgetCheck = health.CELCheck{
	APIVersion: "example.gitopskit.io/v1",
	Kind:       "Widget",
	InProgress: "has(status.observedGeneration) && status.observedGeneration != metadata.generation",
	Failed:     "has(status.phase) && status.phase == 'Broken'",
	Current:    "has(status.phase) && status.phase == 'Ready'",
}

func widget(status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.gitopskit.io/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "ns", "generation": int64(2)},
	}}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func TestChecksStatus(t *testing.T) {
	checks, err := health.NewChecks(widgetCheck)
	if err != nil {
		t.Fatal(err)
	}
	deploy := func(conds ...any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "d", "namespace": "ns", "generation": int64(1)},
			"spec":     map[string]any{"replicas": int64(1)},
			"status": map[string]any{"observedGeneration": int64(1), "replicas": int64(1), "updatedReplicas": int64(1),
				"readyReplicas": int64(1), "availableReplicas": int64(1), "conditions": conds},
		}}
	}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want health.Status
	}{
		{"cel ready", widget(map[string]any{"phase": "Ready"}), health.Current},
		{"cel broken", widget(map[string]any{"phase": "Broken"}), health.Failed},
		{"cel generation not observed wins", widget(map[string]any{"phase": "Ready", "observedGeneration": int64(1)}), health.InProgress},
		{"cel no status", widget(nil), health.InProgress},
		{"kstatus deployment available", deploy(
			map[string]any{"type": "Available", "status": "True"},
			map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}), health.Current},
		{"kstatus deployment past deadline", deploy(
			map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}), health.Failed},
		{"kstatus configmap", &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c"}}}, health.Current},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checks.Status(tt.obj); got.Status != tt.want {
				t.Fatalf("status %v, want %s", got, tt.want)
			}
		})
	}
}

func TestChecksInvalid(t *testing.T) {
	tests := []struct {
		name  string
		check health.CELCheck
	}{
		{"syntax", health.CELCheck{APIVersion: "a/v1", Kind: "K", Current: "status.phase =="}},
		{"not bool", health.CELCheck{APIVersion: "a/v1", Kind: "K", Current: "'text'"}},
		{"no current", health.CELCheck{APIVersion: "a/v1", Kind: "K", Failed: "true"}},
		{"no kind", health.CELCheck{APIVersion: "a/v1", Current: "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ce *health.CheckError
			if _, err := health.NewChecks(tt.check); !errors.As(err, &ce) {
				t.Fatalf("got %v, want a CheckError", err)
			}
		})
	}
	if _, err := health.NewChecks(widgetCheck, widgetCheck); err == nil {
		t.Fatal("two checks for one kind accepted")
	}
}
