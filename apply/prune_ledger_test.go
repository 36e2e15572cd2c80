package apply_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/inventory"
)

// TestPruneCommitsLedgerSaves: with a Ledger, the save after an apply that
// adds no object is written later; Prune writes it before deleting, and
// stops on the conflict of an inventory another process changed since the
// apply loaded it, deleting nothing.
func TestPruneCommitsLedgerSaves(t *testing.T) {
	ctx := t.Context()
	cl := newCluster(t, testCluster(t).Config)
	m := newManager(t, cl)
	ns := testNamespace(t, "prune-ledger")
	records := testNamespace(t, inventoryNamespace)
	ledger := func() *inventory.Ledger {
		l, err := inventory.NewLedger(cl, inventory.LedgerOptions{Name: "conf", Namespace: records})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	unitOf := func(l *inventory.Ledger) *inventory.LedgerUnit {
		u, err := l.Unit("conf-app")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	objects := func(n int, value string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for i := range n {
			out = append(out, configMap(ns, fmt.Sprintf("cm-%d", i), map[string]any{"v": value}))
		}
		return out
	}
	mine := ledger()
	app := unitOf(mine)
	mustApply(t, m, objects(4, "1"), apply.ApplyOptions{Inventory: app})

	// Without another writer: cm-3 left, the others changed; the
	// prune writes the pending save, then deletes.
	cs := mustApply(t, m, objects(3, "2"), apply.ApplyOptions{Inventory: app})
	pruned, err := m.Prune(ctx, cs, apply.PruneOptions{})
	if err != nil || pruned.Count(apply.Deleted) != 1 {
		t.Fatalf("prune: %v, %v", pruned, err)
	}
	if err := mine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := liveConfigMaps(t, ns); !slices.Equal(got, []string{"cm-0", "cm-1", "cm-2"}) {
		t.Fatalf("live: %v", got)
	}

	// Another process changes the unit's inventory after this one
	// loaded it: the prune stops with the conflict.
	other := unitOf(ledger())
	inv, err := other.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inv.Entries = append(inv.Entries, inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "theirs"})
	if err := other.Save(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	cs = mustApply(t, m, objects(2, "3"), apply.ApplyOptions{Inventory: app})
	pruned, err = m.Prune(ctx, cs, apply.PruneOptions{})
	if !errors.Is(err, inventory.ErrConflict) {
		t.Fatalf("prune on an outdated inventory: %v, %v, want a conflict", pruned, err)
	}
	if got := liveConfigMaps(t, ns); !slices.Equal(got, []string{"cm-0", "cm-1", "cm-2"}) {
		t.Errorf("a prune that conflicted deleted: live %v", got)
	}
	// The union is stored: nothing either process recorded is forgotten.
	back, err := unitOf(ledger()).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cm-0", "cm-1", "cm-2", "theirs"} {
		if _, ok := back.Get(inventory.ID{Kind: "ConfigMap", Namespace: ns, Name: name}); !ok {
			t.Errorf("the stored inventory lost %s: %v", name, back.Entries)
		}
	}
}
