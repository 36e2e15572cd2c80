package object

import (
	"math/rand/v2"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSortOrder(t *testing.T) {
	want := []string{
		"apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com",
		"core/Namespace//a",
		"core/Namespace//b",
		"rbac.authorization.k8s.io/ClusterRole//reader",
		"scheduling.k8s.io/PriorityClass//high",
		"storage.k8s.io/StorageClass//fast",
		"core/ConfigMap/a/cfg",
		"core/Secret/a/s",
		"core/Service/a/web",
		"core/ServiceAccount/a/sa",
		"rbac.authorization.k8s.io/Role/a/r",
		"rbac.authorization.k8s.io/RoleBinding/a/rb",
		"apps/Deployment/a/web",
		"apps/Deployment/b/web",
		"apps/StatefulSet/a/db",
		"batch/Job/a/migrate",
		"example.com/Widget/a/w",
		"networking.k8s.io/Ingress/a/web",
		"admissionregistration.k8s.io/ValidatingWebhookConfiguration//check",
	}
	var objs []*unstructured.Unstructured
	for _, s := range want {
		k, err := ParseKey(s)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj(schema.GroupVersion{Group: k.Group, Version: "v1"}.String(), k.Kind, k.Namespace, k.Name))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(objs)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		Sort(shuffled)
		var got []string
		for _, o := range shuffled {
			got = append(got, KeyOf(o).String())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Sort order:\n got %q\nwant %q", got, want)
		}
	}
}

func TestSortTiesByVersion(t *testing.T) {
	a := obj("apps/v1beta2", "Deployment", "a", "x")
	b := obj("apps/v1", "Deployment", "a", "x")
	objs := []*unstructured.Unstructured{a, b}
	Sort(objs)
	if objs[0] != b {
		t.Fatal("equal keys must be ordered by apiVersion")
	}
}

func TestRank(t *testing.T) {
	tests := []struct {
		gk   schema.GroupKind
		want int
	}{
		{schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}, RankCRD},
		{schema.GroupKind{Kind: "Namespace"}, RankNamespace},
		{schema.GroupKind{Group: "networking.k8s.io", Kind: "IngressClass"}, RankClusterPrerequisite},
		{schema.GroupKind{Kind: "Secret"}, RankNamespacedPrerequisite},
		{schema.GroupKind{Group: "batch", Kind: "CronJob"}, RankWorkload},
		{schema.GroupKind{Group: "example.com", Kind: "Deployment"}, RankOther},
		{schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}, RankLast},
	}
	for _, tt := range tests {
		if got := Rank(tt.gk); got != tt.want {
			t.Errorf("Rank(%v) = %d, want %d", tt.gk, got, tt.want)
		}
	}
}

func TestIsBuiltinClusterScoped(t *testing.T) {
	if !IsBuiltinClusterScoped(schema.GroupKind{Kind: "Namespace"}) {
		t.Error("Namespace is cluster-scoped")
	}
	if IsBuiltinClusterScoped(schema.GroupKind{Group: "apps", Kind: "Deployment"}) {
		t.Error("Deployment is namespaced")
	}
	if IsBuiltinClusterScoped(schema.GroupKind{Group: "example.com", Kind: "Widget"}) {
		t.Error("custom resources are not known")
	}
}
