package helmrelease

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/cluster"

	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// calls counts driver calls and API requests.
type calls struct {
	mu       sync.Mutex
	driver   map[string]int
	requests []string // "METHOD path"
}

func (c *calls) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.driver[name]++
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.driver = map[string]int{}
	c.requests = nil
}

func (c *calls) snapshot() (map[string]int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := make(map[string]int, len(c.driver))
	for k, v := range c.driver {
		d[k] = v
	}
	return d, slices.Clone(c.requests)
}

type countingTransport struct {
	c    *calls
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.c.mu.Lock()
	t.c.requests = append(t.c.requests, req.Method+" "+req.URL.Path)
	t.c.mu.Unlock()
	return t.next.RoundTrip(req)
}

// countingDriver counts the calls made to the Helm driver.
type countingDriver struct {
	driver.Driver
	c *calls
}

func (d countingDriver) LoadChart(path string, opts driver.LoadOptions) (*driver.Chart, error) {
	d.c.add("LoadChart")
	return d.Driver.LoadChart(path, opts)
}

func (d countingDriver) Render(ch *driver.Chart, name string, values map[string]any, opts driver.RenderOptions) ([]*unstructured.Unstructured, error) {
	d.c.add("Render")
	return d.Driver.Render(ch, name, values, opts)
}

func (d countingDriver) History(ctx context.Context, name string) ([]*driver.Release, error) {
	d.c.add("History")
	return d.Driver.History(ctx, name)
}

func (d countingDriver) Install(ctx context.Context, name string, ch *driver.Chart, values map[string]any, opts driver.ActionOptions) (*driver.Release, error) {
	d.c.add("Install")
	return d.Driver.Install(ctx, name, ch, values, opts)
}

func (d countingDriver) Upgrade(ctx context.Context, name string, ch *driver.Chart, values map[string]any, opts driver.ActionOptions) (*driver.Release, error) {
	d.c.add("Upgrade")
	return d.Driver.Upgrade(ctx, name, ch, values, opts)
}

func (d countingDriver) Rollback(ctx context.Context, name string, revision int, opts driver.RollbackOptions) error {
	d.c.add("Rollback")
	return d.Driver.Rollback(ctx, name, revision, opts)
}

func (d countingDriver) Uninstall(ctx context.Context, name string, opts driver.UninstallOptions) error {
	d.c.add("Uninstall")
	return d.Driver.Uninstall(ctx, name, opts)
}

func (d countingDriver) Test(ctx context.Context, name string, timeout time.Duration) error {
	d.c.add("Test")
	return d.Driver.Test(ctx, name, timeout)
}

func (d countingDriver) Mark(ctx context.Context, name string, revision int, m driver.Mark) error {
	d.c.add("Mark")
	return d.Driver.Mark(ctx, name, revision, m)
}

func (d countingDriver) EnsureNamespace(ctx context.Context) error {
	d.c.add("EnsureNamespace")
	return d.Driver.EnsureNamespace(ctx)
}

func (d countingDriver) ApplyCRDs(ctx context.Context, ch *driver.Chart, replace bool, timeout time.Duration) error {
	d.c.add("ApplyCRDs")
	return d.Driver.ApplyCRDs(ctx, ch, replace, timeout)
}

// countingReconciler is a Reconciler on the shared cluster whose API
// requests and driver calls are counted.
func countingReconciler(tb testing.TB) (*Reconciler, *calls) {
	tb.Helper()
	c := &calls{driver: map[string]int{}}
	cfg := rest.CopyConfig(testCluster(tb).Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{c, rt} })
	kc, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := NewReconciler(kc, Options{CacheDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	newDriver := r.newDriver
	r.newDriver = func(ns string) (driver.Driver, error) {
		d, err := newDriver(ns)
		if err != nil {
			return nil, err
		}
		return countingDriver{d, c}, nil
	}
	return r, c
}

// An unchanged release (same chart content, same merged values) is a
// no-op: no Helm action, no write, one API request (the LIST of the
// release's records) and no chart download.
func TestNoOpMakesNoHelmAction(t *testing.T) {
	t.Parallel()
	needCluster(t)
	r, c := countingReconciler(t)
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, repo, appChart("1.0.0"))
	rel := Release{
		Name: "noop", Namespace: "noop", CreateNamespace: true,
		Chart:      ChartRef{RepoURL: repo.URL(), Name: "app", Version: "1.x"},
		Values:     map[string]any{"message": "same"},
		ValuesFrom: []ValuesFrom{{Kind: "ConfigMap", Name: "v", Data: ConfigMapData(map[string]string{"values.yaml": "replicas: 1\n"})}},
		Timeout:    2 * time.Minute,
	}
	mustReconcile(t, r, rel)
	downloads := repo.Downloads()

	for range 2 {
		c.reset()
		// Equal values in new maps: the digest, not the identity, decides.
		rel.Values = map[string]any{"message": "same"}
		st := mustReconcile(t, r, rel)
		drv, reqs := c.snapshot()
		if st.Reason != ReasonUpToDate || len(st.Actions) != 0 {
			t.Fatalf("no-op: %s actions %v", st.Reason, st.Actions)
		}
		if len(drv) != 1 || drv["History"] != 1 {
			t.Errorf("driver calls on a no-op: %v, want History only", drv)
		}
		if len(reqs) != 1 || reqs[0] != "GET /api/v1/namespaces/noop/secrets" {
			t.Errorf("API requests on a no-op: %v, want one LIST of the release's records", reqs)
		}
		if repo.Downloads() != downloads {
			t.Errorf("chart downloaded again on a no-op: %d downloads", repo.Downloads())
		}
	}

	// A changed value is not a no-op.
	c.reset()
	rel.Values = map[string]any{"message": "other"}
	st := mustReconcile(t, r, rel)
	drv, _ := c.snapshot()
	if st.Reason != ReasonUpgraded || drv["Upgrade"] != 1 {
		t.Fatalf("changed values: %s, driver calls %v", st.Reason, drv)
	}
}

// BenchmarkNoOp100Releases measures a no-op reconcile of 100 installed,
// unchanged releases with ReconcileAll (charts from a path, as from a
// source artifact). Per op: one reconcile of all 100.
//
//	go test ./helmrelease -run '^$' -bench NoOp100 -benchtime 20x -p 1
func BenchmarkNoOp100Releases(b *testing.B) {
	r, c := countingReconciler(b) // skips b with -short
	path := gitopstest.WriteChartDir(b, cmChart("bench", "1.0.0"))
	rels := make([]Release, 100)
	for i := range rels {
		rels[i] = Release{
			Name: fmt.Sprintf("bench-%03d", i), Namespace: "bench-noop", CreateNamespace: true,
			Chart:  ChartRef{Path: path},
			Values: map[string]any{"message": fmt.Sprintf("release %d", i)},
		}
	}
	if _, err := r.ReconcileAll(b.Context(), rels); err != nil {
		b.Fatal(err)
	}
	c.reset()
	n := 0
	for b.Loop() {
		sts, err := r.ReconcileAll(b.Context(), rels)
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range sts {
			if st.Reason != ReasonUpToDate {
				b.Fatalf("%s/%s: %s", st.Namespace, st.Name, st.Reason)
			}
		}
		n++
	}
	drv, reqs := c.snapshot()
	b.ReportMetric(float64(len(reqs))/float64(n), "requests/op")
	keys := make([]string, 0, len(drv))
	for k := range drv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "History" {
			b.Errorf("driver call %s on a no-op (%d)", k, drv[k])
		}
	}
}
