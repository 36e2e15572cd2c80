package helmrelease

import (
	"os"
	"sync"
	"testing"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// shared is the simulated cluster shared by the package's tests (Helm
// waits need Deployments that really roll out), started by the first test
// that needs it: -short and a -run of tests that need none start none.
var shared = gitopstest.NewSharedCluster(localcluster.Options{Simulated: true})

func TestMain(m *testing.M) {
	os.Exit(shared.Run(m))
}

// testCluster returns the shared cluster, starting it on first use; it
// skips tb with -short.
func testCluster(tb testing.TB) *localcluster.Cluster {
	tb.Helper()
	return shared.Get(tb)
}

// needCluster skips t with -short, and starts the shared cluster otherwise.
func needCluster(t *testing.T) {
	t.Helper()
	testCluster(t)
}

// recorder collects events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) types(name string) []EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventType
	for _, e := range r.events {
		if name == "" || e.Name == name {
			out = append(out, e.Type)
		}
	}
	return out
}

func (r *recorder) has(name string, t EventType) bool {
	for _, x := range r.types(name) {
		if x == t {
			return true
		}
	}
	return false
}

// newTestReconciler returns a Reconciler on the shared cluster, with a
// fresh cache folder and events recorded.
func newTestReconciler(t *testing.T) (*Reconciler, *recorder) {
	t.Helper()
	needCluster(t)
	rec := &recorder{}
	c, err := cluster.New(testCluster(t).Config, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReconciler(c, Options{
		CacheDir: t.TempDir(),
		Events:   rec.add,
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, rec
}
