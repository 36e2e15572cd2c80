package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Auth holds credentials for a remote. Which fields apply depends on the
// URL's scheme: Username/Password or BearerToken and CABundle for https://
// and http://, Identity, KnownHosts and the SSH user for ssh:// and scp-like
// URLs. Fields that do not apply to the scheme are ignored. file:// URLs use
// none.
//
// Secrets never appear in errors or in [Auth.String].
type Auth struct {
	// Username and Password are HTTP basic auth credentials. With an
	// Identity, Username is the SSH user instead (default: the user in the
	// URL, else "git").
	Username string
	Password string

	// BearerToken is sent as "Authorization: Bearer <token>". It cannot be
	// combined with a Password.
	BearerToken string

	// CABundle is a PEM bundle of certificate authorities trusted for
	// https:// in addition to the system roots.
	CABundle []byte

	// Identity is an SSH private key in PEM (OpenSSH or PKCS#1/PKCS#8)
	// format, as in ~/.ssh/id_ed25519.
	Identity []byte
	// IdentityPassphrase decrypts Identity when it is encrypted; it is
	// ignored for an unencrypted key.
	IdentityPassphrase string

	// KnownHosts is known_hosts data (one or more lines as in
	// ~/.ssh/known_hosts, hashed or plain host names) that the SSH server's
	// host key must match. It is required for SSH unless
	// InsecureIgnoreHostKey is set.
	KnownHosts []byte
	// InsecureIgnoreHostKey accepts any SSH host key. It exposes the
	// connection to a man in the middle; use it only in tests.
	InsecureIgnoreHostKey bool

	// AllowInsecureHTTP allows sending credentials over plain http:// to a
	// host that is not a loopback address. Without it such a fetch fails
	// with [ErrInvalid].
	AllowInsecureHTTP bool
}

// String describes which kinds of credentials are set, without secrets.
func (a *Auth) String() string {
	if a == nil {
		return "anonymous"
	}
	var kinds []string
	if a.Username != "" || a.Password != "" {
		kinds = append(kinds, "basic")
	}
	if a.BearerToken != "" {
		kinds = append(kinds, "bearer")
	}
	if len(a.Identity) > 0 {
		kinds = append(kinds, "ssh-key")
	}
	if len(a.KnownHosts) > 0 {
		kinds = append(kinds, "known-hosts")
	}
	if len(a.CABundle) > 0 {
		kinds = append(kinds, "ca-bundle")
	}
	if len(kinds) == 0 {
		return "anonymous"
	}
	return fmt.Sprint(kinds)
}

// Keys of the Secret data read by [AuthFromSecretData]; the same keys Flux
// uses for Git repository secrets.
const (
	SecretKeyUsername    = "username"
	SecretKeyPassword    = "password"
	SecretKeyBearerToken = "bearerToken"
	SecretKeyIdentity    = "identity"
	SecretKeyKnownHosts  = "known_hosts"
	SecretKeyCA          = "ca.crt"
)

// AuthFromSecretData builds an Auth from the data of a Kubernetes Secret (or
// any map of the same shape), with the keys Flux uses: "username",
// "password", "bearerToken", "identity", "known_hosts" and "ca.crt". When
// "identity" is present, "password" is the identity's passphrase rather
// than an HTTP password, and "username" the SSH user. Other keys are
// ignored. The error wraps [ErrInvalid] for contradictory data (a password
// and a bearer token).
func AuthFromSecretData(data map[string][]byte) (*Auth, error) {
	a := &Auth{
		Username:    string(data[SecretKeyUsername]),
		BearerToken: string(data[SecretKeyBearerToken]),
		CABundle:    data[SecretKeyCA],
		Identity:    data[SecretKeyIdentity],
		KnownHosts:  data[SecretKeyKnownHosts],
	}
	if len(a.Identity) > 0 {
		a.IdentityPassphrase = string(data[SecretKeyPassword])
	} else {
		a.Password = string(data[SecretKeyPassword])
	}
	if a.BearerToken != "" && a.Password != "" {
		return nil, invalidf("secret data has both %q and %q", SecretKeyPassword, SecretKeyBearerToken)
	}
	return a, nil
}

// connAuth is an Auth prepared for one connection to one URL.
type connAuth struct {
	method   transport.AuthMethod // nil for anonymous
	caBundle []byte
	hostKey  *hostKeyRecorder // nil unless SSH
}

// hostKeyErr returns the host key failure seen during the connection.
func (c *connAuth) hostKeyErr() error {
	if c == nil || c.hostKey == nil {
		return nil
	}
	return c.hostKey.get()
}

// prepare turns a into the go-git auth method for u. ctx's deadline, if any,
// bounds the SSH dial.
func (a *Auth) prepare(ctx context.Context, u *remoteURL) (*connAuth, error) {
	switch u.ep.Protocol {
	case "http", "https":
		return a.prepareHTTP(u)
	case "ssh":
		return a.prepareSSH(ctx, u)
	}
	return &connAuth{}, nil
}

func (a *Auth) prepareHTTP(u *remoteURL) (*connAuth, error) {
	c := &connAuth{}
	if a == nil {
		return c, nil
	}
	c.caBundle = a.CABundle
	switch {
	case a.BearerToken != "" && (a.Username != "" || a.Password != ""):
		return nil, invalidf("auth has both basic credentials and a bearer token")
	case a.BearerToken != "":
		c.method = &githttp.TokenAuth{Token: a.BearerToken}
	case a.Username != "" || a.Password != "":
		c.method = &githttp.BasicAuth{Username: a.Username, Password: a.Password}
	}
	if c.method != nil && u.ep.Protocol == "http" && !u.isLoopback() && !a.AllowInsecureHTTP {
		return nil, invalidf("refusing to send credentials over plain http to %s (use https, or set Auth.AllowInsecureHTTP)", u.ep.Host)
	}
	return c, nil
}

func (a *Auth) prepareSSH(ctx context.Context, u *remoteURL) (*connAuth, error) {
	if a == nil || len(a.Identity) == 0 {
		return nil, invalidf("ssh URL %s needs Auth with an Identity (private key)", u)
	}
	signer, err := ssh.ParsePrivateKey(a.Identity)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if a.IdentityPassphrase == "" {
			return nil, fmt.Errorf("%w: the SSH identity is encrypted and no passphrase was given", ErrAuth)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(a.Identity, []byte(a.IdentityPassphrase))
		if err != nil {
			return nil, fmt.Errorf("%w: decrypting the SSH identity: %w", ErrAuth, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("%w: parsing the SSH identity: %w", ErrAuth, err)
	}

	user := u.ep.User
	if user == "" {
		user = a.Username
	}
	if user == "" {
		user = "git"
	}
	port := u.ep.Port
	if port == 0 {
		port = 22
	}
	hostWithPort := net.JoinHostPort(u.ep.Host, strconv.Itoa(port))

	rec := &hostKeyRecorder{}
	var algos []string
	switch {
	case len(a.KnownHosts) > 0:
		db, err := knownHostsDB(a.KnownHosts)
		if err != nil {
			return nil, err
		}
		rec.cb = db.HostKeyCallback()
		algos = db.HostKeyAlgorithms(hostWithPort)
	case a.InsecureIgnoreHostKey:
		rec.cb = ssh.InsecureIgnoreHostKey()
	default:
		return nil, fmt.Errorf("%w: %w: no known_hosts given for %s (set Auth.KnownHosts, or Auth.InsecureIgnoreHostKey in tests)", ErrInvalid, ErrHostKey, u)
	}

	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	return &connAuth{
		method: &sshKeyAuth{
			user:    user,
			signer:  signer,
			hostKey: rec.callback,
			algos:   algos,
			timeout: timeout,
		},
		hostKey: rec,
	}, nil
}

// knownHostsDB parses known_hosts data with the same code OpenSSH-style
// files go through (golang.org/x/crypto/ssh/knownhosts, wrapped by
// skeema/knownhosts to learn the host key algorithms to negotiate). Those
// only read files, so the data goes through a short-lived temporary file.
func knownHostsDB(data []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "gitopskit-known_hosts-*")
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, invalidf("known_hosts data: %v", err)
	}
	return db, nil
}

// hostKeyRecorder wraps a host key callback and remembers its failure, so
// that the failure is reported as ErrHostKey however the transport wraps
// it.
type hostKeyRecorder struct {
	cb  ssh.HostKeyCallback
	mu  sync.Mutex
	err error
}

func (r *hostKeyRecorder) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := r.cb(hostname, remote, key)
	if err != nil {
		if knownhosts.IsHostUnknown(err) {
			err = fmt.Errorf("host %s is not in known_hosts (its %s key is %s): %w", hostname, key.Type(), ssh.FingerprintSHA256(key), err)
		} else if knownhosts.IsHostKeyChanged(err) {
			err = fmt.Errorf("host %s presented %s key %s, which does not match known_hosts: %w", hostname, key.Type(), ssh.FingerprintSHA256(key), err)
		}
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}
	return err
}

func (r *hostKeyRecorder) get() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// sshKeyAuth is go-git SSH public key authentication with a host key
// callback, host key algorithms and a dial timeout in one client config.
type sshKeyAuth struct {
	user    string
	signer  ssh.Signer
	hostKey ssh.HostKeyCallback
	algos   []string
	timeout time.Duration
}

func (a *sshKeyAuth) Name() string { return "ssh-public-keys" }

func (a *sshKeyAuth) String() string {
	return fmt.Sprintf("user: %s, name: %s", a.user, a.Name())
}

func (a *sshKeyAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User:              a.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(a.signer)},
		HostKeyCallback:   a.hostKey,
		HostKeyAlgorithms: a.algos,
		Timeout:           a.timeout,
	}, nil
}
