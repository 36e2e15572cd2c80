package source_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/source"
)

func TestHTTPBasicAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{Username: "alice", Password: "s3cret"})
	f := newFixture(t, e.srv, "private")
	cases := []struct {
		name string
		auth *source.Auth
		want error
	}{
		{"right password", &source.Auth{Username: "alice", Password: "s3cret"}, nil},
		{"wrong password", &source.Auth{Username: "alice", Password: "nope"}, source.ErrAuth},
		{"wrong user", &source.Auth{Username: "bob", Password: "s3cret"}, source.ErrAuth},
		{"no credentials", nil, source.ErrAuth},
		{"bearer token against basic auth", &source.Auth{BearerToken: "tok"}, source.ErrAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := source.Fetch(t.Context(), f.repo.HTTPURL(), source.Options{Auth: tc.auth, Dir: t.TempDir()})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// TestBearerToken puts a proxy in front of the server that accepts only
// "Authorization: Bearer tok" and forwards with the server's basic auth.
func TestBearerToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{Username: "u", Password: "p"})
	f := newFixture(t, e.srv, "app")
	target, _ := url.Parse("http://" + e.srv.HTTPAddr())
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		r.SetBasicAuth("u", "p")
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	u := proxy.URL + "/app.git"

	res := mustFetch(t, u, source.Options{Auth: &source.Auth{BearerToken: "tok"}, Dir: t.TempDir()})
	if res.Artifact.Commit != f.c2 {
		t.Errorf("commit = %s, want %s", res.Artifact.Commit, f.c2)
	}
	_, err := source.Fetch(t.Context(), u, source.Options{Auth: &source.Auth{BearerToken: "bad"}, Dir: t.TempDir()})
	if !errors.Is(err, source.ErrAuth) {
		t.Errorf("bad token: err = %v, want ErrAuth", err)
	}
}

// TestCABundle serves the repository over HTTPS with a certificate from
// a private CA: it fails without the bundle and works with it.
func TestCABundle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	target, _ := url.Parse("http://" + e.srv.HTTPAddr())
	ts := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(ts.Close)
	u := ts.URL + "/app.git"

	_, err := source.Fetch(t.Context(), u, source.Options{Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without CA bundle: err = %v, want a certificate error", err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	res := mustFetch(t, u, source.Options{Auth: &source.Auth{CABundle: ca}, Dir: t.TempDir()})
	if res.Artifact.Commit != f.c2 {
		t.Errorf("commit = %s, want %s", res.Artifact.Commit, f.c2)
	}
}

func TestCredentialsOverPlainHTTP(t *testing.T) {
	t.Parallel()
	// Refused before any connection is made.
	_, err := source.Fetch(t.Context(), "http://git.example.com/app.git", source.Options{
		Auth: &source.Auth{Username: "u", Password: "p"}, Dir: t.TempDir(),
	})
	if !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestSSHAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gitserver.Options{})
	f := newFixture(t, e.srv, "app")
	url := f.repo.SSHURL()

	// An encrypted key, authorized on the server.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "encrypted", []byte("pass"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := pem.EncodeToMemory(block)
	signer, _ := ssh.NewSignerFromKey(priv)
	e.srv.AuthorizeKey(signer.PublicKey())

	otherHost := gitopstest.NewSSHKey(t)
	knownHosts := []byte(e.srv.KnownHostsLine() + "\n")
	mismatch := []byte("[127.0.0.1]:" + strings.Split(e.srv.SSHAddr(), ":")[1] + " " + string(otherHost.AuthorizedKey))
	unknown := []byte("[example.com]:22 " + string(otherHost.AuthorizedKey))
	stranger := gitopstest.NewSSHKey(t)

	cases := []struct {
		name string
		auth *source.Auth
		want []error
	}{
		{"key and known_hosts", e.sshAuth(), nil},
		{"user in Username", &source.Auth{Username: "deploy", Identity: e.key.PrivateKeyPEM, KnownHosts: knownHosts}, nil},
		{"encrypted key", &source.Auth{Identity: encrypted, IdentityPassphrase: "pass", KnownHosts: knownHosts}, nil},
		{"encrypted key, wrong passphrase", &source.Auth{Identity: encrypted, IdentityPassphrase: "wrong", KnownHosts: knownHosts}, []error{source.ErrAuth}},
		{"encrypted key, no passphrase", &source.Auth{Identity: encrypted, KnownHosts: knownHosts}, []error{source.ErrAuth}},
		{"key not authorized", &source.Auth{Identity: stranger.PrivateKeyPEM, KnownHosts: knownHosts}, []error{source.ErrAuth}},
		{"garbage key", &source.Auth{Identity: []byte("not a key"), KnownHosts: knownHosts}, []error{source.ErrAuth}},
		{"host key mismatch", &source.Auth{Identity: e.key.PrivateKeyPEM, KnownHosts: mismatch}, []error{source.ErrHostKey}},
		{"host unknown", &source.Auth{Identity: e.key.PrivateKeyPEM, KnownHosts: unknown}, []error{source.ErrHostKey}},
		{"no known_hosts", &source.Auth{Identity: e.key.PrivateKeyPEM}, []error{source.ErrHostKey, source.ErrInvalid}},
		{"no known_hosts, insecure opt-in", &source.Auth{Identity: e.key.PrivateKeyPEM, InsecureIgnoreHostKey: true}, nil},
		{"no auth", nil, []error{source.ErrInvalid}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.srv.ResetRequests()
			res, err := source.Fetch(t.Context(), url, source.Options{Auth: tc.auth, Dir: t.TempDir()})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if res.Artifact.Commit != f.c2 {
					t.Errorf("commit = %s", res.Artifact.Commit)
				}
				return
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			}
			if strings.Contains(tc.name, "host") && len(e.srv.SSHSessions()) > 0 {
				t.Errorf("a git command ran despite the host key failure")
			}
		})
	}
}

func TestAuthFromSecretData(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		data    map[string][]byte
		want    *source.Auth
		invalid bool
	}{
		{"basic", map[string][]byte{"username": []byte("u"), "password": []byte("p"), "ca.crt": []byte("CA")},
			&source.Auth{Username: "u", Password: "p", CABundle: []byte("CA")}, false},
		{"bearer", map[string][]byte{"bearerToken": []byte("t")}, &source.Auth{BearerToken: "t"}, false},
		{"ssh with passphrase", map[string][]byte{"identity": []byte("KEY"), "known_hosts": []byte("KH"), "password": []byte("pp"), "username": []byte("git")},
			&source.Auth{Username: "git", Identity: []byte("KEY"), KnownHosts: []byte("KH"), IdentityPassphrase: "pp"}, false},
		{"ignores other keys", map[string][]byte{"foo": []byte("bar")}, &source.Auth{}, false},
		{"password and token", map[string][]byte{"password": []byte("p"), "bearerToken": []byte("t")}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := source.AuthFromSecretData(tc.data)
			if tc.invalid {
				if !errors.Is(err, source.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAuthStringHasNoSecrets(t *testing.T) {
	t.Parallel()
	a := &source.Auth{Username: "u", Password: "hunter2", Identity: []byte("PRIVATE"), IdentityPassphrase: "pp-secret", BearerToken: "tok-secret"}
	s := a.String()
	for _, secret := range []string{"hunter2", "PRIVATE", "pp-secret", "tok-secret"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() = %q leaks %q", s, secret)
		}
	}
}
