package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestAPIServerRestartedDuringPrune restarts kube-apiserver (etcd keeps
// running) while a reconcile prunes 100 of a unit's 150 ConfigMaps, so that
// the server is back before the run ends (TestAPIServerStoppedMidReconcile
// leaves it down for the rest of the run):
//
//   - "after 30 of 100 deletes": the 30th DELETE stops the server and
//     restarts it before it is sent; deletes in flight meanwhile fail
//     (connection refused) and the later ones reach the new server;
//   - "at the inventory save after the prune": the PUT that records the
//     prune reaches a stopped server (it fails), the server is restarted
//     right after, and the run goes on (its record is saved by the new
//     server);
//   - "after 30 of 100 deletes, fresh Reconciler": as the first, then the
//     next run is by a new Reconciler (the process restarted too).
//
// Whatever the run reports, no object may be outside the inventory, nothing
// else may be touched, and the next run must converge to the 50 objects
// still in Git.
func TestAPIServerRestartedDuringPrune(t *testing.T) {
	c := sharedCluster(t)
	const objects, kept = 150, 50
	tests := []struct {
		name string
		// at says at which request to restart the server; after says
		// whether the request is sent to the stopped server first (it
		// fails) and the server restarted after, or the server restarted
		// before it is sent.
		at    func(n *counters, r *http.Request, inventory string) bool
		after bool
		fresh bool
	}{
		{
			name: "after 30 of 100 deletes",
			at: func(n *counters, r *http.Request, _ string) bool {
				return r.Method == http.MethodDelete && n.deletes.Add(1) == 30
			},
		},
		{
			name: "at the inventory save after the prune",
			at: func(n *counters, r *http.Request, inv string) bool {
				if r.Method == http.MethodDelete {
					n.deletes.Add(1)
				}
				return n.deletes.Load() >= objects-kept && isInventoryWrite(r, http.MethodPut, inv)
			},
			after: true,
		},
		{
			name: "after 30 of 100 deletes, fresh Reconciler",
			at: func(n *counters, r *http.Request, _ string) bool {
				return r.Method == http.MethodDelete && n.deletes.Add(1) == 30
			},
			fresh: true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			name := unique(fmt.Sprintf("restart-%d", i))
			ns := name
			e := newEnv(t, c, name, configMaps("app", ns, objects, "v1"), reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)

			var n counters
			var armed, restarted atomic.Bool
			var once sync.Once
			var down atomic.Bool // the server is stopped and not yet back
			t.Cleanup(func() {
				if down.Load() {
					if err := c.StartAPIServer(context.WithoutCancel(ctx)); err != nil {
						t.Errorf("restart the API server: %v", err)
					}
				}
			})
			restart := func(stop bool) {
				if stop {
					t0 := time.Now()
					if err := c.StopAPIServer(); err != nil {
						t.Errorf("stop the API server: %v", err)
					}
					down.Store(true)
					t.Logf("kube-apiserver stopped (%v)", time.Since(t0).Round(time.Millisecond))
					return
				}
				t0 := time.Now()
				if err := c.StartAPIServer(context.WithoutCancel(ctx)); err != nil {
					t.Errorf("restart the API server: %v", err)
				}
				down.Store(false)
				restarted.Store(true)
				t.Logf("kube-apiserver back after %v", time.Since(t0).Round(time.Millisecond))
			}
			invName := name // the configuration, whose ledger holds the inventory
			cfg := wrapConfig(c.Config, func(r *http.Request, next func() (*http.Response, error)) (*http.Response, error) {
				if !armed.Load() || !tt.at(&n, r, invName) {
					return next()
				}
				var resp *http.Response
				var err error
				once.Do(func() {
					t.Logf("restarting kube-apiserver at %s %s", r.Method, r.URL.Path)
					restart(true)
					if tt.after {
						resp, err = next()
						t.Logf("%s %s to the stopped server: %v", r.Method, r.URL.Path, err)
						restart(false)
						return
					}
					restart(false)
					resp, err = next()
				})
				if resp == nil && err == nil {
					return next()
				}
				return resp, err
			})
			r := e.reconciler(cfg, reconcile.Options{})
			if s := e.run(r); !s.Compliant() {
				t.Fatalf("before the fault: %s", s)
			}
			var del []string
			for i := kept; i < objects; i++ {
				del = append(del, fmt.Sprintf("app/cm-%03d.yaml", i))
			}
			e.commit(gitserver.CommitOptions{Delete: del, Message: "remove 100 objects"})

			armed.Store(true)
			start := time.Now()
			runCtx, cancel := context.WithTimeout(ctx, runTimeout)
			s, err := r.Run(runCtx)
			cancel()
			armed.Store(false)
			if err != nil {
				t.Fatalf("Run across the restart: %v", err)
			}
			logStatus(t, s)
			u := unitStatus(t, s, "app")
			t.Logf("run across the restart took %v: %s (%s), %d pruned", time.Since(start).Round(time.Millisecond), u.Phase, u.Reason, u.Counts.Deleted)
			if !restarted.Load() {
				t.Fatal("the fault was never injected")
			}
			if u.Phase == reconcile.PhaseReady && u.Counts.Deleted != objects-kept {
				t.Errorf("unit Ready after pruning %d of %d", u.Counts.Deleted, objects-kept)
			}
			e.check()
			if tt.fresh {
				r = e.reconciler(nil, reconcile.Options{})
			}
			e.converge(r)
			if got := e.loadInventory("app").Len(); got != kept {
				t.Errorf("converged inventory holds %d objects, want %d", got, kept)
			}
			for i := range kept {
				if v, err := e.configMapValue(ns, fmt.Sprintf("cm-%03d", i)); err != nil || v != "v1" {
					t.Errorf("cm-%03d, still in Git: %q %v", i, v, err)
				}
			}
		})
	}
}
