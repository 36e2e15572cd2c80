package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// gitProxy forwards HTTP to a Git server from an address it can take down
// (connections refused) and bring back on the same port.
type gitProxy struct {
	t      *testing.T
	addr   string
	target *url.URL
	mu     sync.Mutex
	srv    *http.Server
}

func startGitProxy(t *testing.T, target string) *gitProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &gitProxy{t: t, target: u, addr: "127.0.0.1:0"}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *gitProxy) up() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen on %s: %v", p.addr, err)
	}
	p.addr = ln.Addr().String()
	rp := httputil.NewSingleHostReverseProxy(p.target)
	rp.ErrorLog = log.New(io.Discard, "", 0) // cancelled requests are the point of some cases
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
}

// down closes the listener and every connection: clients get "connection
// refused" until up.
func (p *gitProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
}

// url returns the proxied URL of a repository URL of the Git server.
func (p *gitProxy) url(repoURL string) string {
	u, _ := url.Parse(repoURL)
	u.Host = p.addr
	return u.String()
}

// TestGitServerFaults makes the Git server fail in each way a real one does
// right after a commit that changes one object and deletes another. The unit
// must stay at its last applied revision with nothing applied and nothing
// pruned, say why (FetchFailed and the cause), and converge to the new
// revision once the server is back.
func TestGitServerFaults(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		name string
		// fault breaks the server; it returns a function that repairs it.
		fault func(e *env, p *gitProxy) (repair func())
		// deadline, when set, bounds the faulty Run's context.
		deadline time.Duration
		want     string // in the unit's message
		is       error  // matched by an event error, when set
	}{
		{
			name: "HTTP 500",
			fault: func(e *env, _ *gitProxy) func() {
				e.git.SetHTTPFault(gitserver.FailHTTP(http.StatusInternalServerError))
				return func() { e.git.SetHTTPFault(nil) }
			},
			want: "500",
		},
		{
			name: "HTTP 503",
			fault: func(e *env, _ *gitProxy) func() {
				e.git.SetHTTPFault(gitserver.FailHTTP(http.StatusServiceUnavailable))
				return func() { e.git.SetHTTPFault(nil) }
			},
			want: "503",
		},
		{
			name: "repository gone (404)",
			fault: func(e *env, _ *gitProxy) func() {
				e.git.SetHTTPFault(gitserver.FailHTTP(http.StatusNotFound))
				return func() { e.git.SetHTTPFault(nil) }
			},
			want: "repository not found",
			is:   source.ErrRepositoryNotFound,
		},
		{
			name: "credentials refused (401)",
			fault: func(e *env, _ *gitProxy) func() {
				e.git.SetHTTPFault(gitserver.FailHTTP(http.StatusUnauthorized))
				return func() { e.git.SetHTTPFault(nil) }
			},
			want: "authentication",
			is:   source.ErrAuth,
		},
		{
			name: "pack fetch fails after the ref listing",
			fault: func(e *env, _ *gitProxy) func() {
				e.git.SetHTTPFault(func(r *http.Request) (int, bool) {
					return http.StatusInternalServerError, r.Method == http.MethodPost
				})
				return func() { e.git.SetHTTPFault(nil) }
			},
			want: "500",
		},
		{
			name: "server down (connection refused)",
			fault: func(_ *env, p *gitProxy) func() {
				p.down()
				return p.up
			},
			want: "connection refused",
		},
		{
			name: "server stalls past the deadline",
			fault: func(e *env, _ *gitProxy) func() {
				release := make(chan struct{})
				e.git.SetHTTPFault(gitserver.StallHTTP(release))
				return func() { e.git.SetHTTPFault(nil); close(release) }
			},
			deadline: 3 * time.Second,
			want:     "deadline exceeded",
			is:       context.DeadlineExceeded,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := unique(fmt.Sprintf("git-%d", i))
			ns := name
			e := newEnv(t, c, name, map[string]string{
				"app/a.yaml": cmYAML(ns, "a", "1"), "app/b.yaml": cmYAML(ns, "b", "1"), "app/c.yaml": cmYAML(ns, "c", "1"),
			}, reconcile.Unit{Name: "app", Path: "app", Prune: true})
			proxy := startGitProxy(t, "http://"+e.git.HTTPAddr())
			e.conf.Sources[0].URL = proxy.url(e.repo.HTTPURL())
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			rev1 := unitStatus(t, e.run(r), "app")
			if rev1.Phase != reconcile.PhaseReady {
				t.Fatalf("before the fault: %+v", rev1)
			}
			sha2 := e.commit(gitserver.CommitOptions{
				Files: map[string]string{"app/a.yaml": cmYAML(ns, "a", "2")}, Delete: []string{"app/b.yaml"},
				Message: "change a, delete b",
			})
			before := e.snapshot()

			repair := tt.fault(e, proxy)
			ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
			if tt.deadline > 0 {
				cancel()
				ctx, cancel = context.WithTimeout(t.Context(), tt.deadline)
			}
			start := time.Now()
			s, err := r.Run(ctx)
			took := time.Since(start)
			cancel()
			logStatus(t, s)
			t.Logf("faulty run took %v (err %v)", took.Round(time.Millisecond), err)
			repair()
			switch {
			case tt.deadline > 0 && !errors.Is(err, context.DeadlineExceeded):
				t.Errorf("Run err = %v, want the context's deadline", err)
			case tt.deadline == 0 && err != nil:
				t.Fatalf("Run: %v", err)
			}
			if limit := max(tt.deadline, 30*time.Second) + 10*time.Second; took > limit {
				t.Errorf("faulty run took %v, more than %v", took, limit)
			}
			u := unitStatus(t, s, "app")
			if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonFetchFailed {
				t.Errorf("unit %s (%s), want NotReady (FetchFailed)", u.Phase, u.Reason)
			}
			if !strings.Contains(u.Message, tt.want) {
				t.Errorf("message %q does not say why (%q)", u.Message, tt.want)
			}
			if u.LastAppliedRevision != rev1.LastAppliedRevision {
				t.Errorf("last applied revision %s, want %s kept", u.LastAppliedRevision, rev1.LastAppliedRevision)
			}
			if tt.is != nil && !e.events.errorIs("app", tt.is) {
				t.Errorf("no event error matches %v: %v", tt.is, e.events.errs("app"))
			}
			e.unchanged(before)
			e.check()

			e.converge(r)
			if u := unitStatus(t, r.Status(), "app"); !strings.HasSuffix(u.LastAppliedRevision, sha2) {
				t.Errorf("after repair: at %s, want %s", u.LastAppliedRevision, sha2)
			}
			if v, err := e.configMapValue(ns, "a"); v != "2" {
				t.Errorf("a = %q (%v) after repair, want 2", v, err)
			}
		})
	}
}
