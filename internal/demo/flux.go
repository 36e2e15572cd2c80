package demo

import (
	"fmt"
	"maps"
	"strings"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// FluxNamespace is the namespace of the Flux form's configuration.
const FluxNamespace = "cluster-config"

// FluxFiles returns the repository as a company's Flux repository holds
// the scenario: infra/ installs Prometheus with a HelmRepository
// (source.toolkit.fluxcd.io/v1beta1, at chartRepoURL) and a HelmRelease
// (helm.toolkit.fluxcd.io/v2beta1) of [PrometheusChart]; apps/ is as in
// [Files]; clusters/prod/fleet.yaml is the configuration
// ([FluxConfiguration] for gitURL).
func FluxFiles(gitURL, chartRepoURL string) map[string]string {
	files := map[string]string{}
	for path, data := range Files() {
		if !strings.HasPrefix(path, "infra/") {
			files[path] = data
		}
	}
	files["infra/namespace.yaml"] = Files()["infra/namespace.yaml"]
	files["infra/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"resources:\n  - namespace.yaml\n  - team-b.yaml\n  - prometheus.yaml\n"
	// The platform creates the second team's namespace; the team's own
	// configuration fills it.
	files["infra/team-b.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + TeamNamespace + "\n"
	files["teams/b/settings.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: " + TeamNamespace +
		"\ndata:\n  owner: team-b\n"
	files["infra/prometheus.yaml"] = fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1beta1
kind: HelmRepository
metadata:
  name: prometheus-community
  namespace: monitoring
spec:
  interval: 1h
  url: %s
---
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata:
  name: prometheus
  namespace: monitoring
spec:
  interval: 10m
  timeout: 3m
  chart:
    spec:
      chart: prometheus
      version: "25.x"
      sourceRef:
        kind: HelmRepository
        name: prometheus-community
  values:
    retention: 2d
`, chartRepoURL)
	files["clusters/prod/fleet.yaml"] = FluxConfiguration(gitURL)
	files["clusters/team-b/configuration.yaml"] = TeamConfiguration(gitURL)
	return files
}

// TeamNamespace is the second team's namespace: its configuration's
// records and everything it may change.
const TeamNamespace = "team-b"

// TeamConfiguration is the second team's configuration: its own
// GitRepository and a Kustomization of teams/b, in [TeamNamespace]. The
// caller restricts it to that namespace with a reconcile.Tenancy.
func TeamConfiguration(gitURL string) string {
	return fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: team-b
  namespace: %[1]s
spec:
  interval: 1m
  url: %[2]s
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: team-b
  namespace: %[1]s
spec:
  interval: 10m
  path: ./teams/b
  prune: true
  sourceRef:
    kind: GitRepository
    name: team-b
`, TeamNamespace, gitURL)
}

// FluxConfiguration is the scenario's configuration as Flux objects: a
// GitRepository and the Kustomizations infra, apps-dev (dependsOn infra)
// and apps-prd (dependsOn apps-dev), all with prune and wait, in namespace
// [FluxNamespace].
func FluxConfiguration(gitURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: %s
spec:
  interval: 1m
  url: %s
  ref:
    branch: main
`, FluxNamespace, gitURL)
	for _, u := range Units() {
		fmt.Fprintf(&b, `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
  namespace: %s
spec:
  interval: 10m
  timeout: 3m
  path: ./%s
  prune: true
  wait: true
  sourceRef:
    kind: GitRepository
    name: fleet
`, u.Name, FluxNamespace, u.Path)
		if len(u.DependsOn) > 0 {
			fmt.Fprintf(&b, "  dependsOn:\n    - name: %s\n", u.DependsOn[0])
		}
	}
	return b.String()
}

// PrometheusChart is a chart with the structure of the community's
// prometheus chart, holding the objects infra/prometheus of [Files] holds:
// the ServiceMonitor CRD under crds/, the server's Deployment, Service,
// ConfigMap, RBAC and ServiceMonitor as templates, and NOTES.txt.
func PrometheusChart() chartrepo.Chart {
	templates := map[string]string{
		"NOTES.txt": "Prometheus is at http://prometheus.{{ .Release.Namespace }}:9090\n",
	}
	for path, data := range Files() {
		name, ok := strings.CutPrefix(path, "infra/prometheus/")
		if !ok || name == "kustomization.yaml" {
			continue
		}
		if name == "deployment.yaml" {
			data = strings.Replace(data, "--storage.tsdb.retention.time=2d", "--storage.tsdb.retention.time={{ .Values.retention }}", 1)
		}
		templates[name] = data
	}
	return chartrepo.Chart{
		Name: "prometheus", Version: "25.8.0", AppVersion: "v3.5.0",
		Description: "Prometheus monitoring system and time series database",
		Values:      "retention: 15d\n",
		Templates:   maps.Clone(templates),
		CRDs:        map[string]string{"servicemonitor-crd.yaml": Files()["infra/servicemonitor-crd.yaml"]},
	}
}
