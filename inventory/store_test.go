package inventory_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// shared is the bare API server the package's tests share, started by the
// first test that needs it: -short and a -run of tests that need none start
// none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{})

func TestMain(m *testing.M) {
	// Examples cannot skip themselves: with -short, Run skips these.
	os.Exit(shared.Run(m, "ExampleStore", "ExampleLedger"))
}

// testCluster returns the shared cluster, starting it on first use; it
// skips t with -short.
func testCluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	return shared.Get(t)
}

// exampleConfig returns the shared cluster's client configuration, starting
// it on first use, for the Examples (with -short, TestMain skips those that
// call it).
func exampleConfig() *rest.Config {
	c, err := shared.Start(context.Background())
	if err != nil {
		panic(err)
	}
	return c.Config
}

// admin returns the access to the test cluster as its administrator.
func admin(t *testing.T) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewStoreNilCluster(t *testing.T) {
	if _, err := inventory.NewStore(nil, inventory.StoreOptions{Name: "x", Namespace: "default"}); err == nil {
		t.Error("NewStore(nil) succeeded")
	}
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := t.Context()
	kc := kubernetes.NewForConfigOrDie(testCluster(t).Config)
	for _, kind := range []inventory.ParentKind{inventory.ParentSecret, inventory.ParentConfigMap} {
		t.Run(string(kind), func(t *testing.T) {
			// A name of the run's own: a run that failed before its Delete
			// leaves the parent behind.
			name := gitopstest.UniqueName("unit-" + strings.ToLower(string(kind)))
			store, err := inventory.NewStore(admin(t), inventory.StoreOptions{Name: name, Namespace: "default", Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := store.Load(ctx)
			if err != nil || inv.Len() != 0 || inv.ResourceVersion != "" {
				t.Fatalf("load before save: %v %v", inv, err)
			}
			inv = bigInventory(10_000)
			inv.Entries = append(inv.Entries, inventory.Entry{Version: "v1", Kind: "Namespace", Name: "team-x"})
			if err := store.Save(ctx, &inv); err != nil {
				t.Fatal(err)
			}
			if inv.ResourceVersion == "" {
				t.Fatal("Save did not record the resourceVersion")
			}
			back, err := store.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !inventory.Equal(back, inv) || back.ResourceVersion != inv.ResourceVersion {
				t.Fatalf("loaded %d entries (rv %s), saved %d (rv %s)", back.Len(), back.ResourceVersion, inv.Len(), inv.ResourceVersion)
			}

			// The parent follows the ApplySet convention.
			var meta metav1.ObjectMeta
			if kind == inventory.ParentSecret {
				s, err := kc.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				meta = s.ObjectMeta
			} else {
				c, err := kc.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				meta = c.ObjectMeta
			}
			if meta.Labels[inventory.LabelApplySetID] != inventory.ApplySetID(name, "default", string(kind), "") {
				t.Errorf("parent labels: %v", meta.Labels)
			}
			if got := meta.Annotations[inventory.AnnotationApplySetGroupKinds]; got != "ConfigMap,Deployment.apps,Namespace,Secret,Service" {
				t.Errorf("contains-group-kinds: %q", got)
			}
			if !strings.HasPrefix(meta.Annotations[inventory.AnnotationApplySetTooling], "gitopskit/") {
				t.Errorf("tooling: %v", meta.Annotations)
			}
			if !strings.Contains(meta.Annotations[inventory.AnnotationApplySetNamespaces], "team-07") {
				t.Errorf("additional-namespaces: %q", meta.Annotations[inventory.AnnotationApplySetNamespaces])
			}

			// A writer holding an old version gets a typed conflict.
			stale := back
			stale.ResourceVersion = "1"
			var ce *inventory.ConflictError
			if err := store.Save(ctx, &stale); !errors.As(err, &ce) || !errors.Is(err, inventory.ErrConflict) {
				t.Fatalf("stale save: %v, want a ConflictError", err)
			}
			fresh := inventory.Inventory{}
			if err := store.Save(ctx, &fresh); !errors.Is(err, inventory.ErrConflict) {
				t.Fatalf("second create: %v, want a ConflictError", err)
			}
			if err := store.Delete(ctx, back); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStoreRefusesForeignParent(t *testing.T) {
	ctx := t.Context()
	kc := kubernetes.NewForConfigOrDie(testCluster(t).Config)
	name := gitopstest.UniqueName("foreign")
	id := inventory.ApplySetID(name, "default", "Secret", "")
	tests := []struct {
		name   string
		labels map[string]string
		ann    map[string]string
	}{
		{"another tool", map[string]string{inventory.LabelApplySetID: id}, map[string]string{inventory.AnnotationApplySetTooling: "kubectl/v1.37.2"}},
		{"not an applyset", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: tt.labels, Annotations: tt.ann}}
			if _, err := kc.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := kc.CoreV1().Secrets("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Error(err)
				}
			})
			store, err := inventory.NewStore(admin(t), inventory.StoreOptions{Name: name, Namespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			var fe *inventory.ForeignToolError
			if _, err := store.Load(ctx); !errors.As(err, &fe) {
				t.Fatalf("load: %v, want a ForeignToolError", err)
			}
		})
	}
}

// A Store remembers the inventory it last loaded or saved, and decodes again
// only when the parent's resourceVersion moved: what another writer stored
// is always what Load returns, and a caller editing a loaded inventory does
// not edit the next one.
func TestStoreLoadAfterOtherWriters(t *testing.T) {
	ctx := t.Context()
	name := gitopstest.UniqueName("remembered")
	open := func() *inventory.Store {
		s, err := inventory.NewStore(admin(t), inventory.StoreOptions{Name: name, Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mine, theirs := open(), open()
	inv := bigInventory(100)
	if err := mine.Save(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mine.Delete(context.WithoutCancel(ctx), inventory.Inventory{}) })

	got, err := mine.Load(ctx)
	if err != nil || !inventory.Equal(got, inv) {
		t.Fatalf("load after save: %d entries, %v", got.Len(), err)
	}
	got.Entries[0].Hash = "edited-by-the-caller"
	if again, _ := mine.Load(ctx); again.Entries[0].Hash == "edited-by-the-caller" {
		t.Fatal("an edit of a loaded inventory reached the next Load")
	}

	// Another process saves a shorter inventory.
	other, err := theirs.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other.Entries = other.Entries[:10]
	if err := theirs.Save(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if got, err := mine.Load(ctx); err != nil || got.Len() != 10 || got.ResourceVersion != other.ResourceVersion {
		t.Fatalf("after another writer: %d entries at %s (%v), want 10 at %s", got.Len(), got.ResourceVersion, err, other.ResourceVersion)
	}

	// Someone edits the Secret by hand: it no longer decodes.
	kc := kubernetes.NewForConfigOrDie(testCluster(t).Config)
	sec, err := kc.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data[inventory.DataKey] = []byte("not an inventory")
	if _, err := kc.CoreV1().Secrets("default").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.Load(ctx); !errors.Is(err, inventory.ErrCorrupt) {
		t.Fatalf("load of a hand-edited inventory: %v, want ErrCorrupt", err)
	}
}
