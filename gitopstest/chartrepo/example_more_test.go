package chartrepo_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// helloChart is a small chart with one template.
var helloChart = chartrepo.Chart{
	Name: "hello", Version: "1.0.0",
	Values:    "greeting: hi\n",
	Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: {{ .Values.greeting }}\n"},
}

// archiveFiles lists the file names in a chart archive.
func archiveFiles(archive []byte) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names, nil
}

// fetch fetches url and returns the status and body.
func fetch(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Package a chart built in code, as `helm package` would.
func ExamplePackage() {
	archive, err := chartrepo.Package(helloChart)
	if err != nil {
		fmt.Println(err)
		return
	}
	names, err := archiveFiles(archive)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// hello/Chart.yaml
	// hello/templates/cm.yaml
	// hello/values.yaml
}

// Digest is how index.yaml identifies an archive.
func ExampleDigest() {
	fmt.Println(chartrepo.Digest([]byte("hello")))

	repo, err := chartrepo.StartRepo(context.Background(), chartrepo.RepoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer repo.Close()
	archive, _ := chartrepo.Package(helloChart)
	if err := repo.Add(archive); err != nil {
		fmt.Println(err)
		return
	}
	_, index, err := fetch(repo.URL() + "/index.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("index lists the digest:", strings.Contains(index, chartrepo.Digest(archive)))
	// Output:
	// 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
	// index lists the digest: true
}

// Write a chart as a directory, e.g. to commit it to a Git repository or to
// render it from a path.
func ExampleWriteDir() {
	parent, err := os.MkdirTemp("", "charts-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(parent)

	dir, err := chartrepo.WriteDir(parent, helloChart)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(dir))
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			fmt.Println(" ", filepath.ToSlash(rel))
		}
		return err
	})
	// Output:
	// hello
	//   Chart.yaml
	//   templates/cm.yaml
	//   values.yaml
}

// Package a chart directory on disk, then load the archive with Helm.
func ExamplePackageDir() {
	parent, err := os.MkdirTemp("", "charts-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(parent)
	dir, err := chartrepo.WriteDir(parent, helloChart)
	if err != nil {
		fmt.Println(err)
		return
	}

	archive, err := chartrepo.PackageDir(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ch.Name(), ch.Metadata.Version, ch.Values["greeting"])
	// Output: hello 1.0.0 hi
}

// An OCI registry that wants basic authentication.
func ExampleStartRegistry() {
	reg, err := chartrepo.StartRegistry(context.Background(), chartrepo.RegistryOptions{Username: "helm", Password: "s3cret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()

	status, _, err := fetch("http://" + reg.Host() + "/v2/")
	fmt.Println("anonymous:", status, err)
	ref, err := reg.PushChart(helloChart, "charts") // Push uses the registry's credentials
	fmt.Println(strings.TrimPrefix(ref, reg.Host()), err)
	// Output:
	// anonymous: 401 <nil>
	// /charts/hello:1.0.0 <nil>
}

// Close stops the registry; its address no longer answers.
func ExampleRegistry_Close() {
	reg, err := chartrepo.StartRegistry(context.Background(), chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	host := reg.Host()
	fmt.Println(reg.Close())
	_, _, err = fetch("http://" + host + "/v2/")
	fmt.Println("unreachable:", err != nil)
	// Output:
	// <nil>
	// unreachable: true
}

// The registry's host:port, as it appears in chart references.
func ExampleRegistry_Host() {
	reg, err := chartrepo.StartRegistry(context.Background(), chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	host, _, err := net.SplitHostPort(reg.Host())
	fmt.Println(host, err)
	// Output: 127.0.0.1 <nil>
}

// Package and push a chart in one call; "+" in a version becomes "_" in the
// tag.
func ExampleRegistry_PushChart() {
	reg, err := chartrepo.StartRegistry(context.Background(), chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	ref, err := reg.PushChart(chartrepo.Chart{Name: "hello", Version: "1.2.0+build.7"}, "team/charts")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Replace(ref, reg.Host(), "HOST", 1))
	// Output: HOST/team/charts/hello:1.2.0_build.7
}

// The oci:// URL a HelmRelease's chart source points at.
func ExampleRegistry_URL() {
	reg, err := chartrepo.StartRegistry(context.Background(), chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	if _, err := reg.PushChart(helloChart, "charts"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Replace(reg.URL()+"/charts/hello", reg.Host(), "HOST", 1))
	// Output: oci://HOST/charts/hello
}

// Add archives packaged elsewhere; adding the same name and version again
// replaces it.
func ExampleRepo_Add() {
	repo, err := chartrepo.StartRepo(context.Background(), chartrepo.RepoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer repo.Close()
	for _, v := range []string{"1.0.0", "1.1.0", "1.1.0"} {
		archive, err := chartrepo.Package(chartrepo.Chart{Name: "hello", Version: v})
		if err == nil {
			err = repo.Add(archive)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	_, body, err := fetch(repo.URL() + "/index.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	var index struct {
		Entries map[string][]struct{ Version string }
	}
	if err := yaml.Unmarshal([]byte(body), &index); err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range index.Entries["hello"] {
		fmt.Println(e.Version)
	}
	// Unordered output:
	// 1.1.0
	// 1.0.0
}

// Build, package and serve a chart in one call.
func ExampleRepo_AddChart() {
	repo, err := chartrepo.StartRepo(context.Background(), chartrepo.RepoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer repo.Close()
	if err := repo.AddChart(helloChart); err != nil {
		fmt.Println(err)
		return
	}
	status, body, err := fetch(repo.URL() + "/charts/hello-1.0.0.tgz")
	if err != nil {
		fmt.Println(err)
		return
	}
	ch, err := loader.LoadArchive(strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(status, ch.Name(), ch.Metadata.Version)
	// Output: 200 hello 1.0.0
}

// Close stops the repository's server.
func ExampleRepo_Close() {
	repo, err := chartrepo.StartRepo(context.Background(), chartrepo.RepoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	url := repo.URL()
	fmt.Println(repo.Close())
	_, _, err = fetch(url + "/index.yaml")
	fmt.Println("unreachable:", err != nil)
	// Output:
	// <nil>
	// unreachable: true
}

// Count archive downloads, e.g. to check that a client caches charts; index
// fetches do not count.
func ExampleRepo_Downloads() {
	repo, err := chartrepo.StartRepo(context.Background(), chartrepo.RepoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer repo.Close()
	if err := repo.AddChart(helloChart); err != nil {
		fmt.Println(err)
		return
	}
	fetch(repo.URL() + "/index.yaml")
	fetch(repo.URL() + "/charts/hello-1.0.0.tgz")
	fetch(repo.URL() + "/charts/hello-1.0.0.tgz")
	fmt.Println(repo.Downloads())
	// Output: 2
}

// The repository URL, for `helm repo add` or a HelmRepository source.
func ExampleRepo_URL() {
	repo, err := chartrepo.StartRepo(context.Background(), chartrepo.RepoOptions{Username: "helm", Password: "s3cret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer repo.Close()
	fmt.Println(strings.HasPrefix(repo.URL(), "http://127.0.0.1:"))
	status, _, _ := fetch(repo.URL() + "/index.yaml")
	fmt.Println("without credentials:", status)
	// Output:
	// true
	// without credentials: 401
}
