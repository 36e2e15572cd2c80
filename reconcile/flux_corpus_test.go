package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source"
)

// The Flux corpus (testdata/flux) is loaded without a cluster: LoadFlux and
// fromObjects are pure given the callbacks. Each case's configuration is
// compared with its golden file (go test -run FluxCorpus -update rewrites
// them), and the table checks the semantics the golden files encode.

var update = flag.Bool("update", false, "rewrite the golden files of testdata/flux")

// corpusLookups are the Secrets of the corpus.
func corpusLookups() FluxOptions {
	secrets := map[string]map[string][]byte{
		"flux-system/flux-system":  {"identity": []byte("PRIVATE KEY"), "known_hosts": []byte("git.example.com ssh-ed25519 AAAA")},
		"apps/dev-team-git":        {"username": []byte("dev"), "password": []byte("tok")},
		"monitoring/charts-auth":   {"username": []byte("reader"), "password": []byte("pw")},
		"monitoring/stack-secrets": {"admin": []byte("root")},
		"flux-system/quay": {".dockerconfigjson": []byte(`{"auths":{"quay.example.com":{"auth":"` +
			"cm9ib3Q6c2VjcmV0" + `"}}}`)}, // robot:secret
	}
	return FluxOptions{
		SecretData: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			if d, ok := secrets[namespace+"/"+name]; ok {
				return d, nil
			}
			return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, ErrNotFound)
		},
	}
}

// readObjects reads a YAML stream as a build's output.
func readObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, d := range splitYAMLDocuments(data) {
		j, err := yaml.YAMLToJSON(d.doc)
		if err != nil {
			t.Fatal(err)
		}
		if string(j) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	return objs
}

func TestFluxCorpus(t *testing.T) {
	tests := []struct {
		name  string
		files []string // the first is given to LoadFlux, the others are builds for fromObjects
		opts  func(*FluxOptions)
		check func(t *testing.T, confs []Configuration)
	}{
		{name: "bootstrap-v1", files: []string{"bootstrap-v1.yaml", "bootstrap-v1-build.yaml"}, check: checkBootstrap(true)},
		{name: "bootstrap-v1beta2", files: []string{"bootstrap-v1beta2.yaml", "bootstrap-v1beta2-build.yaml"}, check: checkBootstrap(true)},
		{name: "bootstrap-v1beta1", files: []string{"bootstrap-v1beta1.yaml", "bootstrap-v1beta1-build.yaml"}, check: checkBootstrap(false)},
		{name: "tenants", files: []string{"tenants.yaml"},
			opts: func(o *FluxOptions) { o.NoCrossNamespaceRefs, o.DefaultServiceAccount = true, "default-deployer" },
			check: func(t *testing.T, confs []Configuration) {
				c := confs[0]
				if c.Namespace != "flux-system" || c.Name != "flux-system" {
					t.Errorf("configuration %s in %s", c.Name, c.Namespace)
				}
				want := map[string]string{ // unit: source, service account
					"tenants":         "flux-system default-deployer@flux-system",
					"apps-dev-team":   "apps-dev-team dev-team@apps",
					"shop-web":        "shop-web default-deployer@shop",
					"shop-web-config": "shop-web default-deployer@shop",
				}
				for _, u := range c.Units {
					if got := u.Source + " " + u.ServiceAccountName + "@" + u.ServiceAccountNamespace; got != want[u.Name] {
						t.Errorf("unit %s: %s, want %s", u.Name, got, want[u.Name])
					}
				}
				if d := c.Units[3].DependsOn; len(d) != 1 || d[0] != "shop-web" {
					t.Errorf("shop-web-config depends on %v", d)
				}
				if s := c.Units[1].SubstituteFrom; len(s) == 0 {
					t.Errorf("dev-team's substituteFrom %v", s)
				}
			}},
		{name: "helm", files: []string{"helm.yaml"}, check: func(t *testing.T, confs []Configuration) {
			c := confs[0]
			byName := map[string]Unit{}
			for _, u := range c.Units {
				byName[u.Name] = u
			}
			for name, want := range map[string]string{
				"kube-prometheus-stack":    "monitoring/kube-prometheus-stack https://charts.example.com/prometheus-community kube-prometheus-stack 66.x",
				"flux-system-podinfo":      "podinfo/podinfo-podinfo oci://registry.example.com/charts podinfo ",
				"flux-system-cert-manager": "cert-manager/cert-manager oci://quay.example.com/jetstack/charts cert-manager >=1.16.0 <1.17.0",
				"flux-system-ingress":      "flux-system/ingress  charts/ingress ",
				"flux-system-redis":        "flux-system/redis oci://registry.example.com/charts redis 20.1.x",
			} {
				u, ok := byName[name]
				if !ok || u.Helm == nil {
					t.Errorf("no Helm unit %s", name)
					continue
				}
				ch := u.Helm.Chart
				got := fmt.Sprintf("%s/%s %s %s%s %s", u.Helm.Namespace, u.Helm.Name, ch.RepoURL, ch.Name, ch.Path, ch.Version)
				if got != want {
					t.Errorf("unit %s: %q, want %q", name, got, want)
				}
			}
			if a := byName["flux-system-cert-manager"].Helm.Chart.Auth; a == nil || a.Username != "robot" || a.Password != "secret" {
				t.Errorf("cert-manager's registry credentials %v", a)
			}
			if u := byName["flux-system-ingress"]; u.Source != "flux-system-charts" || !u.Suspend {
				t.Errorf("ingress: source %q, suspend %v", u.Source, u.Suspend)
			}
			// Remediation as Flux defaults it: installs keep the last
			// failure unless remediateLastFailure; upgrades remediate the
			// last failure when retries > 0 unless told otherwise.
			for name, want := range map[string]string{
				"kube-prometheus-stack": "install 3 keep-last, upgrade 2 keep-last rollback",
				"flux-system-podinfo":   "install 0 keep-last, upgrade 0 keep-last rollback",
				"flux-system-redis":     "install 1 remediate-last, upgrade 2 remediate-last uninstall",
			} {
				h := byName[name].Helm
				last := func(keep bool) string {
					if keep {
						return "keep-last"
					}
					return "remediate-last"
				}
				got := fmt.Sprintf("install %d %s, upgrade %d %s %s", h.Install.Retries, last(h.Install.KeepLastFailed),
					h.Upgrade.Retries, last(h.Upgrade.KeepLastFailed), h.Upgrade.Remediation)
				if got != want || h.Install.KeepFailed || h.Upgrade.KeepFailed {
					t.Errorf("%s remediation: %s, want %s", name, got, want)
				}
			}
			// Values files: in the chart, or in the Git repository under
			// the chart's directory (made relative to it).
			for name, want := range map[string]string{
				"kube-prometheus-stack": "values.yaml values-prod.yaml false",
				"flux-system-ingress":   "values.yaml values-prod.yaml false",
				"flux-system-redis":     "values.yaml values-ha.yaml true",
			} {
				ch := byName[name].Helm.Chart
				if got := fmt.Sprintf("%s %v", strings.Join(ch.ValuesFiles, " "), ch.IgnoreMissingValuesFiles); got != want {
					t.Errorf("%s values files: %s, want %s", name, got, want)
				}
			}
			// CRD policies per action, Flux's upgrade default Skip.
			for name, want := range map[string]string{
				"kube-prometheus-stack": "CreateReplace CreateReplace",
				"flux-system-podinfo":   "Create Skip",
			} {
				h := byName[name].Helm
				if got := fmt.Sprintf("%s %s", h.Install.CRDs, h.Upgrade.CRDs); got != want {
					t.Errorf("%s CRD policies (install, upgrade) %s, want %s", name, got, want)
				}
			}
			if ig := byName["kube-prometheus-stack"].Helm.Drift.Ignore; len(ig) != 2 || ig[0].Target.Kind != "PrometheusRule" ||
				!slices.Equal(ig[0].Paths, []string{"/metadata/annotations/prometheus-operator-validated"}) ||
				ig[1].Target.LabelSelector != "autoscaled=true" || !slices.Equal(ig[1].Paths, []string{"/spec/replicas"}) {
				t.Errorf("kube-prometheus-stack drift ignore rules %+v", ig)
			}
			if pr := byName["kube-prometheus-stack"].Helm.PostRenderers; len(pr) != 1 || len(pr[0].Images) != 1 || len(pr[0].Patches) != 2 ||
				pr[0].Images[0].NewName != "mirror.example.com/prometheus" || pr[0].Patches[1].Target == nil ||
				pr[0].Patches[1].Target.LabelSelector != "app=grafana" || !strings.Contains(pr[0].Patches[0].Patch, "team: observability") {
				t.Errorf("kube-prometheus-stack post renderers %+v", pr)
			}
			// Flux's RetryOnFailure strategies (as in fluxcd/flux2-kustomize-helm-example).
			if u := byName["flux-system-cert-manager"]; !u.Helm.Install.RetryOnFailure || !u.Helm.Upgrade.RetryOnFailure || u.RetryInterval != 2*time.Minute {
				t.Errorf("cert-manager: install %+v upgrade %+v retry interval %s, want RetryOnFailure both and 2m", u.Helm.Install, u.Helm.Upgrade, u.RetryInterval)
			}
			if u := byName["flux-system-podinfo"]; u.Helm.Install.RetryOnFailure || u.Helm.Upgrade.RetryOnFailure || u.RetryInterval != 0 {
				t.Errorf("podinfo: install %+v upgrade %+v retry interval %s, want RemediateOnFailure and no retry interval of its own", u.Helm.Install, u.Helm.Upgrade, u.RetryInterval)
			}
			if u := byName["flux-system-podinfo"]; u.Wait || !u.Helm.DisableWait || u.Helm.MaxHistory != -1 ||
				u.ServiceAccountName != "helm-deployer" || u.ServiceAccountNamespace != "flux-system" {
				t.Errorf("podinfo: %+v", u)
			}
		}},
		{name: "oci", files: []string{"oci.yaml"}, check: func(t *testing.T, confs []Configuration) {
			c := confs[0]
			sources := map[string]Source{}
			for _, s := range c.Sources {
				sources[s.Name] = s
			}
			for name, want := range map[string]string{
				"kyverno-controller": `oci://ghcr.example.com/kyverno/manifests/kyverno semver "3.x" application/vnd.cncf.flux.content.v1.tar+gzip false <nil> []`,
				"app-manifests":      `oci://quay.example.com/fleet/app-manifests tag 1.4.0@sha256:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90  true robot [# docs stay out *.md /tests/]`,
				"pinned":             `oci://registry.example.com/fleet/pinned digest sha256:0000000000000000000000000000000000000000000000000000000000000001  false <nil> []`,
			} {
				s, ok := sources[name]
				if !ok || s.OCI == nil {
					t.Errorf("no OCI source %s in %+v", name, c.Sources)
					continue
				}
				user := "<nil>"
				if s.Auth != nil {
					user = s.Auth.Username
				}
				got := fmt.Sprintf("%s %s %s %v %s %v", s.URL, s.OCI.Ref, s.OCI.MediaType, s.OCI.PlainHTTP, user, s.Ignore)
				if got != want {
					t.Errorf("source %s:\n got %s\nwant %s", name, got, want)
				}
			}
			if s := sources["app-manifests"]; s.Auth == nil || s.Auth.Password != "secret" {
				t.Errorf("app-manifests credentials from .dockerconfigjson: %+v", s.Auth)
			}
			units := map[string]Unit{}
			for _, u := range c.Units {
				units[u.Name] = u
			}
			if u := units["app"]; u.Source != "app-manifests" || u.Path != "deploy/prod" || !slices.Equal(u.DependsOn, []string{"kyverno-controller"}) || u.Interval != 5*time.Minute {
				t.Errorf("app: source %q path %q dependsOn %v interval %s", u.Source, u.Path, u.DependsOn, u.Interval)
			}
		}},
		{name: "artifacts", files: []string{"artifacts.yaml"}, check: func(t *testing.T, confs []Configuration) {
			c := confs[0]
			if len(c.Units) != 3 || c.Units[0].Path != "services/frontend/deploy" || c.Units[1].Path != "services/backend" ||
				c.Units[0].Source != "monorepo" || len(c.Units[0].Compose)+len(c.Units[1].Compose) != 0 {
				t.Fatalf("units %+v", c.Units)
			}
			// An artifact of several copies is composed, its path in the
			// composed tree.
			want := []source.Copy{{From: "apps/base/**", To: "base/"}, {From: "apps/staging/**", To: "staging/", Exclude: []string{"*.md"}}}
			if u := c.Units[2]; u.Source != "monorepo" || u.Path != "staging" || !reflect.DeepEqual(u.Compose, want) {
				t.Errorf("apps: source %q path %q compose %+v, want monorepo, staging, %+v", u.Source, u.Path, u.Compose, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := corpusLookups()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			var confs []Configuration
			l := newFluxLoader(opts, "")
			for i, f := range tt.files {
				data, err := os.ReadFile(filepath.Join("testdata", "flux", f))
				if err != nil {
					t.Fatal(err)
				}
				var conf Configuration
				if i == 0 {
					conf, err = LoadFlux(t.Context(), data, opts)
					if err == nil {
						// The same again through a loader, for the builds.
						_, err = l.loadYAML(t.Context(), data)
					}
				} else {
					var b *fluxBatch
					if b, conf, err = l.fromObjects(t.Context(), "build-"+f, readObjects(t, data)); err == nil {
						b.commit()
					}
				}
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				confs = append(confs, conf)
			}
			// The whole configuration must be one New accepts.
			all := Configuration{Name: confs[0].Name, Namespace: confs[0].Namespace}
			for _, c := range confs {
				all.Sources = append(all.Sources, c.Sources...)
				all.Units = append(all.Units, c.Units...) // copies: normalize sets defaults
			}
			if _, err := all.normalize(); err != nil {
				t.Errorf("normalize: %v", err)
			}
			tt.check(t, confs)
			golden(t, filepath.Join("testdata", "flux", tt.name+".golden"), confs)
		})
	}
}

func checkBootstrap(wait bool) func(t *testing.T, confs []Configuration) {
	return func(t *testing.T, confs []Configuration) {
		top, build := confs[0], confs[1]
		if len(top.Sources) != 1 || len(top.Units) != 1 || top.Units[0].Path != "clusters/staging" {
			t.Errorf("gotk-sync: %+v", top)
		}
		if len(build.Sources) != 0 {
			t.Errorf("the build declared the flux-system source again: %+v", build.Sources)
		}
		var names []string
		for _, u := range build.Units {
			names = append(names, u.Name+"<"+strings.Join(u.DependsOn, ",")+">")
		}
		if got := strings.Join(names, " "); got != "infra-controllers<> infra-configs<infra-controllers> apps<infra-configs>" {
			t.Errorf("units of the build: %s", got)
		}
		configs := build.Units[1]
		if len(configs.Build.Patches) != 1 || configs.Build.Patches[0].Target.Kind != "ClusterIssuer" ||
			!strings.Contains(configs.Build.Patches[0].Patch, "op: replace") {
			t.Errorf("infra-configs patches %+v", configs.Build.Patches)
		}
		if build.Units[0].Wait != wait || build.Units[0].Interval.String() != "1m0s" {
			t.Errorf("infra-controllers: wait %v interval %v", build.Units[0].Wait, build.Units[0].Interval)
		}
	}
}

// golden compares confs, as indented JSON with durations as strings, with
// the file.
func golden(t *testing.T, file string, confs []Configuration) {
	t.Helper()
	var b strings.Builder
	for _, c := range confs {
		j, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteString("\n")
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update and review the diff):\n%s", file, got)
	}
}

func TestFluxCorpusErrors(t *testing.T) {
	read := func(f string) string {
		data, err := os.ReadFile(filepath.Join("testdata", "flux", f))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	helm, tenants, artifacts, oci := read("helm.yaml"), read("tenants.yaml"), read("artifacts.yaml"), read("oci.yaml")
	hr := func(extra string) string {
		return "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: extra, namespace: flux-system}\n" +
			"spec:\n  interval: 5m\n  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}\n" + extra
	}
	tests := []struct {
		name     string
		yaml     string
		lockdown bool
		is       error // errors.Is, besides ErrInvalidConfiguration
		field    string
		msg      string
	}{
		{name: "unknown kind", yaml: helm + "---\napiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\nmetadata: {name: p}\nspec: {}\n",
			field: "kind", msg: `"ImagePolicy" is not supported`},
		{name: "unknown version", yaml: strings.Replace(helm, "helm.toolkit.fluxcd.io/v2beta2", "helm.toolkit.fluxcd.io/v3", 1),
			field: "apiVersion", msg: "want helm.toolkit.fluxcd.io/v2, v2beta2, v2beta1"},
		{name: "Bucket", yaml: helm + "---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: Bucket\nmetadata: {name: b}\nspec: {}\n",
			field: "kind", msg: `"Bucket" is not supported`},
		// Fields gitopskit does not support are refused, naming the field.
		{name: "unsupported field", yaml: helm + hr("  kubeConfig: {secretRef: {name: remote}}\n"),
			is: ErrUnsupportedField, field: "spec.kubeConfig", msg: "the cluster of the Reconciler's rest.Config"},
		{name: "chart verify", yaml: helm + strings.Replace(hr(""), "sourceRef: {kind: HelmRepository, name: podinfo}}", "sourceRef: {kind: HelmRepository, name: podinfo}, verify: {provider: cosign}}", 1),
			is: ErrUnsupportedField, field: "spec.chart.spec.verify", msg: "signatures are not verified"},
		{name: "post render strategy", yaml: helm + hr("  postRenderStrategy: combined\n"),
			is: ErrUnsupportedField, field: "spec.postRenderStrategy", msg: "hooks are never post-rendered"},
		{name: "post renderer without a patch", yaml: helm + hr("  postRenderers: [{kustomize: {patches: [{target: {kind: Deployment}}]}}]\n"),
			field: "spec.postRenderers[0].kustomize.patches[0].patch", msg: "required"},
		{name: "v2beta2 patchesStrategicMerge", yaml: helm + strings.Replace(hr("  postRenderers: [{kustomize: {patchesStrategicMerge: [{kind: Deployment}]}}]\n"), "helm.toolkit.fluxcd.io/v2\n", "helm.toolkit.fluxcd.io/v2beta2\n", 1),
			is: ErrUnsupportedField, field: "spec.postRenderers[0].kustomize.patchesStrategicMerge", msg: "use patches"},
		{name: "values file outside a Git chart", yaml: strings.Replace(helm, "[./charts/ingress/values.yaml, charts/ingress/values-prod.yaml]", "[./envs/prod/ingress.yaml]", 1),
			is: ErrUnsupportedField, field: "spec.chart.spec.valuesFiles[0]", msg: "outside the chart's directory"},
		{name: "values file leaving the chart", yaml: strings.Replace(helm, "[values.yaml, ./values-prod.yaml]", "[../secrets.yaml]", 1),
			field: "spec.chart.spec.valuesFiles[0]", msg: "leaves the chart"},
		{name: "unknown remediation strategy", yaml: helm + hr("  upgrade: {remediation: {strategy: reinstall}}\n"),
			field: "spec.upgrade.remediation.strategy", msg: "want rollback or uninstall"},
		{name: "v2beta1 valuesFile", yaml: strings.Replace(helm, "      chart: ./charts/ingress\n", "      chart: ./charts/ingress\n      valuesFile: prod.yaml\n", 1),
			is: ErrUnsupportedField, field: "spec.chart.spec.valuesFile", msg: "use valuesFiles"},
		{name: "unknown upgrade CRD policy", yaml: helm + hr("  install: {crds: Create}\n  upgrade: {crds: Replace}\n"),
			field: "spec.upgrade.crds", msg: "want Skip, Create or CreateReplace"},
		{name: "storage elsewhere", yaml: helm + hr("  storageNamespace: other\n"),
			is: ErrUnsupportedField, field: "spec.storageNamespace", msg: "release's namespace"},
		{name: "sourceRef to a missing object", yaml: strings.Replace(helm, "        name: prometheus-community\n", "        name: bitnami\n", 1),
			field: "spec.chart.spec.sourceRef.name", msg: `no HelmRepository "bitnami"`},
		{name: "chartRef to a missing object", yaml: strings.Replace(helm, "    kind: HelmChart\n    name: redis\n", "    kind: HelmChart\n    name: valkey\n", 1),
			field: "spec.chartRef.name", msg: `no HelmChart "valkey"`},
		{name: "cross-namespace sourceRef under lockdown", lockdown: true,
			yaml: tenants + "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: sneaky, namespace: shop}\n" +
				"spec: {interval: 5m, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}\n",
			is: ErrCrossNamespaceRef, field: "spec.sourceRef.namespace", msg: "cross-namespace references are not allowed"},
		{name: "cross-namespace dependsOn under lockdown", lockdown: true,
			yaml: tenants + "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: late, namespace: shop}\n" +
				"spec: {interval: 5m, sourceRef: {kind: GitRepository, name: web}, dependsOn: [{name: tenants, namespace: flux-system}]}\n",
			is: ErrCrossNamespaceRef, field: "spec.dependsOn[0].namespace", msg: "Kustomization flux-system/tenants"},
		{name: "cross-namespace reference allowed without lockdown",
			yaml: tenants + "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: late, namespace: shop}\n" +
				"spec: {interval: 5m, sourceRef: {kind: GitRepository, name: web}, dependsOn: [{name: tenants, namespace: flux-system}]}\n"},
		{name: "object named twice", yaml: helm + strings.Replace(hr(""), "name: extra", "name: redis", 1),
			field: "metadata.name", msg: `HelmRelease "redis" is also defined by document 10`},
		{name: "unit names collide", yaml: tenants + "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: shop-web, namespace: flux-system}\n" +
			"spec: {interval: 5m, sourceRef: {kind: GitRepository, name: flux-system}}\n",
			field: "metadata.name", msg: `its unit name "shop-web" is also that of Kustomization shop/web`},
		{name: "Kustomization and HelmRelease of one name", yaml: helm + "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: redis, namespace: flux-system}\n" +
			"spec: {interval: 5m, sourceRef: {kind: GitRepository, name: charts}}\n",
			field: "metadata.name", msg: "is also that of HelmRelease flux-system/redis"},
		{name: "artifact of two repositories", yaml: strings.Replace(strings.Replace(artifacts, "      name: monorepo\n  artifacts:",
			"      name: monorepo\n    - alias: other\n      kind: GitRepository\n      name: other\n  artifacts:", 1),
			"        - from: \"@repo/apps/staging/**\"", "        - from: \"@other/apps/staging/**\"", 1) +
			"---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: other, namespace: apps}\nspec: {interval: 5m, url: https://git.example.com/org/other.git}\n",
			field: "spec.artifacts[2].copy[1].from", msg: "copies from two GitRepositories (monorepo and other)"},
		{name: "artifact merged", yaml: strings.Replace(artifacts, "strategy: Overwrite", "strategy: Merge", 1),
			is: ErrUnsupportedField, field: "spec.artifacts[2].copy[1].strategy", msg: "only the default Overwrite strategy"},
		{name: "origin revision of no source", yaml: strings.Replace(artifacts, "originRevision: \"@repo\"", "originRevision: \"@nope\"", 1),
			field: "spec.artifacts[2].originRevision", msg: "want @<alias> with an alias of spec.sources"},
		{name: "ExternalArtifact of a third party", yaml: strings.Replace(artifacts, "    name: backend\n", "    name: external\n", 1) +
			"---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: ExternalArtifact\nmetadata: {name: external, namespace: apps}\nspec: {sourceRef: {apiVersion: example.com/v1, kind: Thing, name: t}}\n",
			field: "spec.sourceRef.name", msg: "not generated by an ArtifactGenerator"},
		{name: "retryInterval without RetryOnFailure", yaml: strings.Replace(helm, "strategy: {name: RetryOnFailure, retryInterval: 2m}", "strategy: {name: RemediateOnFailure, retryInterval: 2m}", 1),
			field: "spec.install.strategy.retryInterval", msg: "may only be set with the RetryOnFailure strategy"},
		{name: "unknown strategy", yaml: strings.Replace(helm, "strategy: {name: RetryOnFailure}", "strategy: {name: Pray}", 1),
			field: "spec.upgrade.strategy.name", msg: "want RemediateOnFailure or RetryOnFailure"},
		{name: "OCIRepository layer of another media type", yaml: strings.Replace(helm, "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "application/vnd.cncf.flux.content.v1.tar+gzip", 1),
			is: ErrUnsupportedField, field: "spec.layerSelector.mediaType", msg: "read as a Helm chart"},
		{name: "OCI source without oci://", yaml: strings.Replace(oci, "url: oci://ghcr.example.com/", "url: https://ghcr.example.com/", 1),
			field: "spec.url", msg: "want oci://registry/repository"},
		{name: "OCI source layer operation", yaml: strings.Replace(oci, "operation: extract", "operation: unpack", 1),
			field: "spec.layerSelector.operation", msg: "want extract or copy"},
		{name: "OCI source bad digest", yaml: strings.Replace(oci, "digest: sha256:0000000000000000000000000000000000000000000000000000000000000001", "digest: sha256:01", 1),
			is: source.ErrInvalid, field: "spec.ref", msg: "digest"},
		{name: "OCI source bad semver", yaml: strings.Replace(oci, `semver: "3.x"`, `semver: "three"`, 1),
			is: source.ErrInvalid, field: "spec.ref", msg: "semver range"},
		{name: "OCI source verified with cosign", yaml: strings.Replace(oci, "    operation: extract\n", "    operation: extract\n  verify:\n    provider: cosign\n", 1),
			is: ErrUnsupportedField, field: "spec.verify", msg: "never used unverified"},
		{name: "OCIRepository chart with a semver filter", yaml: strings.Replace(helm, "    semver: \">=1.16.0 <1.17.0\"\n", "    semver: \">=1.16.0 <1.17.0\"\n    semverFilter: \".*-rc.*\"\n", 1),
			is: ErrUnsupportedField, field: "spec.ref.semverFilter", msg: "narrow spec.ref.semver"},
		{name: "drift ignore path not a JSON pointer", yaml: strings.Replace(helm, `["/spec/replicas"]`, `["spec.replicas"]`, 1),
			field: "spec.driftDetection.ignore[1]", msg: "want a JSON pointer"},
		{name: "drift ignore target regexp", yaml: strings.Replace(helm, "kind: PrometheusRule", "kind: Prometheus(Rule", 1),
			field: "spec.driftDetection.ignore[0]", msg: "invalid selector"},
		{name: "OCIRepository digest", yaml: strings.Replace(helm, "    semver: \">=1.16.0 <1.17.0\"\n", "    digest: sha256:"+strings.Repeat("ab", 32)+"\n", 1),
			is: ErrUnsupportedField, field: "spec.ref.digest", msg: "spec.ref.tag or spec.ref.semver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := corpusLookups()
			opts.NoCrossNamespaceRefs = tt.lockdown
			_, err := LoadFlux(t.Context(), []byte(tt.yaml), opts)
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FluxError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidConfiguration) {
				t.Fatalf("LoadFlux: %v, want an invalid configuration *FluxError", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v does not match %v", err, tt.is)
			}
			if tt.field != "" && fe.Field != tt.field {
				t.Errorf("field %q, want %q: %v", fe.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			t.Log(err)
		})
	}
}

// TestFluxFromObjects checks the engine's path: objects of a build whose
// fromObjects: references name objects loaded before; an object of the
// configuration declared again by a build is kept as the configuration has
// it; an object of one unit's build declared differently by another is an
// error; a unit's build replaces what it declared before, and what it stops
// declaring is dropped.
func TestFluxFromObjects(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "flux", "bootstrap-v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := newFluxLoader(corpusLookups(), "")
	if _, err := l.loadYAML(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	load := func(parent string, objs []*unstructured.Unstructured) (*fluxBatch, Configuration, error) {
		t.Helper()
		b, conf, err := l.fromObjects(t.Context(), parent, objs)
		if err == nil {
			b.commit()
		}
		return b, conf, err
	}
	objs := readObjects(t, data)
	b, conf, err := load("flux-system", objs)
	if err != nil || len(conf.Units) != 0 || len(conf.Sources) != 0 || len(b.overridden) != 0 {
		t.Fatalf("the configuration's objects again: %+v, %v", conf, err)
	}
	changed := objs[1].DeepCopy()
	if err := unstructured.SetNestedField(changed.Object, "./clusters/production", "spec", "path"); err != nil {
		t.Fatal(err)
	}
	b, conf, err = load("flux-system", []*unstructured.Unstructured{changed})
	if err != nil || len(conf.Units) != 0 || len(b.overridden) != 1 || b.overridden[0].name != "flux-system" {
		t.Fatalf("a configuration's object declared differently by a build: %+v, overridden %v, %v", conf, b.overridden, err)
	}

	child := func(path string) []*unstructured.Unstructured {
		return readObjects(t, []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: child, namespace: flux-system}\n"+
			"spec: {interval: 5m, path: "+path+", sourceRef: {kind: GitRepository, name: flux-system}, dependsOn: [{name: flux-system}]}\n"))
	}
	_, conf, err = load("a", child("./one"))
	if err != nil || len(conf.Units) != 1 || conf.Units[0].DependsOn[0] != "flux-system" || conf.Namespace != "flux-system" {
		t.Fatalf("child: %+v, %v", conf, err)
	}
	if _, conf, err = load("b", child("./one")); err != nil || len(conf.Units) != 0 {
		t.Errorf("child declared again by another unit: %+v, %v", conf, err)
	}
	_, _, err = load("b", child("./two"))
	var fe *FluxError
	if !errors.As(err, &fe) || fe.Document != 1 || fe.Line != 0 || !strings.Contains(err.Error(), "also defined, differently, by the build of unit a") {
		t.Fatalf("another spec from another unit: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "flux configuration: document 1 (Kustomization flux-system/child): ") {
		t.Errorf("an object of a build has no line: %v", err)
	}
	// After the error, the loader is unchanged; unit a may change its own.
	if _, conf, err = load("a", child("./two")); err != nil || len(conf.Units) != 1 || conf.Units[0].Path != "two" {
		t.Fatalf("child changed by its unit: %+v, %v", conf, err)
	}
	b, _, err = load("a", nil)
	if err != nil || !slices.Equal(b.removedUnits, []string{"child"}) {
		t.Fatalf("child no longer declared: removed %v, %v", b.removedUnits, err)
	}
	if _, conf, err = load("b", child("./three")); err != nil || len(conf.Units) != 1 {
		t.Errorf("once unit a dropped it, another unit may declare it: %+v, %v", conf, err)
	}
}

func TestFluxObjects(t *testing.T) {
	objs := readObjects(t, []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata: {name: h}
---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: g}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: alert}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: fluxcd.example.com/v1
kind: Lookalike
metadata: {name: l}
`))
	flux, rest := FluxObjects(objs)
	var f, r []string
	for _, o := range flux {
		f = append(f, o.GetName())
	}
	for _, o := range rest {
		r = append(r, o.GetName())
	}
	if strings.Join(f, ",") != "h,g,alert" || strings.Join(r, ",") != "a,d,l" {
		t.Errorf("flux %v, rest %v", f, r)
	}
}
