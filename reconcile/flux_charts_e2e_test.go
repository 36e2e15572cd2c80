package reconcile_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// greeterTemplate is the one template of the greeter chart: a ConfigMap
// named after the release holding .Values.message.
const greeterTemplate = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  message: {{ .Values.message | quote }}\n"

// greeterChart is the greeter chart at version.
func greeterChart(version string) chartrepo.Chart {
	return chartrepo.Chart{Name: "greeter", Version: version, Values: "message: hello\n",
		Templates: map[string]string{"cm.yaml": greeterTemplate}}
}

// chartSourceReleases are the HelmReleases of chartSourcesRepo, one per
// chart source Flux has, by name: the chart field of each, and the chart
// version each must resolve to.
var chartSourceReleases = []struct{ name, chart, version string }{
	{"by-oci-tag", "chartRef: {kind: OCIRepository, name: greeter-tag}", "1.0.0"},
	{"by-oci-semver", "chartRef: {kind: OCIRepository, name: greeter-semver}", "1.1.0"},
	{"by-git", "chart: {spec: {chart: ./charts/greeter, sourceRef: {kind: GitRepository, name: fleet}}}", "1.0.0"},
	{"by-helmchart", "chartRef: {kind: HelmChart, name: greeter}", "1.1.0"},
	{"by-oci-repo", "chart: {spec: {chart: greeter, version: 1.0.0, sourceRef: {kind: HelmRepository, name: charts-oci}}}", "1.0.0"},
	{"by-artifact", "chartRef: {kind: ExternalArtifact, name: greeter-chart}", "1.0.0"},
}

// chartSourcesRepo is a Flux repository whose releases/overlay build (a
// kustomize overlay of releases/base, patching by-git's values) declares
// the namespace APP, a HelmRelease per chart source (OCIRepository by tag
// and by semver, GitRepository path, HelmChart of an HTTP HelmRepository,
// HelmRepository of type oci, the ExternalArtifact of a chart folder), and
// an ArtifactGenerator whose ExternalArtifacts are that chart and the
// settings folder, which a Kustomization applies. SYS is
// the Flux objects' namespace, REGISTRY the OCI registry's host and
// CHARTREPO the HTTP chart repository's URL.
func chartSourcesRepo(names *strings.Replacer) map[string]string {
	var releases strings.Builder
	for _, r := range chartSourceReleases {
		fmt.Fprintf(&releases, `---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: %s, namespace: SYS}
spec:
  interval: 10m
  targetNamespace: APP
  %s
  values:
    message: %s v1
`, r.name, r.chart, r.name)
	}
	files := map[string]string{
		"charts/greeter/Chart.yaml":        "apiVersion: v2\nname: greeter\nversion: 1.0.0\n",
		"charts/greeter/values.yaml":       "message: hello\n",
		"charts/greeter/templates/cm.yaml": greeterTemplate,
		"settings/settings.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: artifact-settings\ndata:\n  color: blue\n",
		"releases/base/kustomization.yaml": "resources: [namespace.yaml, sources.yaml, releases.yaml, artifacts.yaml]\n",
		"releases/base/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: APP\n",
		"releases/base/releases.yaml":      releases.String(),
		"releases/overlay/kustomization.yaml": `resources: [../base]
patches:
  - target: {kind: HelmRelease, name: by-git}
    patch: |
      - op: replace
        path: /spec/values/message
        value: patched v1
`,
		"releases/base/sources.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: greeter-tag, namespace: SYS}
spec:
  interval: 10m
  url: oci://REGISTRY/charts/greeter
  insecure: true
  ref: {tag: 1.0.0}
  layerSelector: {mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip, operation: copy}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: greeter-semver, namespace: SYS}
spec:
  interval: 10m
  url: oci://REGISTRY/charts/greeter
  insecure: true
  ref: {semver: ">=1.0.0 <2.0.0"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts-http, namespace: SYS}
spec:
  interval: 10m
  url: CHARTREPO
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: greeter, namespace: SYS}
spec:
  interval: 10m
  chart: greeter
  version: 1.x
  sourceRef: {kind: HelmRepository, name: charts-http}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts-oci, namespace: SYS}
spec:
  interval: 10m
  type: oci
  url: oci://REGISTRY/charts
  insecure: true
`,
		"releases/base/artifacts.yaml": `apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: generated, namespace: SYS}
spec:
  sources:
    - {alias: fleet, kind: GitRepository, name: fleet}
  artifacts:
    - name: settings
      copy:
        - {from: "@fleet/settings/**", to: "@artifact/"}
    - name: greeter-chart
      copy:
        - {from: "@fleet/charts/greeter/**", to: "@artifact/"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: from-artifact, namespace: SYS}
spec:
  interval: 10m
  prune: true
  targetNamespace: APP
  sourceRef: {kind: ExternalArtifact, name: settings}
`,
	}
	for k, v := range files {
		files[k] = names.Replace(v)
	}
	return files
}

// chartSourcesRoot is the configuration given to LoadFlux: the repository
// and the Kustomization of its releases overlay.
const chartSourcesRoot = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: SYS}
spec:
  interval: 1m
  url: URL
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: releases, namespace: SYS}
spec:
  interval: 10m
  path: ./releases/overlay
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
`

// startGreeterCharts serves greeter 1.0.0 and 1.1.0 from an OCI registry
// (repository "charts") and an HTTP chart repository.
func startGreeterCharts(t *testing.T) (*chartrepo.Registry, *chartrepo.Repo) {
	t.Helper()
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{})
	charts := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	for _, v := range []string{"1.0.0", "1.1.0"} {
		gitopstest.PushChart(t, reg, greeterChart(v), "charts")
		gitopstest.AddChart(t, charts, greeterChart(v))
	}
	return reg, charts
}

var releaseRevisionRE = regexp.MustCompile(`\(release revision (\d+)\)`)

// releaseRevision is the Helm release revision a Helm unit's status names.
func releaseRevision(t *testing.T, u reconcile.UnitStatus) int {
	t.Helper()
	m := releaseRevisionRE.FindStringSubmatch(u.Message)
	if m == nil {
		t.Fatalf("unit %s: no release revision in %q", u.Name, u.Message)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// configMapData reads a ConfigMap's key from the test cluster ("" when
// the ConfigMap is missing, reported as an error).
func configMapData(t *testing.T, namespace, name, key string) string {
	t.Helper()
	cm, err := clientset(t).CoreV1().ConfigMaps(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Errorf("ConfigMap %s/%s: %v", namespace, name, err)
		return ""
	}
	return cm.Data[key]
}

// TestFluxChartSources reconciles a Git repository whose build declares a
// HelmRelease per chart source Flux has (OCIRepository by tag and by
// semver, a chart path in a GitRepository, a HelmChart, a HelmRepository of
// type oci, an ArtifactGenerator's ExternalArtifact) and a Kustomization of
// another ExternalArtifact:
// everything is installed and Ready with what Render rendered, a second
// run changes nothing, and a commit that changes inline values, an
// overlay's patch of values and the artifact's files upgrades exactly the
// releases it changes on the next run. The sources are in
// source.toolkit.fluxcd.io/v1 and, for the first run and the no-op, in
// v1beta2, as repositories of Flux 2.3 to 2.5 have them beside helm v2.
func TestFluxChartSources(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	for _, v := range []string{"v1", "v1beta2"} {
		t.Run("source-"+v, func(t *testing.T) { testFluxChartSources(t, v) })
	}
}

func testFluxChartSources(t *testing.T, sourceVersion string) {
	ctx := t.Context()
	reg, charts := startGreeterCharts(t)
	sys := gitopstest.UniqueName("chart-sources")
	app := sys + "-app"
	srv := gitopstest.StartGitServer(t, gitserver.Options{})
	repo := gitopstest.NewGitRepo(t, srv, "fleet")
	names := strings.NewReplacer("SYS", sys, "APP", app, "REGISTRY", reg.Host(), "CHARTREPO", charts.URL(), "URL", repo.HTTPURL())
	files := chartSourcesRepo(names)
	for path, content := range files {
		files[path] = strings.ReplaceAll(content, "apiVersion: source.toolkit.fluxcd.io/v1\n", "apiVersion: source.toolkit.fluxcd.io/"+sourceVersion+"\n")
	}
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Files: files, Message: "a release per chart source"})
	conf, err := reconcile.LoadFlux(ctx, []byte(names.Replace(chartSourcesRoot)), reconcile.FluxOptions{Name: sys})
	if err != nil {
		t.Fatal(err)
	}

	rendering := mustRender(t, conf)
	r := newReconciler(t, conf, reconcile.Options{})
	s := run(t, r)
	if !s.Compliant() {
		t.Fatal(s)
	}
	assertRenderMatches(t, rendering, s)
	for _, rel := range chartSourceReleases {
		u := unit(t, s, rel.name)
		if u.DeclaredBy != "releases" || !strings.Contains(u.Message, "greeter@"+rel.version+" ") || releaseRevision(t, u) != 1 {
			t.Errorf("%s: declared by %q, %q; want greeter %s at release revision 1", rel.name, u.DeclaredBy, u.Message, rel.version)
		}
		want := rel.name + " v1"
		if rel.name == "by-git" {
			want = "patched v1" // the overlay's patch
		}
		if got := configMapData(t, app, app+"-"+rel.name, "message"); got != want {
			t.Errorf("release %s: message %q, want %q", rel.name, got, want)
		}
	}
	if got := configMapData(t, app, "artifact-settings", "color"); got != "blue" {
		t.Errorf("the ExternalArtifact's ConfigMap: color %q, want blue", got)
	}

	// A second run is a no-op: no release upgraded, no object changed.
	s = run(t, r)
	if !s.Compliant() {
		t.Fatal(s)
	}
	for _, u := range s.Units {
		if u.FluxObject != "" && strings.HasPrefix(u.FluxObject, "HelmRelease ") {
			if n := releaseRevision(t, u); n != 1 {
				t.Errorf("second run: %s at release revision %d, want 1", u.Name, n)
			}
		} else if c := u.Counts; c.Created+c.Configured+c.Deleted > 0 {
			t.Errorf("second run: %s changed objects: %+v", u.Name, c)
		}
	}

	if sourceVersion != "v1" {
		return
	}

	// A commit changing by-oci-tag's inline values, the overlay's patch of
	// by-git's and the artifact's ConfigMap: those two releases upgrade.
	gitopstest.GitCommit(t, repo, gitserver.CommitOptions{Message: "new values", Files: map[string]string{
		"releases/base/releases.yaml":         strings.Replace(files["releases/base/releases.yaml"], "message: by-oci-tag v1", "message: by-oci-tag v2", 1),
		"releases/overlay/kustomization.yaml": strings.Replace(files["releases/overlay/kustomization.yaml"], "patched v1", "patched v2", 1),
		"settings/settings.yaml":              strings.Replace(files["settings/settings.yaml"], "blue", "green", 1),
	}})
	s = run(t, r)
	if !s.Compliant() {
		t.Fatal(s)
	}
	for _, rel := range chartSourceReleases {
		want, message := 1, rel.name+" v1"
		switch rel.name {
		case "by-oci-tag":
			want, message = 2, "by-oci-tag v2"
		case "by-git":
			want, message = 2, "patched v2"
		}
		if n := releaseRevision(t, unit(t, s, rel.name)); n != want {
			t.Errorf("after the commit: %s at release revision %d, want %d", rel.name, n, want)
		}
		if got := configMapData(t, app, app+"-"+rel.name, "message"); got != message {
			t.Errorf("after the commit: release %s: message %q, want %q", rel.name, got, message)
		}
	}
	if got := configMapData(t, app, "artifact-settings", "color"); got != "green" {
		t.Errorf("after the commit: the ExternalArtifact's ConfigMap: color %q, want green", got)
	}
	assertRenderMatches(t, mustRender(t, conf), s)
}

// TestFluxHelmValuesFromEarlierUnit checks that a HelmRelease's valuesFrom
// is read when its unit runs: values-src installs a chart that creates the
// ConfigMap values-src, and values-user, which depends on it, takes its
// message from that ConfigMap in the same Run. Render reads it from what
// values-src renders.
func TestFluxHelmValuesFromEarlierUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	reg, _ := startGreeterCharts(t)
	sys := gitopstest.UniqueName("values-from")
	conf, err := reconcile.LoadFlux(t.Context(), []byte(strings.NewReplacer("SYS", sys, "REGISTRY", reg.Host()).Replace(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: greeter, namespace: SYS}
spec:
  interval: 10m
  url: oci://REGISTRY/charts/greeter
  insecure: true
  ref: {tag: 1.0.0}
  layerSelector: {mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip, operation: copy}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: values-src, namespace: SYS}
spec:
  interval: 10m
  chartRef: {kind: OCIRepository, name: greeter}
  values:
    message: from values-src
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: values-user, namespace: SYS}
spec:
  interval: 10m
  chartRef: {kind: OCIRepository, name: greeter}
  dependsOn:
    - name: values-src
  valuesFrom:
    - {kind: ConfigMap, name: values-src, valuesKey: message, targetPath: message}
    - {kind: Secret, name: absent, optional: true}
`)), reconcile.FluxOptions{Name: sys})
	if err != nil {
		t.Fatal(err)
	}
	rendering := mustRender(t, conf)
	if ru, _ := rendering.Unit("values-user"); len(ru.Objects) != 1 || configMapMessage(ru) != "from values-src" {
		t.Errorf("values-user rendered %d objects, message %q; want values-src's", len(ru.Objects), configMapMessage(ru))
	}
	s := run(t, newReconciler(t, conf, reconcile.Options{}))
	if !s.Compliant() {
		t.Fatal(s)
	}
	if got := configMapData(t, sys, "values-user", "message"); got != "from values-src" {
		t.Errorf("values-user: message %q, want the one of values-src's ConfigMap", got)
	}
	assertRenderMatches(t, rendering, s)
}

// configMapMessage is data.message of a rendered unit's first object.
func configMapMessage(ru reconcile.RenderedUnit) string {
	if len(ru.Objects) == 0 {
		return ""
	}
	m, _, _ := unstructured.NestedString(ru.Objects[0].Object, "data", "message")
	return m
}
