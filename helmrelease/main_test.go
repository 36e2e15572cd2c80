package helmrelease

import (
	"flag"
	"os"
	"sync"
	"testing"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// testCluster is the simulated cluster shared by the package's tests (Helm
// waits need Deployments that really roll out); nil with -short.
var testCluster *localcluster.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(gitopstest.RunWithCluster(m, localcluster.Options{Simulated: true}, &testCluster))
}

// needCluster skips t without a cluster (-short).
func needCluster(t *testing.T) {
	t.Helper()
	if testCluster == nil {
		t.Skip("needs the simulated cluster (not with -short)")
	}
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
	c, err := cluster.New(testCluster.Config, cluster.Options{})
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
