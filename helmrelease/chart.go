package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// maxArchiveBytes bounds a downloaded chart archive or index.
const maxArchiveBytes = 64 << 20

// fetchChart resolves ref to a chart on disk and loads it.
func (r *Reconciler) fetchChart(ctx context.Context, rel *Release) (*driver.Chart, ChartInfo, error) {
	ref := rel.Chart
	var path, source string
	switch {
	case ref.Path != "":
		path, source = ref.Path, ref.Path
	case strings.HasPrefix(ref.RepoURL, "oci://"):
		p, err := r.fetchOCI(ctx, rel)
		if err != nil {
			return nil, ChartInfo{Name: ref.Name, Source: ref.RepoURL}, err
		}
		path, source = p, ref.RepoURL+"/"+ref.Name
	default:
		p, err := r.fetchHTTP(ctx, rel)
		if err != nil {
			return nil, ChartInfo{Name: ref.Name, Source: ref.RepoURL}, err
		}
		path, source = p, ref.RepoURL
	}
	ch, err := r.loadChart(path, driver.LoadOptions{ValuesFiles: ref.ValuesFiles, IgnoreMissingValuesFiles: ref.IgnoreMissingValuesFiles})
	var vfe *driver.ValuesFileError
	if errors.As(err, &vfe) {
		return nil, ChartInfo{Name: ref.Name, Source: source}, &ValuesFileError{Chart: chartLabel(ref), File: vfe.File, Missing: vfe.Missing, Err: vfe.Err}
	}
	if err != nil {
		if ref.Path != "" && errors.Is(err, fs.ErrNotExist) {
			return nil, ChartInfo{Source: source}, &ChartNotFoundError{Repository: ref.Path, Chart: ref.Path, NoChart: true}
		}
		return nil, ChartInfo{Name: ref.Name, Source: source}, &ChartError{Chart: chartLabel(ref), Err: err}
	}
	info := ChartInfo{Name: ch.Name, Version: ch.Version, Digest: ch.Digest, Source: source}
	r.emit(rel, Event{Type: EventChartResolved, Message: fmt.Sprintf("chart %s %s (%s) from %s", ch.Name, ch.Version, ch.Digest, source)})
	return ch, info, nil
}

func chartLabel(ref ChartRef) string {
	if ref.Path != "" {
		return ref.Path
	}
	if ref.Version != "" {
		return ref.Name + "@" + ref.Version
	}
	return ref.Name
}

// selectVersion returns the newest of versions matching want (an exact
// version, a range, or "" for the newest stable), or "" if none does.
// versions maps a parsed version to the caller's original spelling.
func selectVersion(want string, versions []string) (string, error) {
	if want == "" {
		want = "*"
	}
	c, err := semver.NewConstraint(want)
	if err != nil {
		return "", fmt.Errorf("version %q is neither a version nor a range: %w", want, err)
	}
	type cand struct {
		v   *semver.Version
		raw string
	}
	var cands []cand
	for _, raw := range versions {
		v, err := semver.NewVersion(raw)
		if err != nil {
			continue
		}
		if c.Check(v) {
			cands = append(cands, cand{v, raw})
		}
	}
	if len(cands) == 0 {
		return "", nil
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].v.GreaterThan(cands[j].v) })
	return cands[0].raw, nil
}

// sortVersionsDesc sorts versions newest first (non-semver ones last).
func sortVersionsDesc(versions []string) []string {
	out := append([]string(nil), versions...)
	sort.SliceStable(out, func(i, j int) bool {
		a, errA := semver.NewVersion(out[i])
		b, errB := semver.NewVersion(out[j])
		switch {
		case errA != nil:
			return false
		case errB != nil:
			return true
		default:
			return a.GreaterThan(b)
		}
	})
	return out
}

// cachePath is where the archive with sha256 hex digest hexDigest lives.
func (r *Reconciler) cachePath(hexDigest string) (string, error) {
	if r.opts.CacheDir == "" {
		return "", errors.New("helmrelease: Options.CacheDir is required for charts from repositories and registries")
	}
	dir := filepath.Join(r.opts.CacheDir, "charts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("helmrelease: chart cache: %w", err)
	}
	return filepath.Join(dir, "sha256-"+hexDigest+".tgz"), nil
}

// cached returns the cached archive for digest ("sha256:<hex>" or bare
// hex), if present.
func (r *Reconciler) cached(digest string) (string, bool) {
	hexDigest := strings.ToLower(strings.TrimPrefix(digest, "sha256:"))
	if b, err := hex.DecodeString(hexDigest); err != nil || len(b) != sha256.Size {
		return "", false // not a SHA-256: never a file name
	}
	p, err := r.cachePath(hexDigest)
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p, true
	}
	return "", false
}

// store reads an archive from body into the cache, checks it against
// want ("sha256:<hex>", bare hex, or "" for no check) and returns its path.
func (r *Reconciler) store(body io.Reader, want, url string) (string, error) {
	if r.opts.CacheDir == "" {
		_, err := r.cachePath("")
		return "", err
	}
	dir := filepath.Join(r.opts.CacheDir, "charts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("helmrelease: chart cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", fmt.Errorf("helmrelease: chart cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(body, maxArchiveBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", &FetchError{URL: url, Err: err}
	}
	if n > maxArchiveBytes {
		return "", &FetchError{URL: url, Err: fmt.Errorf("chart archive larger than %d bytes", maxArchiveBytes)}
	}
	got := hex.EncodeToString(h.Sum(nil))
	if w := strings.TrimPrefix(want, "sha256:"); w != "" && !strings.EqualFold(w, got) {
		return "", &FetchError{URL: url, Err: fmt.Errorf("digest mismatch: index says sha256:%s, archive is sha256:%s", w, got)}
	}
	p, err := r.cachePath(got)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("helmrelease: chart cache: %w", err)
	}
	return p, nil
}
