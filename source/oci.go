package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// FluxArtifactMediaType is the media type of the layer `flux push
// artifact` writes: a gzip-compressed tar of the directory pushed.
const FluxArtifactMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"

// OCIRef selects one artifact of an OCI repository, as the ref of Flux's
// OCIRepository does. When several fields are set, Digest > SemVer > Tag;
// the zero OCIRef is the tag "latest".
type OCIRef struct {
	// Tag names a tag. "TAG@sha256:<hex>" pins the manifest digest and
	// keeps the tag as the revision's label.
	Tag string
	// SemVer is a semantic version range over the repository's tags
	// (Masterminds/semver syntax, a "v" prefix tolerated, tags that are not
	// versions ignored); the highest matching tag wins.
	SemVer string
	// SemVerFilter, with SemVer, is a regular expression a tag must match
	// to be considered.
	SemVerFilter string
	// Digest is the manifest's digest, "sha256:<hex>".
	Digest string
}

// String describes the ref for messages.
func (r OCIRef) String() string {
	switch {
	case r.Digest != "":
		return "digest " + r.Digest
	case r.SemVer != "":
		if r.SemVerFilter != "" {
			return fmt.Sprintf("semver %q (tags matching %q)", r.SemVer, r.SemVerFilter)
		}
		return fmt.Sprintf("semver %q", r.SemVer)
	case r.Tag != "":
		return "tag " + r.Tag
	}
	return "tag latest"
}

// Validate checks the ref's syntax; errors wrap [ErrInvalid].
func (r OCIRef) Validate() error {
	_, err := r.parse()
	return err
}

// ociTarget is a validated OCIRef.
type ociTarget struct {
	tag      string // a tag to resolve, or the label of a pinned digest
	digest   digest.Digest
	semver   *semver.Constraints
	filter   *regexp.Regexp
	semverRE string
}

func (r OCIRef) parse() (ociTarget, error) {
	var t ociTarget
	switch {
	case r.Digest != "":
		d, err := digest.Parse(r.Digest)
		if err != nil {
			return t, invalidf("digest %q: %v", r.Digest, err)
		}
		t.digest = d
	case r.SemVer != "":
		c, err := semver.NewConstraint(r.SemVer)
		if err != nil {
			return t, invalidf("semver range %q: %v", r.SemVer, err)
		}
		t.semver, t.semverRE = c, r.SemVer
		if r.SemVerFilter != "" {
			if t.filter, err = regexp.Compile(r.SemVerFilter); err != nil {
				return t, invalidf("semver filter %q: %v", r.SemVerFilter, err)
			}
		}
	default:
		t.tag = r.Tag
		if t.tag == "" {
			t.tag = "latest"
		}
		if tag, pinned, ok := strings.Cut(t.tag, "@"); ok {
			d, err := digest.Parse(pinned)
			if err != nil {
				return t, invalidf("tag %q: digest: %v", r.Tag, err)
			}
			t.tag, t.digest = tag, d
		}
		if err := (registry.Reference{Reference: t.tag}).ValidateReferenceAsTag(); err != nil {
			return t, invalidf("tag %q: %v", t.tag, err)
		}
	}
	return t, nil
}

// OCIOptions configure [FetchOCI].
type OCIOptions struct {
	// Ref selects the artifact; the zero Ref is the tag "latest".
	Ref OCIRef

	// MediaType selects the layer to extract: the first layer of this
	// media type. Empty: the first layer, as Flux does without a
	// layerSelector. The layer must be a gzip-compressed tar.
	MediaType string

	// Auth holds registry credentials (Username and Password, or a
	// BearerToken sent as the registry's access token) and a CABundle;
	// nil means anonymous. Credentials go over plain HTTP only to loopback
	// addresses unless Auth.AllowInsecureHTTP is set.
	Auth *Auth

	// PlainHTTP talks to the registry over http:// instead of https://
	// (Flux's spec.insecure).
	PlainHTTP bool

	// LastRevision, Ignore, Cache, Dir and Limits are as in [Options]:
	// an unchanged revision is one request (the manifest's HEAD, or none
	// for a pinned digest), ignore patterns apply after the artifact's own
	// root .sourceignore, exactly one of Cache and Dir is set, and Limits
	// bound the bytes received (MaxPackBytes: the manifest and the
	// compressed layer) and the files and bytes extracted.
	LastRevision string
	Ignore       []string
	Cache        *Cache
	Dir          string
	Limits       Limits

	// HTTPClient, if set, makes the requests (for tests and proxies);
	// Auth.CABundle is then ignored. Default: a client without proxy
	// trusting the system roots and the CABundle.
	HTTPClient *http.Client
}

// FetchOCI resolves opts.Ref in the OCI repository at url (oci://host[:port]/path)
// and hands out the files of one layer of the artifact, extracted from its
// gzip-compressed tar, as an [Artifact]: what Flux's OCIRepository makes
// of an artifact pushed with `flux push artifact` (or any OCI artifact
// whose layer is a tar.gz of manifests).
//
// The revision is "<tag>@sha256:<hex>" of the manifest (for a SemVer ref
// the tag chosen), or "sha256:<hex>" for a Digest ref; Artifact.Commit is
// empty. With opts.LastRevision equal to the revision resolved, nothing
// is downloaded and the Result has Unchanged set (and the Cache's artifact
// when it holds one).
//
// The layer is read as untrusted input: its bytes are checked against the
// digest the manifest gives; entries are written inside the artifact
// directory whatever their names and the symbolic links before them say
// (an entry leaving the directory is an error wrapping [ErrInvalid]);
// symbolic links are written as they are, as for Git; hard links stay
// inside the directory; devices and other special files are refused; a
// ".git" path element is skipped. Bytes received, files and bytes written
// are bounded by opts.Limits ([*TooLargeError]), and time by ctx.
func FetchOCI(ctx context.Context, url string, opts OCIOptions) (*Result, error) {
	res, err := fetchOCI(ctx, url, opts)
	if err != nil {
		return nil, redactError(fmt.Errorf("source: fetch %s %s: %w", redactURL(url), opts.Ref, err), url, opts.Auth)
	}
	return res, nil
}

// ociURL is a validated oci:// URL.
type ociURL struct {
	raw  string
	ref  registry.Reference // Registry and Repository
	host string             // without port, lowercase
}

// key identifies the repository for the cache.
func (u ociURL) key() string { return "oci://" + u.ref.Registry + "/" + u.ref.Repository }

func (u ociURL) isLoopback() bool {
	if u.host == "localhost" || strings.HasSuffix(u.host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(u.host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// parseOCIURL accepts oci://host[:port]/repository, without user
// information, tag, digest, query or fragment.
func parseOCIURL(raw string) (ociURL, error) {
	rest, ok := strings.CutPrefix(raw, "oci://")
	if !ok {
		return ociURL{}, invalidf("OCI repository URL %q: want oci://host/repository", redactURL(raw))
	}
	if strings.ContainsAny(rest, "@?#\x00\r\n") {
		return ociURL{}, invalidf("OCI repository URL %q: want oci://host/repository, without credentials, tag, digest or query", redactURL(raw))
	}
	rest = strings.TrimSuffix(rest, "/")
	ref, err := registry.ParseReference(rest)
	if err != nil {
		return ociURL{}, invalidf("OCI repository URL %q: want oci://host/repository: %v", redactURL(raw), err)
	}
	if ref.Reference != "" {
		return ociURL{}, invalidf("OCI repository URL %q: want oci://host/repository, without a tag (the tag belongs in the ref)", redactURL(raw))
	}
	host := ref.Registry
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return ociURL{raw: raw, ref: ref, host: strings.ToLower(host)}, nil
}

func fetchOCI(ctx context.Context, rawURL string, opts OCIOptions) (*Result, error) {
	u, err := parseOCIURL(rawURL)
	if err != nil {
		return nil, err
	}
	t, err := opts.Ref.parse()
	if err != nil {
		return nil, err
	}
	if (opts.Cache == nil) == (opts.Dir == "") {
		return nil, invalidf("set exactly one of OCIOptions.Cache and OCIOptions.Dir")
	}
	limits := opts.Limits.withDefaults()
	cacheKey := ociCacheKey(opts)

	// A pinned digest is immutable: if it is the last revision, there is
	// nothing to ask the registry.
	if t.digest != "" && opts.LastRevision != "" && ociRevision(t.tag, t.digest, opts.Ref.Digest != "") == opts.LastRevision {
		return ociUnchanged(u, opts.LastRevision, t.digest, opts.Cache, cacheKey), nil
	}

	repo, err := u.repository(opts)
	if err != nil {
		return nil, err
	}
	label, desc, err := resolveOCI(ctx, repo, t, opts.Ref.Digest != "")
	if err != nil {
		return nil, err
	}
	rev := ociRevision(label, desc.Digest, opts.Ref.Digest != "")
	if rev == opts.LastRevision {
		return ociUnchanged(u, rev, desc.Digest, opts.Cache, cacheKey), nil
	}

	layer, err := selectLayer(ctx, repo, desc, opts.MediaType, limits)
	if err != nil {
		return nil, err
	}
	write := func(dir string) (string, int64, error) {
		if err := extractLayer(ctx, repo, layer, dir, limits); err != nil {
			return "", 0, err
		}
		if err := applyIgnore(dir, opts.Ignore); err != nil {
			return "", 0, err
		}
		d, size, err := DirDigest(dir)
		if err != nil {
			return "", 0, err
		}
		return d, size, nil
	}
	art := &Artifact{URL: redactURL(rawURL), Revision: rev}
	if opts.Cache != nil {
		dir, meta := opts.Cache.artifactPaths("oci-"+desc.Digest.Encoded(), cacheKey)
		m, ok := opts.Cache.lookupArtifact(dir, meta)
		if !ok {
			m, err = opts.Cache.storeArtifact(u.key(), dir, meta, "oci-"+desc.Digest.Encoded(), func(tree string, _ map[string]reusable) (string, int64, []fileRecord, error) {
				d, size, err := write(tree)
				return d, size, nil, err
			})
			if err != nil {
				return nil, err
			}
		}
		art.Dir, art.Digest, art.Size = dir, m.Digest, m.Size
		return &Result{Revision: rev, Artifact: art, FetchedBytes: layer.Size}, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(opts.Dir); err != nil {
		return nil, err
	} else if len(entries) > 0 {
		return nil, invalidf("Dir %s is not empty", opts.Dir)
	}
	d, size, err := write(opts.Dir)
	if err != nil {
		emptyDir(opts.Dir)
		return nil, err
	}
	art.Dir, art.Digest, art.Size = opts.Dir, d, size
	return &Result{Revision: rev, Artifact: art, FetchedBytes: layer.Size}, nil
}

// ociCacheKey names the options that change an artifact's tree.
func ociCacheKey(opts OCIOptions) string {
	ignore := opts.Ignore
	if opts.MediaType != "" {
		ignore = append(slices.Clone(ignore), "\x00layer "+opts.MediaType)
	}
	return filterKey(ignore, nil)
}

// ociRevision is "<label>@<digest>", or the digest alone for a Digest ref.
func ociRevision(label string, d digest.Digest, byDigest bool) string {
	if byDigest || label == "" {
		return d.String()
	}
	return label + "@" + d.String()
}

func ociUnchanged(u ociURL, rev string, d digest.Digest, c *Cache, cacheKey string) *Result {
	res := &Result{Revision: rev, Unchanged: true}
	if c == nil {
		return res
	}
	dir, meta := c.artifactPaths("oci-"+d.Encoded(), cacheKey)
	if m, ok := c.lookupArtifact(dir, meta); ok {
		res.Artifact = &Artifact{URL: redactURL(u.raw), Revision: rev, Dir: dir, Digest: m.Digest, Size: m.Size}
	}
	return res
}

// repository returns a client of the repository with opts' transport and
// credentials.
func (u ociURL) repository(opts OCIOptions) (*remote.Repository, error) {
	a := opts.Auth
	hasCreds := a != nil && (a.Username != "" || a.Password != "" || a.BearerToken != "")
	if a != nil && a.Password != "" && a.BearerToken != "" {
		return nil, invalidf("set a password or a bearer token, not both")
	}
	if hasCreds && opts.PlainHTTP && !u.isLoopback() && !a.AllowInsecureHTTP {
		return nil, invalidf("refusing to send credentials over plain http to %s (use https, or set Auth.AllowInsecureHTTP)", u.ref.Registry)
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          10,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		if a != nil && len(a.CABundle) > 0 {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(a.CABundle) {
				return nil, invalidf("CA bundle holds no PEM certificate")
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		hc = &http.Client{Transport: tr}
	}
	client := &auth.Client{Client: hc, Cache: auth.NewCache()}
	client.SetUserAgent("gitopskit-source")
	if hasCreds {
		client.Credential = auth.StaticCredential(u.ref.Registry, auth.Credential{
			Username: a.Username, Password: a.Password, AccessToken: a.BearerToken,
		})
	}
	repo := &remote.Repository{Client: client, Reference: u.ref, PlainHTTP: opts.PlainHTTP}
	return repo, nil
}

// resolveOCI returns the label and the manifest descriptor t names.
func resolveOCI(ctx context.Context, repo *remote.Repository, t ociTarget, byDigest bool) (string, ocispec.Descriptor, error) {
	switch {
	case byDigest:
		desc, err := repo.Resolve(ctx, t.digest.String())
		if err != nil {
			return "", desc, ociError(ctx, err, "resolve")
		}
		return "", desc, nil
	case t.semver != nil:
		tag, err := semverTag(ctx, repo, t)
		if err != nil {
			return "", ocispec.Descriptor{}, err
		}
		t.tag = tag
	}
	desc, err := repo.Resolve(ctx, t.tag)
	if err != nil {
		return "", desc, ociError(ctx, err, "resolve "+t.tag)
	}
	if t.digest != "" && desc.Digest != t.digest {
		return "", desc, fmt.Errorf("%w: tag %s is %s, not the digest pinned (%s)", ErrRefNotFound, t.tag, desc.Digest, t.digest)
	}
	return t.tag, desc, nil
}

// semverTag lists the repository's tags and returns the highest in range.
func semverTag(ctx context.Context, repo *remote.Repository, t ociTarget) (string, error) {
	var (
		best     *semver.Version
		bestName string
	)
	err := repo.Tags(ctx, "", func(tags []string) error {
		for _, tag := range tags {
			if t.filter != nil && !t.filter.MatchString(tag) {
				continue
			}
			// Helm spells a version's "+" as "_" in tags.
			v, err := semver.StrictNewVersion(strings.TrimPrefix(strings.ReplaceAll(tag, "_", "+"), "v"))
			if err != nil || !t.semver.Check(v) {
				continue
			}
			if best == nil || v.GreaterThan(best) || v.Equal(best) && tag > bestName {
				best, bestName = v, tag
			}
		}
		return nil
	})
	if err != nil {
		return "", ociError(ctx, err, "list tags")
	}
	if best == nil {
		return "", fmt.Errorf("%w: %q", ErrNoMatchingTag, t.semverRE)
	}
	return bestName, nil
}

// maxManifestBytes bounds a manifest, as registries do (4 MiB).
const maxManifestBytes = 4 << 20

// selectLayer fetches the manifest of desc and returns the layer to
// extract.
func selectLayer(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, mediaType string, limits Limits) (ocispec.Descriptor, error) {
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
	case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
		return ocispec.Descriptor{}, invalidf("%s is an image index, not an artifact", desc.Digest)
	default:
		return ocispec.Descriptor{}, invalidf("%s has media type %q, not an OCI manifest", desc.Digest, desc.MediaType)
	}
	if desc.Size > maxManifestBytes {
		return ocispec.Descriptor{}, &TooLargeError{Count: desc.Size, Limit: maxManifestBytes, Pack: true}
	}
	b, err := content.FetchAll(ctx, repo, desc) // checks size and digest
	if err != nil {
		return ocispec.Descriptor{}, ociError(ctx, err, "manifest "+desc.Digest.String())
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return ocispec.Descriptor{}, invalidf("manifest %s: %v", desc.Digest, err)
	}
	if len(m.Layers) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%w: manifest %s has no layers", ErrLayerNotFound, desc.Digest)
	}
	layer := m.Layers[0]
	if mediaType != "" {
		i := slices.IndexFunc(m.Layers, func(l ocispec.Descriptor) bool { return l.MediaType == mediaType })
		if i < 0 {
			var have []string
			for _, l := range m.Layers {
				have = append(have, l.MediaType)
			}
			return ocispec.Descriptor{}, fmt.Errorf("%w: manifest %s has no layer of media type %s (it has %s)",
				ErrLayerNotFound, desc.Digest, mediaType, strings.Join(have, ", "))
		}
		layer = m.Layers[i]
	}
	if limits.MaxPackBytes >= 0 && desc.Size+layer.Size > limits.MaxPackBytes {
		return ocispec.Descriptor{}, &TooLargeError{Count: desc.Size + layer.Size, Limit: limits.MaxPackBytes, Pack: true}
	}
	return layer, nil
}

// extractLayer downloads layer and extracts it into dir, checking its
// digest.
func extractLayer(ctx context.Context, repo *remote.Repository, layer ocispec.Descriptor, dir string, limits Limits) error {
	rc, err := repo.Blobs().Fetch(ctx, layer)
	if err != nil {
		return ociError(ctx, err, "layer "+layer.Digest.String())
	}
	defer rc.Close()
	vr := content.NewVerifyReader(ctxReader{ctx: ctx, r: rc}, layer)
	if err := untarGzip(ctx, vr, dir, limits); err != nil {
		return fmt.Errorf("layer %s: %w", layer.Digest, err)
	}
	if err := vr.Verify(); err != nil {
		return fmt.Errorf("layer %s: %w", layer.Digest, err)
	}
	return nil
}

// applyIgnore removes from dir what the root .sourceignore and patterns
// exclude.
func applyIgnore(dir string, patterns []string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var own []byte
	if fi, err := root.Lstat(IgnoreFile); err == nil && fi.Mode().IsRegular() && fi.Size() <= 1<<20 {
		if own, err = root.ReadFile(IgnoreFile); err != nil {
			return fmt.Errorf("reading %s: %w", IgnoreFile, err)
		}
	}
	f := filterOf(own, patterns, nil)
	if f.ignore == nil {
		return nil
	}
	var drop []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if f.skip(filepath.ToSlash(rel), d.IsDir()) {
			drop = append(drop, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, rel := range drop {
		if err := root.RemoveAll(rel); err != nil {
			return err
		}
	}
	return nil
}

// ociError maps registry errors to this package's sentinels.
func ociError(ctx context.Context, err error, what string) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%s: %w (%w)", what, ctxErr, err)
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: %w: %w", what, ErrAuth, err)
		case http.StatusNotFound:
			for _, e := range resp.Errors {
				if e.Code == errcode.ErrorCodeNameUnknown {
					return fmt.Errorf("%s: %w: %w", what, ErrRepositoryNotFound, err)
				}
			}
			return fmt.Errorf("%s: %w: %w", what, ErrRefNotFound, err)
		}
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return fmt.Errorf("%s: %w: %w", what, ErrAuth, err)
	}
	if errors.Is(err, errdef.ErrNotFound) {
		return fmt.Errorf("%s: %w: %w", what, ErrRefNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
