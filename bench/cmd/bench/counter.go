package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/bench/internal/reqkind"
)

// counter counts the API requests made through the rest.Configs it wrapped.
// Each tool gets its own counter, reset before every measured run.
type counter struct {
	mu    sync.Mutex
	kinds map[string]int
}

func newCounter() *counter { return &counter{kinds: map[string]int{}} }

// wrap returns a copy of cfg whose requests are counted. The copy is
// unthrottled client-side (QPS < 0) unless cfg already sets a limit: every
// in-process tool gets the same client settings.
func (c *counter) wrap(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	if out.QPS == 0 && out.RateLimiter == nil {
		out.QPS = -1
	}
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			c.add(classify(req.Method, req.URL, req.Header.Get("Content-Type")))
			return rt.RoundTrip(req)
		})
	})
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *counter) add(kind string) {
	c.mu.Lock()
	c.kinds[kind]++
	c.mu.Unlock()
}

func (c *counter) reset() {
	c.mu.Lock()
	c.kinds = map[string]int{}
	c.mu.Unlock()
}

// snapshot returns the counts since the last reset.
func (c *counter) snapshot() requestCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := requestCounts{}
	for k, v := range c.kinds {
		out[k] = v
	}
	return out
}

// requestCounts maps a request kind (see classify) to a count.
type requestCounts map[string]int

func (r requestCounts) total() int {
	n := 0
	for _, v := range r {
		n += v
	}
	return n
}

// String is "1010 apply, 30 list" with the largest first.
func (r requestCounts) String() string {
	if len(r) == 0 {
		return "0"
	}
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range r {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = fmt.Sprintf("%d %s", e.v, e.k)
	}
	return strings.Join(parts, ", ")
}

// classify names a request; see [reqkind.Classify].
func classify(method string, u *url.URL, contentType string) string {
	return reqkind.Classify(method, u, contentType)
}
