package chartrepo_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

func hello(version string) chartrepo.Chart {
	return chartrepo.Chart{
		Name: "hello", Version: version, AppVersion: "1",
		Values: "message: hi\n",
		Templates: map[string]string{
			"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  message: {{ .Values.message | quote }}\n",
		},
	}
}

func get(t *testing.T, url, user, pass string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestRepo(t *testing.T) {
	repo, err := chartrepo.StartRepo(t.Context(), chartrepo.RepoOptions{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		if err := repo.AddChart(hello(v)); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, path, user, pass string
		want                   int
	}{
		{"index without credentials", "/index.yaml", "", "", http.StatusUnauthorized},
		{"index with a wrong password", "/index.yaml", "u", "x", http.StatusUnauthorized},
		{"index", "/index.yaml", "u", "p", http.StatusOK},
		{"archive", "/charts/hello-1.1.0.tgz", "u", "p", http.StatusOK},
		{"missing archive", "/charts/hello-9.0.0.tgz", "u", "p", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _ := get(t, repo.URL()+tt.path, tt.user, tt.pass)
			if code != tt.want {
				t.Fatalf("GET %s: %d, want %d", tt.path, code, tt.want)
			}
		})
	}

	_, body := get(t, repo.URL()+"/index.yaml", "u", "p")
	var idx struct {
		Entries map[string][]struct {
			Version string   `json:"version"`
			URLs    []string `json:"urls"`
			Digest  string   `json:"digest"`
		} `json:"entries"`
	}
	if err := yaml.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, e := range idx.Entries["hello"] {
		versions = append(versions, e.Version)
		if len(e.URLs) != 1 || e.URLs[0] != "charts/hello-"+e.Version+".tgz" || !strings.HasPrefix(e.Digest, "sha256:") {
			t.Errorf("entry %s: urls %v digest %q", e.Version, e.URLs, e.Digest)
		}
	}
	if got := strings.Join(versions, ","); got != "2.0.0,1.1.0,1.0.0" {
		t.Errorf("versions %s, want newest first", got)
	}
	if repo.Downloads() != 1 {
		t.Errorf("Downloads() = %d, want 1", repo.Downloads())
	}
}

func TestRegistry(t *testing.T) {
	reg, err := chartrepo.StartRegistry(t.Context(), chartrepo.RegistryOptions{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for _, v := range []string{"1.0.0", "1.2.0+build.1"} {
		ref, err := reg.PushChart(hello(v), "charts")
		if err != nil {
			t.Fatal(err)
		}
		if want := reg.Host() + "/charts/hello:" + strings.ReplaceAll(v, "+", "_"); ref != want {
			t.Errorf("ref %q, want %q", ref, want)
		}
	}
	if code, _ := get(t, "http://"+reg.Host()+"/v2/charts/hello/tags/list", "", ""); code != http.StatusUnauthorized {
		t.Errorf("tags without credentials: %d, want 401", code)
	}
	code, body := get(t, "http://"+reg.Host()+"/v2/charts/hello/tags/list", "u", "p")
	if code != http.StatusOK {
		t.Fatalf("tags: %d", code)
	}
	var tags struct{ Tags []string }
	if err := json.Unmarshal(body, &tags); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tags.Tags, ","); got != "1.0.0,1.2.0_build.1" {
		t.Errorf("tags %s", got)
	}

}

func TestPackageRejectsEscapingFiles(t *testing.T) {
	c := hello("1.0.0")
	c.Files = map[string]string{"../evil": "x"}
	if _, err := chartrepo.Package(c); err == nil {
		t.Fatal("Package accepted a file outside the chart")
	}
	if _, err := chartrepo.Package(chartrepo.Chart{Name: "x"}); err == nil {
		t.Fatal("Package accepted a chart without a version")
	}
}

// Subcharts are vendored in charts/ (as folders or archives) and declared
// in Chart.yaml; a library chart says so.
func TestVendoredDependencies(t *testing.T) {
	lib := chartrepo.Chart{Name: "common", Version: "1.0.0", Type: "library",
		Templates: map[string]string{"_labels.tpl": `{{- define "common.labels" -}}x: y{{- end -}}`}}
	parent := hello("1.0.0")
	parent.Dependencies = []chartrepo.Dependency{
		{Chart: lib, Repository: "https://charts.example.com", Archive: true},
		{Chart: hello("2.0.0"), Condition: "hello.enabled", Alias: "greeter"},
	}
	parent.Dependencies[1].Chart.Name = "sub"
	archive, err := chartrepo.Package(parent)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range ch.Dependencies() {
		got[d.Name()] = d.Metadata.Version + " " + d.Metadata.Type
	}
	if got["common"] != "1.0.0 library" || got["sub"] != "2.0.0 application" || len(got) != 2 {
		t.Fatalf("vendored subcharts %v", got)
	}
	deps := ch.Metadata.Dependencies
	if len(deps) != 2 || deps[0].Repository != "https://charts.example.com" || deps[1].Condition != "hello.enabled" || deps[1].Alias != "greeter" {
		t.Fatalf("Chart.yaml dependencies %+v %+v", deps[0], deps[1])
	}
	if _, err := chartrepo.WriteDir(t.TempDir(), chartrepo.Chart{Name: "p", Version: "1.0.0",
		Dependencies: []chartrepo.Dependency{{Chart: chartrepo.Chart{Name: "..", Version: "1.0.0"}}}}); err == nil {
		t.Fatal("a subchart named .. was written")
	}
}
