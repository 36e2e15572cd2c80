package chartrepo

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/registry"
)

// RegistryOptions configure a [Registry]. The zero value serves without
// authentication.
type RegistryOptions struct {
	// Username and Password, if Username is set, protect every request with
	// basic authentication (a Basic challenge, as registries without a token
	// service send).
	Username string
	Password string
}

// Registry is an in-memory OCI registry on 127.0.0.1, speaking plain HTTP.
type Registry struct {
	srv                *server
	username, password string
	tmp                string // Helm registry client's credentials file lives here
}

// StartRegistry starts an OCI registry. Stop it with [Registry.Close].
func StartRegistry(ctx context.Context, opts RegistryOptions) (*Registry, error) {
	tmp, err := os.MkdirTemp("", "chartrepo-registry-")
	if err != nil {
		return nil, fmt.Errorf("chartrepo: %w", err)
	}
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv, err := startServer(ctx, h, opts.Username, opts.Password, "registry")
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &Registry{srv: srv, username: opts.Username, password: opts.Password, tmp: tmp}, nil
}

// Host is "127.0.0.1:PORT".
func (g *Registry) Host() string { return g.srv.addr() }

// URL is "oci://127.0.0.1:PORT"; a chart pushed under repository
// "charts" is at URL()+"/charts/NAME".
func (g *Registry) URL() string { return "oci://" + g.Host() }

// Close stops the registry (its content is lost).
func (g *Registry) Close() error {
	err := g.srv.close()
	if rerr := os.RemoveAll(g.tmp); err == nil {
		err = rerr
	}
	return err
}

// Push pushes a chart archive with Helm's registry client (plain HTTP,
// with the registry's credentials) to HOST/repository/NAME:VERSION (a "+"
// in the version becomes "_", as Helm spells tags) and returns that
// reference. repository may be empty.
func (g *Registry) Push(archive []byte, repository string) (string, error) {
	md, err := metadata(archive)
	if err != nil {
		return "", err
	}
	opts := []registry.ClientOption{
		registry.ClientOptPlainHTTP(),
		registry.ClientOptWriter(io.Discard),
		registry.ClientOptCredentialsFile(filepath.Join(g.tmp, "config.json")),
	}
	if g.username != "" {
		opts = append(opts, registry.ClientOptBasicAuth(g.username, g.password))
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return "", fmt.Errorf("chartrepo: registry client: %w", err)
	}
	ref := g.Host()
	if repository = strings.Trim(repository, "/"); repository != "" {
		ref += "/" + repository
	}
	ref += "/" + md.Name + ":" + md.Version
	if _, err := client.Push(archive, ref); err != nil {
		return "", fmt.Errorf("chartrepo: push %s: %w", ref, err)
	}
	return strings.ReplaceAll(ref, "+", "_"), nil
}

// PushChart packages c and pushes it.
func (g *Registry) PushChart(c Chart, repository string) (string, error) {
	archive, err := Package(c)
	if err != nil {
		return "", err
	}
	return g.Push(archive, repository)
}
