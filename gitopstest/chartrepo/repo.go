package chartrepo

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// RepoOptions configure a [Repo]. The zero value serves without
// authentication.
type RepoOptions struct {
	// Username and Password, if Username is set, protect every request
	// (index and archives) with basic authentication.
	Username string
	Password string
}

// Repo is an HTTP chart repository on 127.0.0.1: GET /index.yaml lists
// the charts added with [Repo.Add], and GET /charts/NAME-VERSION.tgz
// serves them (the index refers to archives by relative URLs). Its methods
// are safe for concurrent use.
type Repo struct {
	srv *server

	mu        sync.Mutex
	archives  map[string][]byte // file name -> archive
	index     *repo.IndexFile
	indexYAML []byte
	downloads int
}

// StartRepo starts a chart repository. Stop it with [Repo.Close].
func StartRepo(ctx context.Context, opts RepoOptions) (*Repo, error) {
	r := &Repo{archives: map[string][]byte{}, index: repo.NewIndexFile()}
	if err := r.reindex(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /index.yaml", r.serveIndex)
	mux.HandleFunc("GET /charts/{file}", r.serveChart)
	srv, err := startServer(ctx, mux, opts.Username, opts.Password, "chartrepo")
	if err != nil {
		return nil, err
	}
	r.srv = srv
	return r, nil
}

// URL is the repository URL, "http://127.0.0.1:PORT".
func (r *Repo) URL() string { return "http://" + r.srv.addr() }

// Close stops the server.
func (r *Repo) Close() error { return r.srv.close() }

// Add adds a chart archive (see [Package]) and lists it in the index. A
// chart name and version already present is replaced.
func (r *Repo) Add(archive []byte) error {
	md, err := metadata(archive)
	if err != nil {
		return err
	}
	file := fmt.Sprintf("%s-%s.tgz", md.Name, md.Version)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.archives[file] = archive
	if r.index.Has(md.Name, md.Version) {
		vs := r.index.Entries[md.Name]
		for i, v := range vs {
			if v.Version == md.Version {
				r.index.Entries[md.Name] = append(vs[:i], vs[i+1:]...)
				break
			}
		}
	}
	if err := r.index.MustAdd(md, "charts/"+file, "", "sha256:"+Digest(archive)); err != nil {
		return fmt.Errorf("chartrepo: index %s: %w", file, err)
	}
	return r.reindex()
}

// AddChart packages c and adds it.
func (r *Repo) AddChart(c Chart) error {
	archive, err := Package(c)
	if err != nil {
		return err
	}
	return r.Add(archive)
}

// Downloads is the number of chart archives served so far (not counting
// index.yaml), to check that a client caches charts.
func (r *Repo) Downloads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downloads
}

// reindex regenerates index.yaml; r.mu is held or r is not shared yet.
func (r *Repo) reindex() error {
	r.index.SortEntries()
	r.index.Generated = time.Now().UTC().Truncate(time.Second)
	data, err := yaml.Marshal(r.index)
	if err != nil {
		return fmt.Errorf("chartrepo: index: %w", err)
	}
	r.indexYAML = data
	return nil
}

func (r *Repo) serveIndex(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	data := r.indexYAML
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-yaml")
	_, _ = w.Write(data)
}

func (r *Repo) serveChart(w http.ResponseWriter, req *http.Request) {
	file := req.PathValue("file")
	r.mu.Lock()
	data, ok := r.archives[file]
	if ok {
		r.downloads++
	}
	r.mu.Unlock()
	if !ok || strings.Contains(file, "/") {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(data)
}
