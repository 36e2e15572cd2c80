package helmrelease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Media types of a Helm chart stored in an OCI registry.
const (
	ociChartLayerMediaType       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	ociLegacyChartLayerMediaType = "application/tar+gzip"
)

// fetchOCI resolves a chart from an OCI registry into the cache.
func (r *Reconciler) fetchOCI(ctx context.Context, rel *Release) (string, error) {
	ref := rel.Chart
	repoRef := strings.TrimSuffix(strings.TrimPrefix(ref.RepoURL, "oci://"), "/") + "/" + ref.Name
	repo, err := remote.NewRepository(repoRef)
	if err != nil {
		return "", &FetchError{URL: "oci://" + repoRef, Err: err}
	}
	repo.PlainHTTP = ref.PlainHTTP
	client := &auth.Client{Client: r.opts.HTTPClient, Cache: auth.NewCache()}
	client.SetUserAgent("gitopskit-helmrelease")
	if ref.Auth != nil {
		client.Credential = auth.StaticCredential(repo.Reference.Registry, auth.Credential{
			Username: ref.Auth.Username, Password: ref.Auth.Password,
		})
	}
	repo.Client = client
	url := "oci://" + repoRef

	tag, err := r.ociTag(ctx, repo, rel, url)
	if err != nil {
		return "", err
	}
	desc, err := repo.Resolve(ctx, tag)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version}
		}
		return "", ociError(url+":"+tag, err)
	}
	manifestBytes, err := content.FetchAll(ctx, repo, desc)
	if err != nil {
		return "", ociError(url+"@"+desc.Digest.String(), err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(manifestBytes, &manifest); err != nil {
		return "", &FetchError{URL: url + ":" + tag, Err: fmt.Errorf("parse manifest: %w", err)}
	}
	var layer *ocispec.Descriptor
	for i, l := range manifest.Layers {
		if l.MediaType == ociChartLayerMediaType || l.MediaType == ociLegacyChartLayerMediaType {
			layer = &manifest.Layers[i]
			break
		}
	}
	if layer == nil {
		return "", &FetchError{URL: url + ":" + tag, Err: errors.New("the artifact has no Helm chart layer")}
	}
	if layer.Size > maxArchiveBytes {
		return "", &FetchError{URL: url + ":" + tag, Err: fmt.Errorf("chart layer of %d bytes is too large", layer.Size)}
	}
	if p, ok := r.cached(layer.Digest.String()); ok {
		r.emit(rel, Event{Type: EventChartCacheHit, Message: fmt.Sprintf("%s:%s: %s", repoRef, tag, layer.Digest)})
		return p, nil
	}
	rc, err := repo.Blobs().Fetch(ctx, *layer)
	if err != nil {
		return "", ociError(url+"@"+layer.Digest.String(), err)
	}
	defer rc.Close()
	p, err := r.store(rc, layer.Digest.String(), url+":"+tag)
	if err != nil {
		return "", err
	}
	r.emit(rel, Event{Type: EventChartDownloaded, Message: fmt.Sprintf("%s:%s (%s)", repoRef, tag, layer.Digest)})
	return p, nil
}

// ociTag turns the requested version into a tag: an exact version is used
// as is (with "+" spelled "_", as Helm pushes it), a range is matched
// against the repository's tags, and anything else is taken as a tag.
func (r *Reconciler) ociTag(ctx context.Context, repo *remote.Repository, rel *Release, url string) (string, error) {
	ref := rel.Chart
	want := ref.Version
	if want != "" {
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(want, "v")); err == nil {
			return strings.ReplaceAll(want, "+", "_"), nil
		}
		if _, err := semver.NewConstraint(want); err != nil {
			return want, nil // a plain tag such as "latest"
		}
	}
	var tags []string
	err := repo.Tags(ctx, "", func(page []string) error {
		for _, t := range page {
			tags = append(tags, strings.ReplaceAll(t, "_", "+"))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version, NoChart: true}
		}
		return "", ociError(url, err)
	}
	if len(tags) == 0 {
		return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version, NoChart: true}
	}
	chosen, err := selectVersion(want, tags)
	if err != nil || chosen == "" {
		return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version, Available: sortVersionsDesc(tags)}
	}
	return strings.ReplaceAll(chosen, "+", "_"), nil
}

// ociError maps registry errors to typed errors.
func ociError(url string, err error) error {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &AuthError{URL: url, StatusCode: resp.StatusCode, Err: err}
		}
		return &FetchError{URL: url, StatusCode: resp.StatusCode, Err: err}
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return &AuthError{URL: url, StatusCode: http.StatusUnauthorized, Err: err}
	}
	return &FetchError{URL: url, Err: err}
}
