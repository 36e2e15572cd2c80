package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitopskit/gitopskit/bench/internal/reqkind"
)

// proxy is a counting reverse proxy on 127.0.0.1 between one tool process
// and the API server. It terminates TLS with its own certificate (the
// tool's kubeconfig trusts it and carries no credentials) and forwards every
// request, impersonation headers included, with the identity of upstream.
// It counts requests by kind (see reqkind.Classify) and response status.
type proxy struct {
	srv    *http.Server
	ln     net.Listener
	caPEM  []byte
	counts *counts
}

func startProxy(upstream *rest.Config) (*proxy, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, err
	}
	rt, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, err
	}
	cert, caPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, caPEM: caPEM, counts: newCounts()}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
		},
		Transport:     rt,
		FlushInterval: -1, // watches stream
		ModifyResponse: func(resp *http.Response) error {
			req := resp.Request
			p.counts.add(reqkind.Classify(req.Method, req.URL, req.Header.Get("Content-Type")), resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			// A request its client gave up on (a watch the tool closed, a
			// process stopping) is not a failure of the server.
			if req.Context().Err() == nil {
				p.counts.add(reqkind.Classify(req.Method, req.URL, req.Header.Get("Content-Type")), http.StatusBadGateway)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{
		Handler:           rp,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { _ = p.srv.ServeTLS(ln, "", "") }()
	return p, nil
}

func (p *proxy) close() { _ = p.srv.Close() }

func (p *proxy) url() string { return "https://" + p.ln.Addr().String() }

// restConfig is a client configuration for the proxy, with no credentials
// and no client-side rate limit.
func (p *proxy) restConfig() *rest.Config {
	return &rest.Config{Host: p.url(), TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM}, QPS: -1}
}

// writeKubeconfig writes a kubeconfig to the proxy, with no credentials.
func (p *proxy) writeKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["bench"] = &clientcmdapi.Cluster{Server: p.url(), CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos["bench"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	cfg.CurrentContext = "bench"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "units-bench-proxy"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, err
}

// counts are requests by kind and status code.
type counts struct {
	mu sync.Mutex
	m  map[string]map[int]int
}

func newCounts() *counts { return &counts{m: map[string]map[int]int{}} }

func (c *counts) add(kind string, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[kind] == nil {
		c.m[kind] = map[int]int{}
	}
	c.m[kind][code]++
}

// take returns the counts since the last take and starts again from zero.
func (c *counts) take() reqCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := reqCounts{ByKind: map[string]int{}, ByCode: map[string]int{}}
	for kind, codes := range c.m {
		for code, v := range codes {
			out.Total += v
			out.ByKind[kind] += v
			out.ByCode[fmt.Sprint(code)] += v
		}
	}
	c.m = map[string]map[int]int{}
	return out
}

// reqCounts are the requests of one phase.
type reqCounts struct {
	Total  int            `json:"total"`
	ByKind map[string]int `json:"byKind"`
	ByCode map[string]int `json:"byCode"`
}

func (r reqCounts) plus(o reqCounts) reqCounts {
	out := reqCounts{Total: r.Total + o.Total, ByKind: map[string]int{}, ByCode: map[string]int{}}
	for _, m := range []reqCounts{r, o} {
		for k, v := range m.ByKind {
			out.ByKind[k] += v
		}
		for k, v := range m.ByCode {
			out.ByCode[k] += v
		}
	}
	return out
}
