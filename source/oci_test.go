package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/source"
)

var podinfoFiles = map[string]string{
	"deploy/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\n",
	"deploy/notes.md":  "ignored by .sourceignore\n",
	".sourceignore":    "*.md\n",
	"kustomization.md": "ignored too\n",
}

// countingClient counts the requests it makes.
type countingClient struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (c *countingClient) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

func newCountingClient() (*http.Client, *countingClient) {
	c := &countingClient{rt: http.DefaultTransport}
	return &http.Client{Transport: c}, c
}

func TestFetchOCI(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	d1 := gitopstest.PushArtifact(t, reg, "manifests/podinfo", "v1.0.0", podinfoFiles)
	gitopstest.PushArtifact(t, reg, "manifests/podinfo", "latest", podinfoFiles)
	d2 := gitopstest.PushArtifact(t, reg, "manifests/podinfo", "v1.2.0", map[string]string{"deploy/cm.yaml": "v1.2.0\n"})
	gitopstest.PushArtifact(t, reg, "manifests/podinfo", "v2.0.0", map[string]string{"deploy/cm.yaml": "v2\n"})
	gitopstest.PushArtifact(t, reg, "manifests/podinfo", "v1.3.0-rc.1", map[string]string{"deploy/cm.yaml": "rc\n"})
	url := reg.URL() + "/manifests/podinfo"

	for _, tc := range []struct {
		name    string
		ref     source.OCIRef
		wantRev string
		want    string // deploy/cm.yaml
	}{
		{"default is latest", source.OCIRef{}, "latest@" + d1, podinfoFiles["deploy/cm.yaml"]},
		{"tag", source.OCIRef{Tag: "v1.0.0"}, "v1.0.0@" + d1, podinfoFiles["deploy/cm.yaml"]},
		{"tag pinned to its digest", source.OCIRef{Tag: "v1.2.0@" + d2}, "v1.2.0@" + d2, "v1.2.0\n"},
		{"semver picks the highest in range", source.OCIRef{SemVer: ">=1.0.0 <2.0.0"}, "v1.2.0@" + d2, "v1.2.0\n"},
		{"semver filter", source.OCIRef{SemVer: ">=1.0.0-0", SemVerFilter: ".*-rc.*"}, "", "rc\n"},
		{"digest wins over semver and tag", source.OCIRef{Digest: d2, SemVer: ">=2", Tag: "v1.0.0"}, d2, "v1.2.0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "art")
			res, err := source.FetchOCI(t.Context(), url, source.OCIOptions{Ref: tc.ref, Dir: dir, PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantRev != "" && res.Revision != tc.wantRev {
				t.Errorf("revision %q, want %q", res.Revision, tc.wantRev)
			}
			if tc.name == "semver filter" && !strings.HasPrefix(res.Revision, "v1.3.0-rc.1@sha256:") {
				t.Errorf("revision %q, want v1.3.0-rc.1@sha256:...", res.Revision)
			}
			got, err := os.ReadFile(filepath.Join(dir, "deploy", "cm.yaml"))
			if err != nil || string(got) != tc.want {
				t.Errorf("deploy/cm.yaml = %q, %v; want %q", got, err, tc.want)
			}
			a := res.Artifact
			if a.Dir != dir || a.Commit != "" || a.URL != url {
				t.Errorf("artifact %+v", a)
			}
			digest, size, err := source.DirDigest(dir)
			if err != nil || digest != a.Digest || size != a.Size {
				t.Errorf("artifact digest %s/%d, DirDigest %s/%d %v", a.Digest, a.Size, digest, size, err)
			}
		})
	}

	t.Run("sourceignore and Ignore", func(t *testing.T) {
		dir := t.TempDir() + "/art"
		if _, err := source.FetchOCI(t.Context(), url, source.OCIOptions{Ref: source.OCIRef{Tag: "v1.0.0"}, Dir: dir, PlainHTTP: true,
			Ignore: []string{"/.sourceignore"}}); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{"deploy/notes.md", "kustomization.md", ".sourceignore"} {
			if _, err := os.Lstat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
				t.Errorf("%s: want it ignored, got %v", gone, err)
			}
		}
	})
}

func TestFetchOCIErrors(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	d := gitopstest.PushArtifact(t, reg, "manifests/app", "v1.0.0", map[string]string{"a.yaml": "a: 1\n"})
	other := gitopstest.PushArtifact(t, reg, "manifests/app", "v2.0.0", map[string]string{"a.yaml": "a: 2\n"})
	_ = d
	for _, tc := range []struct {
		name string
		url  string
		opts source.OCIOptions
		want error
	}{
		{"not oci://", "https://" + reg.Host() + "/manifests/app", source.OCIOptions{}, source.ErrInvalid},
		{"no repository", reg.URL(), source.OCIOptions{}, source.ErrInvalid},
		{"tag in the URL", reg.URL() + "/manifests/app:v1.0.0", source.OCIOptions{}, source.ErrInvalid},
		{"bad semver", reg.URL() + "/manifests/app", source.OCIOptions{Ref: source.OCIRef{SemVer: "not a range"}}, source.ErrInvalid},
		{"bad digest", reg.URL() + "/manifests/app", source.OCIOptions{Ref: source.OCIRef{Digest: "sha256:zz"}}, source.ErrInvalid},
		{"missing tag", reg.URL() + "/manifests/app", source.OCIOptions{Ref: source.OCIRef{Tag: "v9"}}, source.ErrRefNotFound},
		{"missing repository", reg.URL() + "/manifests/none", source.OCIOptions{}, source.ErrRefNotFound},
		{"no tag in range", reg.URL() + "/manifests/app", source.OCIOptions{Ref: source.OCIRef{SemVer: ">=3"}}, source.ErrNoMatchingTag},
		{"tag moved from its pinned digest", reg.URL() + "/manifests/app", source.OCIOptions{Ref: source.OCIRef{Tag: "v1.0.0@" + other}}, source.ErrRefNotFound},
		{"no such layer", reg.URL() + "/manifests/app", source.OCIOptions{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"}, source.ErrLayerNotFound},
		{"credentials over plain http to another host", "oci://registry.example.invalid/app",
			source.OCIOptions{Auth: &source.Auth{Username: "u", Password: "secret-pw"}}, source.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Dir = filepath.Join(t.TempDir(), "art")
			tc.opts.PlainHTTP = true
			if tc.opts.Ref == (source.OCIRef{}) && tc.name != "credentials over plain http to another host" {
				tc.opts.Ref.Tag = "v1.0.0"
			}
			_, err := source.FetchOCI(t.Context(), tc.url, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("error shows the password: %v", err)
			}
			if entries, _ := os.ReadDir(tc.opts.Dir); len(entries) > 0 {
				t.Errorf("the artifact directory is not empty after a failed fetch: %v", entries)
			}
		})
	}
}

func TestFetchOCIAuth(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{Username: "flux", Password: "s3cret-pass"})
	gitopstest.PushArtifact(t, reg, "private/app", "v1", map[string]string{"a.yaml": "a: 1\n"})
	url := reg.URL() + "/private/app"
	fetch := func(a *source.Auth) error {
		_, err := source.FetchOCI(t.Context(), url, source.OCIOptions{Ref: source.OCIRef{Tag: "v1"}, Auth: a, PlainHTTP: true,
			Dir: filepath.Join(t.TempDir(), "art")})
		return err
	}
	if err := fetch(nil); !errors.Is(err, source.ErrAuth) {
		t.Errorf("anonymous: err = %v, want ErrAuth", err)
	}
	err := fetch(&source.Auth{Username: "flux", Password: "wrong-password"})
	if !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("wrong password: err = %v, want ErrAuth without the password", err)
	}
	if err := fetch(&source.Auth{Username: "flux", Password: "s3cret-pass"}); err != nil {
		t.Errorf("with credentials: %v", err)
	}
}

// TestFetchOCICache: a known revision costs one request (none for a pinned
// digest), and the Cache hands out its artifact again.
func TestFetchOCICache(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	d := gitopstest.PushArtifact(t, reg, "manifests/app", "main", map[string]string{"a.yaml": "a: 1\n"})
	url := reg.URL() + "/manifests/app"
	cache, err := source.NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hc, count := newCountingClient()
	opts := source.OCIOptions{Ref: source.OCIRef{Tag: "main"}, Cache: cache, PlainHTTP: true, HTTPClient: hc}
	first, err := source.FetchOCI(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Unchanged || first.Artifact == nil || first.Revision != "main@"+d {
		t.Fatalf("first fetch: %+v", first)
	}

	count.n.Store(0)
	opts.LastRevision = first.Revision
	again, err := source.FetchOCI(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.Artifact == nil || again.Artifact.Dir != first.Artifact.Dir || again.Artifact.Digest != first.Artifact.Digest {
		t.Errorf("unchanged fetch: %+v", again)
	}
	if n := count.n.Load(); n != 1 {
		t.Errorf("unchanged fetch made %d requests, want 1 (the manifest's HEAD)", n)
	}

	count.n.Store(0)
	pinned := opts
	pinned.Ref, pinned.LastRevision = source.OCIRef{Digest: d}, d
	res, err := source.FetchOCI(t.Context(), url, pinned)
	if err != nil || !res.Unchanged {
		t.Fatalf("pinned digest: %+v, %v", res, err)
	}
	if n := count.n.Load(); n != 0 {
		t.Errorf("a pinned digest already fetched made %d requests, want 0", n)
	}

	// A new push under the tag is a new revision, and a new artifact.
	d2 := gitopstest.PushArtifact(t, reg, "manifests/app", "main", map[string]string{"a.yaml": "a: 2\n"})
	moved, err := source.FetchOCI(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Unchanged || moved.Revision != "main@"+d2 || moved.Artifact.Dir == first.Artifact.Dir {
		t.Errorf("after a push: %+v", moved)
	}
	if b, _ := os.ReadFile(filepath.Join(moved.Artifact.Dir, "a.yaml")); string(b) != "a: 2\n" {
		t.Errorf("a.yaml = %q", b)
	}
}

// tarEntry is one entry of a hand-made layer.
type tarEntry struct {
	h    tar.Header
	body string
}

func tarGz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.h
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func file(name, body string) tarEntry {
	return tarEntry{h: tar.Header{Typeflag: tar.TypeReg, Name: name}, body: body}
}

// TestFetchOCIHostileLayers: a layer is untrusted input. Nothing it holds
// writes outside the artifact directory, and its size is bounded.
func TestFetchOCIHostileLayers(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	outside := t.TempDir() // a directory a hostile layer aims at
	big := strings.Repeat("x", 4096)
	many := make([]tarEntry, 0, 60)
	for i := range 60 {
		many = append(many, file("f/"+strings.Repeat("a", i+1), "x"))
	}
	manyDirs := make([]tarEntry, 0, 60)
	for i := range 60 {
		manyDirs = append(manyDirs, tarEntry{h: tar.Header{Typeflag: tar.TypeDir, Name: "d" + strings.Repeat("a", i+1) + "/", Mode: 0o755}})
	}
	limits := source.Limits{MaxFiles: 50, MaxBytes: 10000, MaxPackBytes: 1 << 20}
	for _, tc := range []struct {
		name  string
		layer []byte
		want  error
	}{
		{"dot-dot path", tarGz(t, file("../escape.yaml", "x")), source.ErrInvalid},
		{"absolute path", tarGz(t, file(outside+"/abs.yaml", "x")), source.ErrInvalid},
		{"write through a symlink out", tarGz(t,
			tarEntry{h: tar.Header{Typeflag: tar.TypeSymlink, Name: "out", Linkname: outside}},
			file("out/pwned.yaml", "x")), source.ErrInvalid},
		{"hard link out", tarGz(t, tarEntry{h: tar.Header{Typeflag: tar.TypeLink, Name: "passwd", Linkname: "../../../../etc/passwd"}}), source.ErrInvalid},
		{"device", tarGz(t, tarEntry{h: tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3}}), source.ErrInvalid},
		{"not gzip", []byte("plain text, not a tar.gz"), source.ErrInvalid},
		{"too many files", tarGz(t, many...), source.ErrTooLarge},
		{"too many directories", tarGz(t, manyDirs...), source.ErrTooLarge},
		{"too many bytes", tarGz(t, file("a", big), file("b", big), file("c", big)), source.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := "hostile/" + strings.ReplaceAll(tc.name, " ", "-")
			if _, err := reg.PushArtifact(t.Context(), repo, "v1", chartrepo.Layer{MediaType: chartrepo.FluxContentMediaType, Data: tc.layer}); err != nil {
				t.Fatal(err)
			}
			cache, err := source.NewCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = source.FetchOCI(t.Context(), reg.URL()+"/"+repo, source.OCIOptions{Ref: source.OCIRef{Tag: "v1"}, PlainHTTP: true,
				Cache: cache, Limits: limits})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
			if entries, _ := os.ReadDir(outside); len(entries) > 0 {
				t.Errorf("the layer wrote outside the artifact: %v", entries)
			}
			if entries, _ := os.ReadDir(filepath.Join(cache.Dir(), "artifacts")); len(entries) > 0 {
				t.Errorf("a failed fetch left an artifact in the cache: %v", entries)
			}
		})
	}

	t.Run("links inside the artifact are kept", func(t *testing.T) {
		layer := tarGz(t, file("base/cm.yaml", "a: 1\n"),
			tarEntry{h: tar.Header{Typeflag: tar.TypeSymlink, Name: "current", Linkname: "base"}},
			tarEntry{h: tar.Header{Typeflag: tar.TypeLink, Name: "copy.yaml", Linkname: "base/cm.yaml"}},
			file("base/cm.yaml.later", "b"))
		if _, err := reg.PushArtifact(t.Context(), "links/ok", "v1", chartrepo.Layer{MediaType: chartrepo.FluxContentMediaType, Data: layer}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "art")
		if _, err := source.FetchOCI(t.Context(), reg.URL()+"/links/ok", source.OCIOptions{Ref: source.OCIRef{Tag: "v1"}, PlainHTTP: true, Dir: dir}); err != nil {
			t.Fatal(err)
		}
		if target, err := os.Readlink(filepath.Join(dir, "current")); err != nil || target != "base" {
			t.Errorf("current -> %q, %v", target, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "copy.yaml")); err != nil || string(b) != "a: 1\n" {
			t.Errorf("copy.yaml = %q, %v", b, err)
		}
	})

	t.Run("layer over MaxPackBytes is not downloaded", func(t *testing.T) {
		d, err := reg.PushArtifact(t.Context(), "big/layer", "v1", chartrepo.Layer{MediaType: chartrepo.FluxContentMediaType, Data: tarGz(t, file("a", big))})
		if err != nil || d == "" {
			t.Fatal(err)
		}
		_, err = source.FetchOCI(t.Context(), reg.URL()+"/big/layer", source.OCIOptions{Ref: source.OCIRef{Tag: "v1"}, PlainHTTP: true,
			Dir: filepath.Join(t.TempDir(), "art"), Limits: source.Limits{MaxPackBytes: 64}})
		var tl *source.TooLargeError
		if !errors.As(err, &tl) || !tl.Pack {
			t.Fatalf("err = %v, want a *TooLargeError for the bytes received", err)
		}
	})
}

// tamper replaces the body of blob responses, as a compromised registry or
// proxy would.
type tamper struct{ rt http.RoundTripper }

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := tp.rt.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var repl bytes.Buffer
	zw := gzip.NewWriter(&repl)
	tw := tar.NewWriter(zw)
	evil := "kind: ClusterRoleBinding\n"
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "a.yaml", Mode: 0o644, Size: int64(len(evil))})
	_, _ = io.WriteString(tw, evil)
	_ = tw.Close()
	_ = zw.Close()
	b := repl.Bytes()
	if len(b) > len(body) {
		b = b[:len(body)]
	} else {
		b = append(b, make([]byte, len(body)-len(b))...)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func TestFetchOCIChecksTheLayerDigest(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	gitopstest.PushArtifact(t, reg, "manifests/app", "v1", map[string]string{"a.yaml": strings.Repeat("# padding\n", 50) + "a: 1\n"})
	dir := filepath.Join(t.TempDir(), "art")
	_, err := source.FetchOCI(t.Context(), reg.URL()+"/manifests/app", source.OCIOptions{Ref: source.OCIRef{Tag: "v1"}, PlainHTTP: true, Dir: dir,
		HTTPClient: &http.Client{Transport: tamper{rt: http.DefaultTransport}}})
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a tampered layer left files: %v", entries)
	}
}

func TestFetchOCIDeadline(t *testing.T) {
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	gitopstest.PushArtifact(t, reg, "manifests/app", "v1", map[string]string{"a.yaml": "a: 1\n"})
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := source.FetchOCI(ctx, reg.URL()+"/manifests/app", source.OCIOptions{Ref: source.OCIRef{Tag: "v1"}, PlainHTTP: true,
		Dir: filepath.Join(t.TempDir(), "art")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}
