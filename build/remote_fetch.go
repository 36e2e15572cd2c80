package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source"
)

// With AllowRemoteBases, gitopskit fetches remote bases itself, so that the
// bounds on time and bytes hold where the bytes are fetched: kustomize's own
// fetches (an http.Client without a timeout, the git command) are never
// reached. Every kustomization kustomize reads goes through
// confinedFS.ReadFile, which hands it to remoteFetcher.vendor before
// kustomize sees it: each remote reference in it is fetched (a Git base with
// package source, shallow and in memory, its tree written to a temporary
// directory within source.Limits; an HTTP(S) file with an http.Client that
// has a timeout, read through a byte bound), the copy is mounted in the
// confined filesystem under virtRemote, and the reference is replaced by a
// relative path to the copy. Kustomize then reads the copies like the
// artifact's own files: confined to their copy, within Limits, objects
// counted. A remote base's own remote references are fetched the same way
// when kustomize reads its kustomization, one level deeper.
//
// Whatever is left that kustomize could fetch (a Git address in a field that
// names files, file:// URLs, references in plugin configurations or inline
// content) is refused by the same check as without AllowRemoteBases, which
// runs on the rewritten kustomization: kustomize never sees a remote
// reference.

// virtRemote is where the copies of remote references are mounted in the
// build's virtual filesystem: virtRemote/<n> is the n-th fetch of the build.
const virtRemote = "/gitopskit-remote"

// maxRedirects bounds the HTTP redirects one file fetch follows.
const maxRedirects = 10

// dirFields are the kustomization fields (after FixKustomization) whose
// entries kustomize may load as a directory, and so as a Git base.
var dirFields = map[string]bool{
	"Resources": true, "Components": true, "Generators": true,
	"Transformers": true, "Validators": true,
}

// remoteFetcher fetches the remote references of one build, within its
// RemoteOptions, and keeps the copies until the build ends.
type remoteFetcher struct {
	ctx       context.Context
	opts      RemoteOptions
	client    *http.Client
	transport *http.Transport

	// mu serializes fetches (kustomize reads one file at a time anyway) and
	// guards the fields below.
	mu      sync.Mutex
	dir     string            // the temporary directory, made on first fetch
	fetches int               // fetches started
	total   int64             // bytes fetched
	done    map[string]string // fetch key -> virtual directory of the copy
	closed  bool
}

func newRemoteFetcher(ctx context.Context, opts RemoteOptions) *remoteFetcher {
	r := &remoteFetcher{ctx: ctx, opts: opts.withDefaults(), done: map[string]string{}}
	// A transport of its own: no proxy from the environment, no connection
	// shared with anything else, closed with the build.
	r.transport = &http.Transport{
		DialContext:           (&net.Dialer{Timeout: r.opts.Timeout}).DialContext,
		TLSHandshakeTimeout:   r.opts.Timeout,
		ResponseHeaderTimeout: r.opts.Timeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
	}
	r.client = &http.Client{
		Transport: r.transport,
		Timeout:   r.opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "https" && (req.URL.Scheme != "http" || via[0].URL.Scheme == "https") {
				return fmt.Errorf("redirect to %s refused", req.URL.Scheme)
			}
			if !r.hostAllowed(req.URL.Host) {
				return fmt.Errorf("redirect to host %s, not in the allowed hosts", req.URL.Hostname())
			}
			return nil
		},
	}
	return r
}

// close removes the copies and closes the idle connections. It is called
// once kustomize is done with the build's filesystem.
func (r *remoteFetcher) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.transport.CloseIdleConnections()
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
		r.dir = ""
	}
}

// hostAllowed reports whether hostport ("host" or "host:port") may be
// fetched from.
func (r *remoteFetcher) hostAllowed(hostport string) bool {
	if len(r.opts.AllowedHosts) == 0 {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return slices.ContainsFunc(r.opts.AllowedHosts, func(a string) bool {
		return strings.EqualFold(a, host) || strings.EqualFold(a, hostport)
	})
}

// vendor rewrites k, the kustomization read at rel (for errors) in the
// virtual directory kdir, nested depth remote bases deep, so that each
// remote reference it lists names a fetched copy instead. It reports
// whether anything was rewritten.
func (r *remoteFetcher) vendor(f *confinedFS, kdir, rel string, depth int, k *types.Kustomization) (bool, error) {
	changed := false
	err := rewriteKustomizationRefs(k, func(top, field, s string) (string, error) {
		t := strings.TrimSpace(s)
		if strings.Contains(t, "\n") || strings.HasPrefix(t, "{") || !isRemote(t) {
			return s, nil // inline content or local: checked after
		}
		prefix := ""
		if field == "FileSources" && !httpScheme(t) {
			// A generator file with a key: "key=https://...".
			if key, v, ok := strings.Cut(t, "="); ok && httpScheme(v) {
				prefix, t = key+"=", v
			}
		}
		var target string
		var err error
		switch {
		case httpScheme(t) && !(dirFields[top] && looksLikeGit(t)):
			target, err = r.vendorFile(f, rel, t, depth)
		case dirFields[top]:
			target, err = r.vendorGit(f, rel, t, depth)
		default:
			return s, nil // kustomize would not fetch it; refused after
		}
		if err != nil {
			return "", err
		}
		p, err := filepath.Rel(kdir, target)
		if err != nil {
			return "", err
		}
		changed = true
		return prefix + filepath.ToSlash(p), nil
	})
	return changed, err
}

// vendorGit fetches a Git base and returns the virtual directory of the
// kustomization it names.
func (r *remoteFetcher) vendorGit(f *confinedFS, rel, ref string, depth int) (string, error) {
	spec, err := parseGitSpec(ref)
	if err != nil {
		return "", &RemoteBaseError{Kustomization: rel, Ref: redactText(ref), Reason: "not a Git base gitopskit fetches: " + err.Error()}
	}
	host := gitHost(spec.CloneURL)
	key := "git " + spec.CloneURL + " " + spec.Ref
	dir, err := r.fetchOnce(f, key, rel, ref, host, depth, func(ctx context.Context, dest string, limit int64) (int64, error) {
		return r.fetchGit(ctx, spec, host, dest, limit)
	})
	if err != nil {
		return "", err
	}
	return path.Join(dir, spec.Dir), nil
}

// vendorFile fetches an HTTP(S) file and returns the virtual path of the
// copy.
func (r *remoteFetcher) vendorFile(f *confinedFS, rel, ref string, depth int) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", &RemoteBaseError{Kustomization: rel, Ref: redactText(ref), Reason: err.Error()}
	}
	name := copyName(u.Path)
	dir, err := r.fetchOnce(f, "http "+ref, rel, ref, u.Host, depth, func(ctx context.Context, dest string, limit int64) (int64, error) {
		data, err := r.fetchHTTP(ctx, ref, limit)
		if err != nil {
			return 0, err
		}
		return int64(len(data)), os.WriteFile(filepath.Join(dest, name), data, 0o644)
	})
	if err != nil {
		return "", err
	}
	return dir + "/" + name, nil
}

var unsafeNameRE = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// copyName names the copy of an HTTP(S) file after the URL's last path
// element, so that kustomize's messages and origins stay readable; never
// a kustomization file name or a hidden file.
func copyName(urlPath string) string {
	name := unsafeNameRE.ReplaceAllString(path.Base(urlPath), "_")
	if name == "" || strings.HasPrefix(name, ".") || isKustomizationFile(name) {
		return "remote.yaml"
	}
	return name
}

// gitHost returns the host (with its port, if any) of a clone URL in
// kustomize's forms: scheme://[user@]host[:port]/path or user@host:path.
func gitHost(cloneURL string) string {
	if strings.Contains(cloneURL, "://") {
		if u, err := url.Parse(cloneURL); err == nil {
			return u.Host
		}
		return ""
	}
	rest := cloneURL
	if i := strings.Index(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	host, _, _ := strings.Cut(rest, ":")
	return host
}

// fetchOnce runs fetch into a new directory of the build's temporary
// directory, once per key, within the bounds, and mounts the copy; it
// returns the copy's virtual directory.
func (r *remoteFetcher) fetchOnce(f *confinedFS, key, rel, ref, host string, depth int, fetch func(ctx context.Context, dest string, limit int64) (int64, error)) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir, ok := r.done[key]; ok {
		return dir, nil
	}
	failed := func(err error) error {
		return &RemoteFetchError{Kustomization: rel, Ref: redactText(ref), Err: err}
	}
	if !r.hostAllowed(host) {
		return "", &RemoteBaseError{Kustomization: rel, Ref: redactText(ref), Reason: "host " + redactText(host) + " is not in the allowed hosts"}
	}
	if depth+1 > r.opts.MaxDepth {
		return "", failed(fmt.Errorf("%w: remote bases nested %d deep, over the limit of %d", ErrTooLarge, depth+1, r.opts.MaxDepth))
	}
	if r.fetches >= r.opts.MaxFetches {
		return "", failed(fmt.Errorf("%w: more than %d remote references in one build", ErrTooLarge, r.opts.MaxFetches))
	}
	remaining := r.opts.MaxTotalBytes - r.total
	if remaining <= 0 {
		return "", failed(&TooLargeError{Path: redactText(ref), Size: r.total, Limit: r.opts.MaxTotalBytes, Total: true})
	}
	if err := r.ctx.Err(); err != nil {
		return "", err
	}
	if r.closed {
		return "", errors.New("the build is over")
	}
	if r.dir == "" {
		tmp := r.opts.TempDir
		if tmp == "" {
			tmp = os.TempDir()
		}
		dir, err := os.MkdirTemp(tmp, "gitopskit-remote-")
		if err != nil {
			return "", failed(err)
		}
		r.dir = dir
	}
	n := r.fetches
	r.fetches++
	dest := filepath.Join(r.dir, strconv.Itoa(n))
	if err := os.Mkdir(dest, 0o755); err != nil {
		return "", failed(err)
	}
	limit := min(r.opts.MaxBytes, remaining)
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	size, err := fetch(ctx, dest, limit)
	cancel()
	if err != nil {
		var tl *TooLargeError
		if errors.As(err, &tl) && limit < r.opts.MaxBytes {
			tl.Total, tl.Size, tl.Limit = true, r.total+tl.Size, r.opts.MaxTotalBytes
		}
		return "", failed(err)
	}
	r.total += size
	root, err := os.OpenRoot(dest)
	if err != nil {
		return "", failed(err)
	}
	vdir := virtRemote + "/" + strconv.Itoa(n)
	f.addMount(vdir, root, depth+1)
	r.done[key] = vdir
	return vdir, nil
}

// fetchGit clones spec's repository at its ref with package source (in
// memory, depth 1, no tags but the one asked for) and writes its tree into
// dest, receiving at most limit bytes and writing at most limit bytes and
// MaxFiles files. It returns the bytes written.
func (r *remoteFetcher) fetchGit(ctx context.Context, spec *gitSpec, host, dest string, limit int64) (int64, error) {
	var auth *source.Auth
	if r.opts.GitAuth != nil {
		auth = r.opts.GitAuth(host)
	}
	// The pack received and the tree written are each held to limit.
	opts := source.Options{Auth: auth, Dir: dest, Limits: source.Limits{MaxBytes: limit, MaxFiles: r.opts.MaxFiles, MaxPackBytes: limit}}
	// git fetch resolves a name as a tag before a branch; a full commit ID
	// is a commit.
	var refs []source.Ref
	switch {
	case spec.Ref == "":
		refs = []source.Ref{{}}
	case isCommitID(spec.Ref):
		refs = []source.Ref{{Commit: spec.Ref}}
	case strings.HasPrefix(spec.Ref, "refs/"):
		refs = []source.Ref{{Name: spec.Ref}}
	default:
		refs = []source.Ref{{Tag: spec.Ref}, {Branch: spec.Ref}}
	}
	var err error
	for i, ref := range refs {
		opts.Ref = ref
		var res *source.Result
		res, err = source.Fetch(ctx, spec.CloneURL, opts)
		if err == nil {
			return res.Artifact.Size, nil
		}
		if !errors.Is(err, source.ErrRefNotFound) || i == len(refs)-1 {
			break
		}
	}
	if errors.Is(err, source.ErrTooLarge) {
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return 0, err
}

func isCommitID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// fetchHTTP GETs rawURL with the build's client and returns the body,
// refusing a non-2xx status and a body over limit bytes (a *TooLargeError,
// after reading at most limit+1 bytes).
func (r *remoteFetcher) fetchHTTP(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("HTTP status %d (%s)", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	tooLarge := func(n int64) error {
		return &TooLargeError{Path: redactText(rawURL), Size: n, Limit: limit}
	}
	if resp.ContentLength > limit {
		return nil, tooLarge(resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(int64(len(data)))
	}
	return data, nil
}

// rewriteKustomizationRefs calls fn with every string of k that kustomize
// may load or fetch (the strings kustomizationRefs returns, except in
// interface values) and replaces it with fn's result. top is the
// kustomization's field the string is in, field the innermost struct
// field.
func rewriteKustomizationRefs(k *types.Kustomization, fn func(top, field, s string) (string, error)) error {
	var walk func(v reflect.Value, top, field string) error
	walk = func(v reflect.Value, top, field string) error {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				return walk(v.Elem(), top, field)
			}
		case reflect.String:
			if s := v.String(); s != "" && v.CanSet() {
				out, err := fn(top, field, s)
				if err != nil {
					return err
				}
				v.SetString(out)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				if err := walk(v.Index(i), top, field); err != nil {
					return err
				}
			}
		case reflect.Map:
			for _, key := range v.MapKeys() {
				e := reflect.New(v.Type().Elem()).Elem()
				e.Set(v.MapIndex(key))
				if err := walk(e, top, field); err != nil {
					return err
				}
				v.SetMapIndex(key, e)
			}
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				sf := t.Field(i)
				if !sf.IsExported() || kustomizationValueFields[sf.Name] {
					continue
				}
				tp := top
				if tp == "" {
					tp = sf.Name
				}
				if err := walk(v.Field(i), tp, sf.Name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(reflect.ValueOf(k).Elem(), "", "")
}

// marshalKustomization encodes a rewritten kustomization for kustomize,
// which decodes it again (FixKustomization is idempotent).
func marshalKustomization(k *types.Kustomization) ([]byte, error) {
	return yaml.Marshal(k)
}
