package chartrepo_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// A chart repository with one chart, built in code.
func ExampleStartRepo() {
	ctx := context.Background()
	repo, err := chartrepo.StartRepo(ctx, chartrepo.RepoOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer repo.Close()
	err = repo.AddChart(chartrepo.Chart{
		Name: "hello", Version: "1.0.0",
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.Get(repo.URL() + "/index.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	index, _ := io.ReadAll(resp.Body)
	fmt.Println(strings.Contains(string(index), "charts/hello-1.0.0.tgz"))
	// Output: true
}

// Pushing a chart to an OCI registry.
func ExampleRegistry_Push() {
	reg, err := chartrepo.StartRegistry(context.Background(), chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	archive, err := chartrepo.Package(chartrepo.Chart{Name: "hello", Version: "0.1.0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ref, err := reg.Push(archive, "charts")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.TrimPrefix(ref, reg.Host()))
	// Output: /charts/hello:0.1.0
}

// Pushing manifests as an OCI artifact, the way `flux push artifact` does,
// and reading back the manifest's layer media type.
func ExampleRegistry_PushArtifact() {
	ctx := context.Background()
	reg, err := chartrepo.StartRegistry(ctx, chartrepo.RegistryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	layer, err := chartrepo.FluxLayer(map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"})
	if err != nil {
		fmt.Println(err)
		return
	}
	digest, err := reg.PushArtifact(ctx, "manifests/app", "v1.0.0", layer)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.Get("http://" + reg.Host() + "/v2/manifests/app/manifests/" + digest)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	manifest, _ := io.ReadAll(resp.Body)
	fmt.Println(strings.Contains(string(manifest), chartrepo.FluxContentMediaType))
	// Output: true
}
