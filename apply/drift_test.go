package apply_test

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
)

func TestDrift(t *testing.T) {
	base := func(mut func(map[string]any)) *unstructured.Unstructured {
		u := deployment("ns", "web", nil)
		u.Object["metadata"].(map[string]any)["resourceVersion"] = "1"
		u.Object["status"] = map[string]any{"replicas": int64(1)}
		if mut != nil {
			mut(u.Object)
		}
		return u
	}
	spec := func(o map[string]any) map[string]any { return o["spec"].(map[string]any) }
	tests := []struct {
		name   string
		live   *unstructured.Unstructured
		ignore []string
		want   []string
	}{
		{"equal", base(nil), nil, nil},
		{"server fields are not drift", base(func(o map[string]any) {
			o["metadata"].(map[string]any)["resourceVersion"] = "9"
			o["status"] = map[string]any{"replicas": int64(3)}
		}), nil, nil},
		{"scalar", base(func(o map[string]any) { spec(o)["replicas"] = int64(3) }), nil, []string{"/spec/replicas: 3 -> 1"}},
		{"int and float are equal", base(func(o map[string]any) { spec(o)["replicas"] = float64(1) }), nil, nil},
		{"ignored", base(func(o map[string]any) { spec(o)["replicas"] = int64(3) }), []string{"/spec/replicas"}, nil},
		{"list element", base(func(o map[string]any) {
			spec(o)["template"].(map[string]any)["spec"].(map[string]any)["containers"] = []any{map[string]any{"name": "app", "image": "other"}}
		}), nil, []string{"/spec/template/spec/containers/0/image: other -> example.invalid/app:1"}},
		{"added field", base(func(o map[string]any) { delete(spec(o), "progressDeadlineSeconds") }), nil,
			[]string{"/spec/progressDeadlineSeconds: (absent) -> 5"}},
		{"escaped key", base(func(o map[string]any) {
			o["metadata"].(map[string]any)["labels"] = map[string]any{"app.kubernetes.io/name": "x"}
		}), nil, []string{"/metadata/labels/app.kubernetes.io~1name: x -> (absent)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range apply.Drift(tt.live, base(nil), tt.ignore...) {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("drift %q, want %q", got, tt.want)
			}
		})
	}
}

func TestManifestHash(t *testing.T) {
	a, b := configMap("ns", "a", map[string]any{"k": "v"}), configMap("ns", "a", map[string]any{"k": "v"})
	ha, _ := apply.ManifestHash(a, "gitopskit")
	hb, _ := apply.ManifestHash(b, "gitopskit")
	hm, _ := apply.ManifestHash(a, "other")
	b.SetLabels(map[string]string{"x": "y"})
	hl, _ := apply.ManifestHash(b, "gitopskit")
	if ha != hb || ha == hm || ha == hl || len(ha) != 22 {
		t.Fatalf("hashes: equal objects %s %s, other manager %s, other labels %s", ha, hb, hm, hl)
	}
}

func TestChangeSetSummary(t *testing.T) {
	tests := []struct {
		cs   apply.ChangeSet
		want string
	}{
		{apply.ChangeSet{}, "no objects"},
		{apply.ChangeSet{Changes: []apply.Change{{Action: apply.Failed}, {Action: apply.Skipped}, {Action: apply.Created}}}, "1 created, 1 skipped, 1 failed"},
		{apply.ChangeSet{DryRun: true, Changes: []apply.Change{{Action: apply.Deleted}}}, "1 deleted (dry run)"},
	}
	for _, tt := range tests {
		if got := tt.cs.Summary(); got != tt.want {
			t.Errorf("Summary() = %q, want %q", got, tt.want)
		}
	}
}
