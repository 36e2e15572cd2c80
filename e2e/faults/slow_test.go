package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// latencyProxy is a loopback TCP proxy in front of the API server that
// delivers every chunk the server sends delay after it arrived (latency,
// not a bandwidth cap: chunks in flight overlap). TLS passes through
// untouched, so every response — reads, writes' answers, watch events,
// the TLS handshake itself — is late by delay, as when etcd (or the network
// to the control plane) is slow.
type latencyProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	delay  atomic.Int64 // time.Duration
	chunks atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startLatencyProxy(t *testing.T, host string, delay time.Duration) *latencyProxy {
	t.Helper()
	u, err := url.Parse(host)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &latencyProxy{t: t, ln: ln, target: u.Host}
	p.delay.Store(int64(delay))
	p.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.handle(conn) })
		}
	})
	t.Cleanup(p.close)
	return p
}

// config returns a copy of cfg that talks to the API server through the
// proxy.
func (p *latencyProxy) config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Host = "https://" + p.ln.Addr().String()
	return c
}

func (p *latencyProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *latencyProxy) handle(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	defer client.Close()
	defer server.Close()
	p.wg.Go(func() {
		_, _ = io.Copy(server, client)
		if tc, ok := server.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	})
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 4096)
	p.wg.Go(func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := server.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(time.Duration(p.delay.Load()))}
			}
			if err != nil {
				return
			}
		}
	})
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		p.chunks.Add(1)
		if _, err := client.Write(c.b); err != nil {
			server.Close()
			for range chunks { // let the reader finish
			}
			return
		}
	}
}

// TestSlowAPIServer puts every response of the API server 200 ms late (a
// slow etcd, as the client sees it) under a unit of 50 ConfigMaps with a
// 2-minute timeout: its first reconcile, then a commit changing 10 and
// deleting 10 objects, must converge within the unit's timeout, with the
// invariants holding. Then with 1 s of latency and a unit timeout of 5 s the
// reconcile of another such commit cannot finish: the unit must fail at its
// deadline (not hang), nothing may be lost or left outside the inventory,
// and the next run at full speed converges.
func TestSlowAPIServer(t *testing.T) {
	c := sharedCluster(t)
	const objects = 50
	name := unique("slow")
	ns := name
	const timeout = 2 * time.Minute
	proxy := startLatencyProxy(t, c.Config.Host, 200*time.Millisecond)
	e := newEnv(t, c, name, configMaps("app", ns, objects, "1"), reconcile.Unit{Name: "app", Path: "app", Prune: true, Timeout: timeout})
	e.plantSentinels(ns)
	r := e.reconciler(proxy.config(c.Config), reconcile.Options{})

	timed := func(what string) reconcile.UnitStatus {
		t.Helper()
		start := time.Now()
		u := unitStatus(t, e.run(r), "app")
		took := time.Since(start)
		t.Logf("%s through %v of latency: %s (%s) %s in %v (%d response chunks delayed so far)",
			what, time.Duration(proxy.delay.Load()), u.Phase, u.Reason, u.Counts, took.Round(time.Millisecond), proxy.chunks.Load())
		if took > timeout {
			t.Errorf("%s took %v, over the unit's timeout %v", what, took, timeout)
		}
		return u
	}

	if u := timed("first reconcile"); u.Phase != reconcile.PhaseReady || u.Counts.Created != objects {
		t.Fatalf("first reconcile: %s (%s) %s %q", u.Phase, u.Reason, u.Counts, u.Message)
	}
	e.check()
	changes := gitserver.CommitOptions{Files: map[string]string{}, Message: "change 10, delete 10"}
	for i := range 10 {
		changes.Files[fmt.Sprintf("app/cm-%03d.yaml", i)] = cmYAML(ns, fmt.Sprintf("cm-%03d", i), "2")
		changes.Delete = append(changes.Delete, fmt.Sprintf("app/cm-%03d.yaml", objects-1-i))
	}
	e.commit(changes)
	if u := timed("change 10, delete 10"); u.Phase != reconcile.PhaseReady || u.Counts.Configured != 10 || u.Counts.Deleted != 10 {
		t.Errorf("change 10, delete 10: %s (%s) %s %q", u.Phase, u.Reason, u.Counts, u.Message)
	}
	if u := timed("no-op"); u.Phase != reconcile.PhaseReady || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
		t.Errorf("no-op: %s %s", u.Phase, u.Counts)
	}
	e.check()
	if v, err := e.configMapValue(ns, "cm-000"); v != "2" {
		t.Errorf("cm-000 = %q (%v), want 2", v, err)
	}

	t.Log("1 s of latency, unit timeout 5 s: the unit fails at its deadline")
	proxy.delay.Store(int64(time.Second))
	e.conf.Units[0].Timeout = 5 * time.Second
	r = e.reconciler(proxy.config(c.Config), reconcile.Options{})
	all := gitserver.CommitOptions{Files: map[string]string{}, Message: "change everything, delete 5"}
	for i := range objects - 10 {
		all.Files[fmt.Sprintf("app/cm-%03d.yaml", i)] = cmYAML(ns, fmt.Sprintf("cm-%03d", i), "3")
	}
	for i := objects - 15; i < objects-10; i++ {
		all.Delete = append(all.Delete, fmt.Sprintf("app/cm-%03d.yaml", i))
	}
	e.commit(all)
	start := time.Now()
	runCtx, cancel := context.WithTimeout(t.Context(), runTimeout)
	s, err := r.Run(runCtx)
	cancel()
	took := time.Since(start)
	logStatus(t, s)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	u := unitStatus(t, s, "app")
	t.Logf("through 1 s of latency with a 5 s timeout: %s (%s) in %v: %s", u.Phase, u.Reason, took.Round(time.Millisecond), u.Message)
	if u.Phase == reconcile.PhaseReady {
		t.Logf("the unit finished within 5 s after all")
	} else if !e.events.errorIs("app", context.DeadlineExceeded) && !errorMentions(e.events.errs("app"), "deadline", "timeout", "rate limiter") {
		t.Errorf("the unit failed, but not at its deadline: %v", e.events.errs("app"))
	}
	if took > time.Minute {
		t.Errorf("Run took %v with a 5 s unit timeout", took)
	}
	e.check()
	e.conf.Units[0].Timeout = timeout
	e.converge(e.reconciler(nil, reconcile.Options{}))
	if v, err := e.configMapValue(ns, "cm-000"); v != "3" {
		t.Errorf("cm-000 = %q (%v), want 3", v, err)
	}
}

func errorMentions(errs []error, words ...string) bool {
	for _, err := range errs {
		for _, w := range words {
			if containsFold(err.Error(), w) {
				return true
			}
		}
		if errors.Is(err, context.Canceled) {
			return true
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
