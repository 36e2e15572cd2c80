package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/inventory"
)

// requestCounter counts the requests made through a config, by method.
type requestCounter struct {
	mu sync.Mutex
	by map[string]int
}

func (c *requestCounter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[method]
}

type countingTransport struct {
	next http.RoundTripper
	c    *requestCounter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.mu.Lock()
	t.c.by[r.Method]++
	t.c.mu.Unlock()
	return t.next.RoundTrip(r)
}

// ledgerEnv is a namespace of its own with access to it.
type ledgerEnv struct {
	t         *testing.T
	namespace string
	name      string
	kube      kubernetes.Interface
}

func newLedgerEnv(t *testing.T) *ledgerEnv {
	cfg := testCluster(t).Config
	return &ledgerEnv{t: t, namespace: gitopstest.CreateNamespace(t, cfg), name: gitopstest.UniqueName("conf"),
		kube: kubernetes.NewForConfigOrDie(cfg)}
}

// ledger returns a new ledger of the env's name, and the count of its
// requests.
func (e *ledgerEnv) ledger(opts inventory.LedgerOptions) (*inventory.Ledger, *requestCounter) {
	e.t.Helper()
	cfg := rest.CopyConfig(testCluster(e.t).Config)
	rc := &requestCounter{by: map[string]int{}}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, c: rc} }
	c, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	opts.Name, opts.Namespace = e.name, e.namespace
	l, err := inventory.NewLedger(c, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return l, rc
}

// freshLedger returns a new reader of the env's ledger.
func (e *ledgerEnv) freshLedger() *inventory.Ledger {
	l, _ := e.ledger(inventory.LedgerOptions{})
	return l
}

func (e *ledgerEnv) unit(l *inventory.Ledger, name string) *inventory.LedgerUnit {
	e.t.Helper()
	u, err := l.Unit(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// save saves the unit's inventory, failing the test on an error.
func (e *ledgerEnv) save(l *inventory.Ledger, name string, inv *inventory.Inventory) {
	e.t.Helper()
	if err := e.unit(l, name).Save(e.t.Context(), inv); err != nil {
		e.t.Fatalf("save %s: %v", name, err)
	}
}

func (e *ledgerEnv) load(l *inventory.Ledger, name string) inventory.Inventory {
	e.t.Helper()
	inv, err := e.unit(l, name).Load(e.t.Context())
	if err != nil {
		e.t.Fatalf("load %s: %v", name, err)
	}
	return inv
}

func (e *ledgerEnv) pages() []corev1.Secret {
	e.t.Helper()
	list, err := e.kube.CoreV1().Secrets(e.namespace).List(e.t.Context(), metav1.ListOptions{LabelSelector: inventory.LabelLedger + "=" + e.name})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

func configMaps(ns string, names ...string) inventory.Inventory {
	var inv inventory.Inventory
	for _, n := range names {
		inv.Entries = append(inv.Entries, inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: n})
	}
	return inv
}

func TestNewLedgerValidates(t *testing.T) {
	c, err := cluster.New(&rest.Config{Host: "https://127.0.0.1:1"}, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []inventory.LedgerOptions{{}, {Name: "x"}, {Namespace: "x"}, {Name: "bad name", Namespace: "x"}} {
		if _, err := inventory.NewLedger(c, opts); err == nil {
			t.Errorf("NewLedger(%+v) succeeded", opts)
		}
	}
	if _, err := inventory.NewLedger(nil, inventory.LedgerOptions{Name: "x", Namespace: "y"}); err == nil {
		t.Error("NewLedger(nil cluster) succeeded")
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	ctx := t.Context()
	e := newLedgerEnv(t)
	l, rc := e.ledger(inventory.LedgerOptions{})
	a := e.unit(l, "conf-a")
	inv, err := a.Load(ctx)
	if err != nil || inv.Len() != 0 || inv.ResourceVersion != "" {
		t.Fatalf("load before save: %v %v", inv, err)
	}
	inv = configMaps(e.namespace, "x", "y")
	if err := a.Save(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	writes := rc.count(http.MethodPost) + rc.count(http.MethodPut)
	if writes != 1 || rc.count(http.MethodGet) != 1 {
		t.Fatalf("a first save made %d writes and %d reads, want 1 and the LIST", writes, rc.count(http.MethodGet))
	}

	// A save that only refreshes entries is written later.
	inv.Entries[0].Hash, inv.Entries[0].ResourceVersion = "h1", "7"
	if err := a.Save(ctx, &inv); err != nil {
		t.Fatal(err)
	}
	if got := rc.count(http.MethodPut) + rc.count(http.MethodPost); got != writes {
		t.Fatalf("a refreshing save wrote at once (%d writes)", got)
	}
	other, _ := e.ledger(inventory.LedgerOptions{})
	if got := e.load(other, "conf-a"); got.Entries[0].Hash != "" {
		t.Fatalf("another reader sees the refresh before the flush: %v", got.Entries)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	other, _ = e.ledger(inventory.LedgerOptions{})
	got := e.load(other, "conf-a")
	if !inventory.Equal(got, inv) || got.ResourceVersion != inv.ResourceVersion {
		t.Fatalf("after the flush another reader loads %v (%s), want %v (%s)", got.Entries, got.ResourceVersion, inv.Entries, inv.ResourceVersion)
	}
	if units, err := other.Units(ctx); err != nil || strings.Join(units, ",") != "conf-a" {
		t.Fatalf("Units = %v, %v", units, err)
	}

	// The unit is deleted; its empty page goes with it.
	if err := a.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	if p := e.pages(); len(p) != 0 {
		t.Fatalf("%d pages left after the last unit was deleted", len(p))
	}
	if inv := e.load(l, "conf-a"); inv.Len() != 0 {
		t.Fatalf("a deleted unit loads %v", inv.Entries)
	}
}

// TestLedgerGroupCommit saves the first inventories of 60 units at once:
// their writes share pages and batches, and every unit is stored.
func TestLedgerGroupCommit(t *testing.T) {
	ctx := t.Context()
	e := newLedgerEnv(t)
	l, rc := e.ledger(inventory.LedgerOptions{UnitsPerPage: 25, Linger: 50 * time.Millisecond})
	const units = 60
	var wg sync.WaitGroup
	errs := make([]error, units)
	for i := range units {
		wg.Go(func() {
			inv := configMaps(e.namespace, fmt.Sprintf("cm-%d-a", i), fmt.Sprintf("cm-%d-b", i))
			errs[i] = e.unit(l, fmt.Sprintf("u-%d", i)).Save(ctx, &inv)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	writes := rc.count(http.MethodPost) + rc.count(http.MethodPut)
	t.Logf("%d units saved with %d writes", units, writes)
	if writes > units/4 {
		t.Errorf("%d writes for %d units: the saves were not grouped", writes, units)
	}
	if p := e.pages(); len(p) != 3 {
		t.Errorf("%d pages for %d units of 25 per page, want 3", len(p), units)
	}
	fresh, frc := e.ledger(inventory.LedgerOptions{})
	for i := range units {
		if got := e.load(fresh, fmt.Sprintf("u-%d", i)); got.Len() != 2 {
			t.Errorf("u-%d: %d entries, want 2", i, got.Len())
		}
	}
	if n := frc.count(http.MethodGet); n != 1 {
		t.Errorf("loading %d units took %d reads, want one LIST", units, n)
	}
}

// TestLedgerConflict has two ledgers (two processes) write the same page:
// a unit saved on an outdated load conflicts, a unit of the same page that
// nobody else changed does not.
func TestLedgerConflict(t *testing.T) {
	ctx := t.Context()
	e := newLedgerEnv(t)
	first, _ := e.ledger(inventory.LedgerOptions{})
	for _, u := range []string{"a", "b"} {
		inv := configMaps(e.namespace, u)
		e.save(first, u, &inv)
	}
	second, _ := e.ledger(inventory.LedgerOptions{})
	old := e.load(second, "a")

	inv := e.load(first, "a")
	inv.Entries = append(inv.Entries, configMaps(e.namespace, "a2").Entries...)
	e.save(first, "a", &inv)

	old.Entries = append(old.Entries, configMaps(e.namespace, "a3").Entries...)
	err := e.unit(second, "a").Save(ctx, &old)
	if !errors.Is(err, inventory.ErrConflict) {
		t.Fatalf("a save on an outdated load: %v, want a conflict", err)
	}
	// A save that waits for its write learns of the conflict and is not
	// written: the caller (package apply) creates nothing, or saves again.
	if got := e.load(second, "a"); !inventory.Equal(got, inv) {
		t.Fatalf("after the conflict the second loads %v, want the first's %v", got.Entries, inv.Entries)
	}
	if err := e.unit(second, "a").Commit(ctx); err != nil {
		t.Fatalf("Commit reported the waiting save's conflict a second time: %v", err)
	}
	b := e.load(second, "b")
	b.Entries = append(b.Entries, configMaps(e.namespace, "b2").Entries...)
	if err := e.unit(second, "b").Save(ctx, &b); err != nil {
		t.Fatalf("a unit nobody else changed: %v", err)
	}
	third, _ := e.ledger(inventory.LedgerOptions{})
	if got := e.load(third, "a"); !inventory.Equal(got, inv) {
		t.Errorf("a = %v, want %v", got.Entries, inv.Entries)
	}
	if got := e.load(third, "b"); !inventory.Equal(got, b) {
		t.Errorf("b = %v, want %v", got.Entries, b.Entries)
	}

	// A save that only refreshes is written later: its conflict comes
	// from Commit (or Flush), and the union is stored.
	fourth, _ := e.ledger(inventory.LedgerOptions{})
	view := e.load(fourth, "b")
	grown := e.load(third, "b")
	grown.Entries = append(grown.Entries, configMaps(e.namespace, "b3").Entries...)
	e.save(third, "b", &grown)
	view.Entries[0].Hash = "refreshed"
	if err := e.unit(fourth, "b").Save(ctx, &view); err != nil {
		t.Fatalf("a refreshing save: %v", err)
	}
	if err := e.unit(fourth, "b").Commit(ctx); !errors.Is(err, inventory.ErrConflict) {
		t.Fatalf("commit of a refresh on an outdated load: %v, want a conflict", err)
	}
	if err := fourth.Flush(ctx); err != nil {
		t.Fatalf("the conflict was reported twice: %v", err)
	}
	got := e.load(e.freshLedger(), "b")
	if got.Len() != 3 || got.Entries[0].Hash != "refreshed" {
		t.Errorf("b after the refresh's conflict: %v, want b, b2, b3 with b refreshed", got.Entries)
	}

	// An outdated version is refused without a request.
	stale := inventory.Inventory{ResourceVersion: "1"}
	if err := e.unit(third, "a").Save(ctx, &stale); !errors.Is(err, inventory.ErrConflict) {
		t.Fatalf("a save at version 1: %v, want a conflict", err)
	}
}

// TestLedgerMove grows a unit past what a shared page holds: it moves to a
// page of its own, and no reader ever sees it without its entries.
func TestLedgerMove(t *testing.T) {
	ctx := t.Context()
	e := newLedgerEnv(t)
	l, _ := e.ledger(inventory.LedgerOptions{EntriesPerPage: 10})
	for _, u := range []string{"a", "b"} {
		inv := configMaps(e.namespace, u+"1", u+"2", u+"3")
		e.save(l, u, &inv)
	}
	inv := e.load(l, "a")
	for i := range 6 {
		inv.Entries = append(inv.Entries, configMaps(e.namespace, fmt.Sprintf("a-more-%d", i)).Entries...)
	}
	e.save(l, "a", &inv)
	// Before the flush the old page still lists a's three: the union.
	reader, _ := e.ledger(inventory.LedgerOptions{})
	if got := e.load(reader, "a"); got.Len() != 9 {
		t.Fatalf("a before the flush: %d entries, want 9", got.Len())
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p := e.pages(); len(p) != 2 {
		t.Fatalf("%d pages, want 2", len(p))
	}
	reader, _ = e.ledger(inventory.LedgerOptions{})
	if got := e.load(reader, "a"); !inventory.Equal(got, inv) {
		t.Errorf("a = %v, want %v", got.Entries, inv.Entries)
	}
	if got := e.load(reader, "b"); got.Len() != 3 {
		t.Errorf("b: %d entries, want 3", got.Len())
	}
	// The reader saves a again: no copy is left behind.
	got := e.load(reader, "a")
	got.Entries = got.Entries[:8]
	e.save(reader, "a", &got)
	if err := reader.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last, _ := e.ledger(inventory.LedgerOptions{})
	if n := e.load(last, "a").Len(); n != 8 {
		t.Errorf("a after a prune: %d entries, want 8", n)
	}
}

// TestLedgerBadPages: a page that does not decode blocks the units that may
// be on it, not the ones found on other pages; a Secret of a page's name
// that gitopskit did not write is never overwritten.
func TestLedgerBadPages(t *testing.T) {
	ctx := t.Context()
	e := newLedgerEnv(t)
	l, _ := e.ledger(inventory.LedgerOptions{UnitsPerPage: 1})
	for _, u := range []string{"a", "b"} {
		inv := configMaps(e.namespace, u)
		e.save(l, u, &inv)
	}
	sec, err := e.kube.CoreV1().Secrets(e.namespace).Get(ctx, l.PageName(1), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data[inventory.DataKey] = []byte("not gzip")
	if _, err := e.kube.CoreV1().Secrets(e.namespace).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reader, _ := e.ledger(inventory.LedgerOptions{UnitsPerPage: 1})
	if got := e.load(reader, "a"); got.Len() != 1 {
		t.Errorf("a (on a good page): %v", got.Entries)
	}
	for _, u := range []string{"b", "new"} {
		if _, err := e.unit(reader, u).Load(ctx); !errors.Is(err, inventory.ErrCorrupt) {
			t.Errorf("load %s beside a corrupt page: %v, want ErrCorrupt", u, err)
		}
		inv := configMaps(e.namespace, u)
		if err := e.unit(reader, u).Save(ctx, &inv); !errors.Is(err, inventory.ErrCorrupt) {
			t.Errorf("save %s beside a corrupt page: %v, want ErrCorrupt", u, err)
		}
	}

	// A foreign Secret where page 0 of another ledger would go.
	other := newLedgerEnv(t)
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: other.name + ".inventory-0", Namespace: other.namespace},
		Data: map[string][]byte{"keep": []byte("me")}}
	if _, err := other.kube.CoreV1().Secrets(other.namespace).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ol, _ := other.ledger(inventory.LedgerOptions{})
	inv := configMaps(other.namespace, "x")
	var fe *inventory.ForeignToolError
	if err := other.unit(ol, "x").Save(ctx, &inv); !errors.As(err, &fe) {
		t.Fatalf("save over a foreign Secret: %v, want a ForeignToolError", err)
	}
	kept, err := other.kube.CoreV1().Secrets(other.namespace).Get(ctx, foreign.Name, metav1.GetOptions{})
	if err != nil || string(kept.Data["keep"]) != "me" {
		t.Fatalf("the foreign Secret was changed: %v %v", kept, err)
	}
}

// TestLedgerPageDeletedBehindIt: someone deletes a page the ledger has
// loaded; the units on it conflict, and their next save stores them again.
func TestLedgerPageDeletedBehindIt(t *testing.T) {
	ctx := t.Context()
	e := newLedgerEnv(t)
	l, _ := e.ledger(inventory.LedgerOptions{})
	inv := configMaps(e.namespace, "a")
	e.save(l, "a", &inv)
	if err := e.kube.CoreV1().Secrets(e.namespace).Delete(ctx, l.PageName(0), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	inv.Entries = append(inv.Entries, configMaps(e.namespace, "b").Entries...)
	if err := e.unit(l, "a").Save(ctx, &inv); !errors.Is(err, inventory.ErrConflict) {
		t.Fatalf("save after the page was deleted: %v, want a conflict", err)
	}
	again := e.load(l, "a")
	if again.Len() != 0 {
		t.Fatalf("after the conflict a loads %v, want what the cluster holds (nothing)", again.Entries)
	}
	again.Entries = inv.Entries
	e.save(l, "a", &again)
	if got := e.load(e.freshLedger(), "a"); !inventory.Equal(got, inv) {
		t.Fatalf("a = %v, want %v", got.Entries, inv.Entries)
	}
}

// TestLedgerContextCancelled: a save that must be stored returns with its
// context's error, and the change it queued is still written.
func TestLedgerContextCancelled(t *testing.T) {
	e := newLedgerEnv(t)
	l, _ := e.ledger(inventory.LedgerOptions{Linger: 200 * time.Millisecond})
	var leaderErr atomic.Value
	inv := configMaps(e.namespace, "a")
	done := make(chan struct{})
	go func() {
		defer close(done)
		leaderErr.Store(fmt.Sprint(e.unit(l, "a").Save(t.Context(), &inv)))
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	invB := configMaps(e.namespace, "b")
	if err := e.unit(l, "b").Save(ctx, &invB); err == nil {
		t.Error("a save with a cancelled context succeeded")
	}
	<-done
	if got := leaderErr.Load().(string); got != "<nil>" {
		t.Fatalf("the leader's save: %s", got)
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	reader, _ := e.ledger(inventory.LedgerOptions{})
	if got := e.load(reader, "b"); got.Len() != 1 {
		t.Errorf("b after the flush: %v", got.Entries)
	}
}
