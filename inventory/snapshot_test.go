package inventory_test

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/inventory"
)

// TestSnapshot: stores loading from one snapshot see what Load sees, with
// one LIST per 500 parents and no request per store; a foreign parent is
// refused as Load refuses it; a save after the snapshot is a conflict, not a
// lost entry.
func TestSnapshot(t *testing.T) {
	ctx := t.Context()
	ns := gitopstest.UniqueName("snap")
	kc := kubernetes.NewForConfigOrDie(testCluster(t).Config)
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) })

	c := admin(t)
	const units = 510 // two pages
	stores := make([]*inventory.Store, units+1)
	for i := range stores {
		s, err := inventory.NewStore(c, inventory.StoreOptions{Name: fmt.Sprintf("unit-%d", i), Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	for i, s := range stores[:units] {
		inv := inventory.Inventory{Entries: []inventory.Entry{{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: fmt.Sprintf("cm-%d", i)}}}
		if err := s.Save(ctx, &inv); err != nil {
			t.Fatal(err)
		}
	}
	// A Secret of a unit's name that is not an ApplySet parent, and one
	// that another tool manages.
	foreign := inventory.ApplySetID("unit-1", ns, "Secret", "")
	if err := kc.CoreV1().Secrets(ns).Delete(ctx, "unit-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "unit-1", Namespace: ns, Labels: map[string]string{inventory.LabelApplySetID: foreign},
			Annotations: map[string]string{inventory.AnnotationApplySetTooling: "kubectl/v1.37.2"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unit-%d", units), Namespace: ns}},
	} {
		if _, err := kc.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	counted, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := inventory.ReadSnapshot(ctx, counted, ns, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := counted.Requests(); got.Total() != 2 || got.Verb("list") != 2 {
		t.Errorf("snapshot of %d parents: %v, want 2 LISTs", units, got)
	}
	if snap.Len() != units {
		t.Errorf("snapshot holds %d parents, want %d (the unlabelled Secret is not one)", snap.Len(), units)
	}
	before := counted.Requests()
	for i, s := range stores {
		got, err := s.LoadFrom(ctx, snap)
		var fe *inventory.ForeignToolError
		switch i {
		case 1:
			if !errors.As(err, &fe) {
				t.Errorf("unit-1: %v, want a ForeignToolError", err)
			}
			continue
		case units:
			if err != nil || got.Len() != 0 {
				t.Errorf("unit-%d (not a parent): %v %v, want empty", i, got, err)
			}
			continue
		}
		want, err2 := s.Load(ctx)
		if err != nil || err2 != nil {
			t.Fatalf("unit-%d: %v / %v", i, err, err2)
		}
		if !inventory.Equal(got, want) || got.ResourceVersion != want.ResourceVersion {
			t.Errorf("unit-%d: snapshot %v (rv %s), Load %v (rv %s)", i, got, got.ResourceVersion, want, want.ResourceVersion)
		}
	}
	if n := counted.Requests().Sub(before).Total(); n != 0 {
		t.Errorf("LoadFrom made %d requests", n)
	}

	// A save since the snapshot: the outdated load gets a conflict.
	latest, err := stores[0].Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest.Entries = append(latest.Entries, inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "added"})
	if err := stores[0].Save(ctx, &latest); err != nil {
		t.Fatal(err)
	}
	old, err := stores[0].LoadFrom(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := stores[0].Save(ctx, &old); !errors.Is(err, inventory.ErrConflict) {
		t.Errorf("save over an outdated snapshot: %v, want a conflict", err)
	}
	// Creating the parent the snapshot did not list, over the Secret of
	// its name: a conflict too.
	var empty inventory.Inventory
	if err := stores[units].Save(ctx, &empty); !errors.Is(err, inventory.ErrConflict) {
		t.Errorf("create over a Secret of the name: %v, want a conflict", err)
	}

	if _, err := inventory.ReadSnapshot(ctx, nil, ns, ""); err == nil {
		t.Error("ReadSnapshot(nil cluster) succeeded")
	}
	if _, err := inventory.ReadSnapshot(ctx, c, ns, "Deployment"); err == nil {
		t.Error("ReadSnapshot of kind Deployment succeeded")
	}
}
