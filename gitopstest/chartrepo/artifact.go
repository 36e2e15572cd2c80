package chartrepo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Media types of the artifacts `flux push artifact` writes.
const (
	// FluxConfigMediaType is the media type of the artifact's config.
	FluxConfigMediaType = "application/vnd.cncf.flux.config.v1+json"
	// FluxContentMediaType is the media type of its one layer: a
	// gzip-compressed tar of the directory pushed.
	FluxContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// Layer is one layer of an artifact pushed with [Registry.PushArtifact].
type Layer struct {
	MediaType string
	Data      []byte
}

// FluxLayer returns files (slash-separated paths to contents) as the layer
// of a Flux artifact: a gzip-compressed tar, with the files' directories,
// in path order, with fixed times, so that the same files give the same
// bytes.
func FluxLayer(files map[string]string) (Layer, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0).UTC()
	dirs := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.HasPrefix(p, "../") {
			return Layer{}, fmt.Errorf("chartrepo: artifact path %q: want a clean relative path", p)
		}
		var parents []string
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return Layer{}, fmt.Errorf("chartrepo: %w", err)
			}
		}
		body := files[p]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(body)), ModTime: epoch}); err != nil {
			return Layer{}, fmt.Errorf("chartrepo: %w", err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return Layer{}, fmt.Errorf("chartrepo: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return Layer{}, fmt.Errorf("chartrepo: %w", err)
	}
	if err := zw.Close(); err != nil {
		return Layer{}, fmt.Errorf("chartrepo: %w", err)
	}
	return Layer{MediaType: FluxContentMediaType, Data: buf.Bytes()}, nil
}

// PushArtifact pushes an OCI artifact as `flux push artifact` does (a
// config of [FluxConfigMediaType], the layers, fixed created and source
// annotations) to HOST/repository:tag, and returns the manifest's digest,
// "sha256:<hex>". The same layers pushed under another tag or repository
// have the same digest.
func (g *Registry) PushArtifact(ctx context.Context, repository, tag string, layers ...Layer) (string, error) {
	repo, err := remote.NewRepository(g.Host() + "/" + strings.Trim(repository, "/"))
	if err != nil {
		return "", fmt.Errorf("chartrepo: %w", err)
	}
	repo.PlainHTTP = true
	client := &auth.Client{Client: &http.Client{}, Cache: auth.NewCache()}
	if g.username != "" {
		client.Credential = auth.StaticCredential(g.Host(), auth.Credential{Username: g.username, Password: g.password})
	}
	repo.Client = client
	push := func(mediaType string, data []byte) (ocispec.Descriptor, error) {
		desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := repo.Push(ctx, desc, bytes.NewReader(data)); err != nil {
			return desc, fmt.Errorf("chartrepo: push %s: %w", mediaType, err)
		}
		return desc, nil
	}
	config, err := push(FluxConfigMediaType, []byte("{}"))
	if err != nil {
		return "", err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config,
		Annotations: map[string]string{
			"org.opencontainers.image.created": "1970-01-01T00:00:00Z",
			"org.opencontainers.image.source":  "https://example.invalid/artifact",
		},
	}
	for _, l := range layers {
		d, err := push(l.MediaType, l.Data)
		if err != nil {
			return "", err
		}
		m.Layers = append(m.Layers, d)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("chartrepo: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := repo.PushReference(ctx, desc, bytes.NewReader(b), tag); err != nil {
		return "", fmt.Errorf("chartrepo: push %s:%s: %w", repository, tag, err)
	}
	return desc.Digest.String(), nil
}
