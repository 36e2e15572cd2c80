package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// middleware sees every request a client built from a wrapped config makes;
// it calls next to send the request on.
type middleware func(req *http.Request, next func() (*http.Response, error)) (*http.Response, error)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrapConfig returns a copy of cfg whose requests go through mw.
func wrapConfig(cfg *rest.Config, mw middleware) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return mw(r, func() (*http.Response, error) { return rt.RoundTrip(r) })
		})
	}
	return c
}

func isApply(r *http.Request) bool {
	return r.Method == http.MethodPatch && strings.HasPrefix(r.Header.Get("Content-Type"), "application/apply-patch")
}

// isInventoryLoad reports whether r reads the inventories of the
// configuration conf: the LIST of its ledger's pages a reconcile round
// makes once, or a GET of one page.
func isInventoryLoad(r *http.Request, conf string) bool {
	if r.Method != http.MethodGet {
		return false
	}
	return strings.Contains(r.URL.Path, "/secrets/"+conf+".inventory-") ||
		(strings.HasSuffix(r.URL.Path, "/secrets") && r.URL.Query().Get("labelSelector") == inventory.LabelLedger+"="+conf)
}

// isInventoryWrite reports whether r creates (POST) or updates (PUT) a
// page of the configuration conf's inventory ledger.
func isInventoryWrite(r *http.Request, method, conf string) bool {
	if r.Method != method || !strings.Contains(r.URL.Path, "/secrets") {
		return false
	}
	if method == http.MethodPut {
		return strings.Contains(r.URL.Path, "/secrets/"+conf+".inventory-")
	}
	return true // a POST goes to the collection; a page is the only Secret a reconcile creates
}

// TestAPIServerStoppedMidReconcile stops kube-apiserver (etcd keeps running)
// at chosen points of a reconcile of 150 objects, from inside the
// reconciler's own requests, restarts it and reconciles again. Whatever the
// point, no object may exist outside the inventory, nothing else may be
// touched, and the re-run must converge.
func TestAPIServerStoppedMidReconcile(t *testing.T) {
	c := sharedCluster(t)
	const objects = 150
	tests := []struct {
		name string
		// prepare reconciles the first commit before the fault, which then
		// hits the reconcile of the commit next makes.
		prepare bool
		next    func(ns string) gitserver.CommitOptions
		// stopAt says at which request to stop the API server (the
		// request itself is then sent to a stopped server).
		stopAt func(n *counters, r *http.Request, inventory string) bool
		// afterDone: the stop comes after the unit is done (Ready), and
		// the run reports the failed write in an event.
		afterDone bool
	}{
		{
			name: "at the write-ahead inventory record",
			stopAt: func(_ *counters, r *http.Request, inv string) bool {
				return isInventoryWrite(r, http.MethodPost, inv)
			},
		},
		{
			name: "mid-apply, after 50 of 150 objects",
			stopAt: func(n *counters, r *http.Request, _ string) bool {
				return isApply(r) && n.applies.Add(1) == 50
			},
		},
		{
			// What the apply learned (hashes, resourceVersions) is
			// written at the end of the round: the unit is done by then,
			// and a lost write costs the next run a request per object.
			name: "at the inventory save after the apply",
			stopAt: func(_ *counters, r *http.Request, inv string) bool {
				return isInventoryWrite(r, http.MethodPut, inv)
			},
			afterDone: true,
		},
		{
			name:    "mid-prune, after 30 of 100 deletes",
			prepare: true,
			next: func(ns string) gitserver.CommitOptions {
				var del []string
				for i := 50; i < objects; i++ {
					del = append(del, fmt.Sprintf("app/cm-%03d.yaml", i))
				}
				return gitserver.CommitOptions{Delete: del, Message: "remove 100 objects"}
			},
			stopAt: func(n *counters, r *http.Request, _ string) bool {
				return r.Method == http.MethodDelete && n.deletes.Add(1) == 30
			},
		},
		{
			name:    "mid-apply of a changed revision",
			prepare: true,
			next: func(ns string) gitserver.CommitOptions {
				return gitserver.CommitOptions{Files: configMaps("app", ns, objects, "v2"), Message: "change every object"}
			},
			stopAt: func(n *counters, r *http.Request, _ string) bool {
				return isApply(r) && n.applies.Add(1) == 70
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			name := unique(fmt.Sprintf("outage-%d", i))
			ns := name
			e := newEnv(t, c, name, configMaps("app", ns, objects, "v1"), reconcile.Unit{Name: "app", Path: "app", Prune: true})
			e.plantSentinels(ns)

			var n counters
			var armed, stopped atomic.Bool
			var once sync.Once
			invName := name // the configuration, whose ledger holds the inventory
			cfg := wrapConfig(c.Config, func(r *http.Request, next func() (*http.Response, error)) (*http.Response, error) {
				if armed.Load() && tt.stopAt(&n, r, invName) {
					once.Do(func() {
						t.Logf("stopping kube-apiserver at %s %s", r.Method, r.URL.Path)
						if err := c.StopAPIServer(); err != nil {
							t.Errorf("stop the API server: %v", err)
						}
						stopped.Store(true)
					})
				}
				return next()
			})
			t.Cleanup(func() {
				if stopped.Load() { // leave the shared cluster running
					if err := c.StartAPIServer(context.WithoutCancel(ctx)); err != nil {
						t.Errorf("restart the API server: %v", err)
					}
				}
			})
			r := e.reconciler(cfg, reconcile.Options{})
			if tt.prepare {
				if s := e.run(r); !s.Compliant() {
					t.Fatalf("before the fault: %s", s)
				}
				e.commit(tt.next(ns))
			}

			armed.Store(true)
			start := time.Now()
			runCtx, cancel := context.WithTimeout(ctx, runTimeout)
			s, err := r.Run(runCtx)
			cancel()
			armed.Store(false)
			if err != nil {
				t.Fatalf("Run during the outage: %v (a stopped API server must fail the unit, not hang the run)", err)
			}
			logStatus(t, s)
			t.Logf("run during the outage took %v", time.Since(start).Round(time.Millisecond))
			if !stopped.Load() {
				t.Fatal("the fault was never injected")
			}
			switch u := unitStatus(t, s, "app"); {
			case tt.afterDone && !e.events.find("", func(ev reconcile.Event) bool {
				return ev.Type == reconcile.EventFailed && strings.Contains(ev.Message, "writing the inventories")
			}):
				t.Errorf("no event reports the failed write of the inventories; unit %s (%s)", u.Phase, u.Reason)
			case !tt.afterDone && u.Phase == reconcile.PhaseReady:
				t.Errorf("unit Ready although the API server stopped during its reconcile: %+v", u)
			}

			if err := c.StartAPIServer(ctx); err != nil {
				t.Fatalf("restart the API server: %v", err)
			}
			stopped.Store(false)
			e.check()
			e.converge(r)
			want := objects
			if tt.next != nil && len(tt.next(ns).Delete) > 0 {
				want = objects - len(tt.next(ns).Delete)
			}
			if got := e.loadInventory("app").Len(); got != want {
				t.Errorf("converged inventory holds %d objects, want %d", got, want)
			}
		})
	}
}

// counters count requests of a kind for a stopAt rule.
type counters struct {
	applies, deletes atomic.Int32
}
