package kube

import (
	"net/http"

	"k8s.io/client-go/rest"
)

// Config returns a copy of cfg for gitopskit's clients. When cfg sets no
// rate limit (QPS 0 and no RateLimiter), client-side throttling is turned
// off: the API server's priority and fairness protects it, and a client
// limit of client-go's default 5 QPS would dominate every apply. When cfg
// sets no warning handler, the API server's warnings (deprecated kinds) are
// dropped instead of going to client-go's default, klog on stderr: library
// code does not write to the process's output.
func Config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.WarningHandler == nil && c.WarningHandlerWithContext == nil {
		c.WarningHandler = rest.NoWarnings{}
	}
	if c.QPS == 0 && c.RateLimiter == nil {
		c.QPS = -1 // client-go: no token bucket for QPS <= 0 other than the 0 default
	}
	return c
}

// HTTPClient returns the HTTP client all clients built from cfg share, so
// that they share one connection pool.
func HTTPClient(cfg *rest.Config) (*http.Client, error) { return rest.HTTPClientFor(cfg) }
