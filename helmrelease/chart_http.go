package helmrelease

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"sigs.k8s.io/yaml"
)

// repoIndex is the part of a chart repository's index.yaml we read.
type repoIndex struct {
	APIVersion string                  `json:"apiVersion"`
	Entries    map[string][]indexEntry `json:"entries"`
}

type indexEntry struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	Digest  string   `json:"digest"`
	Removed bool     `json:"removed"`
}

// fetchHTTP resolves a chart from an HTTP repository into the cache.
func (r *Reconciler) fetchHTTP(ctx context.Context, rel *Release) (string, error) {
	ref := rel.Chart
	base := strings.TrimSuffix(ref.RepoURL, "/")
	indexURL := base + "/index.yaml"
	body, err := r.httpGet(ctx, indexURL, ref.Auth)
	if err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(body, maxArchiveBytes))
	body.Close()
	if err != nil {
		return "", &FetchError{URL: indexURL, Err: err}
	}
	var idx repoIndex
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return "", &FetchError{URL: indexURL, Err: fmt.Errorf("parse index: %w", err)}
	}
	entries := idx.Entries[ref.Name]
	var versions []string
	byVersion := map[string]indexEntry{}
	for _, e := range entries {
		if e.Removed || len(e.URLs) == 0 {
			continue
		}
		versions = append(versions, e.Version)
		byVersion[e.Version] = e
	}
	if len(versions) == 0 {
		return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version, NoChart: true}
	}
	chosen, err := selectVersion(ref.Version, versions)
	if err != nil {
		return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version, Available: sortVersionsDesc(versions)}
	}
	if chosen == "" {
		return "", &ChartNotFoundError{Repository: ref.RepoURL, Chart: ref.Name, Version: ref.Version, Available: sortVersionsDesc(versions)}
	}
	entry := byVersion[chosen]
	if p, ok := r.cached(entry.Digest); ok {
		r.emit(rel, Event{Type: EventChartCacheHit, Message: fmt.Sprintf("%s %s: %s", ref.Name, chosen, entry.Digest)})
		return p, nil
	}
	chartURL, err := resolveURL(base+"/", entry.URLs[0])
	if err != nil {
		return "", &FetchError{URL: entry.URLs[0], Err: err}
	}
	// Credentials go only to the repository's own host.
	auth := ref.Auth
	if !sameHost(chartURL, base) {
		auth = nil
	}
	body, err = r.httpGet(ctx, chartURL, auth)
	if err != nil {
		return "", err
	}
	defer body.Close()
	p, err := r.store(body, entry.Digest, chartURL)
	if err != nil {
		return "", err
	}
	r.emit(rel, Event{Type: EventChartDownloaded, Message: fmt.Sprintf("%s %s from %s", ref.Name, chosen, chartURL)})
	return p, nil
}

// httpGet GETs u with optional basic auth and maps failures to typed
// errors. The caller closes the body.
func (r *Reconciler) httpGet(ctx context.Context, u string, auth *BasicAuth) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &FetchError{URL: u, Err: err}
	}
	if auth != nil {
		req.SetBasicAuth(auth.Username, auth.Password)
	}
	req.Header.Set("User-Agent", "gitopskit-helmrelease")
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, &FetchError{URL: u, Err: err}
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.Body, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, &AuthError{URL: u, StatusCode: resp.StatusCode}
	default:
		resp.Body.Close()
		return nil, &FetchError{URL: u, StatusCode: resp.StatusCode}
	}
}

func resolveURL(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}
