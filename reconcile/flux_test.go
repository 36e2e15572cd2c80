package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// fluxSeed is the seed scenario in Flux's format: one repository, infra,
// then apps-dev, then apps-prd.
const fluxSeed = `# The seed scenario, as Flux objects.
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: company
  namespace: cluster-config
spec:
  interval: 1m0s
  url: https://git.example.com/company/fleet.git
  ref:
    branch: main
  secretRef:
    name: git-credentials
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra
  namespace: cluster-config
spec:
  interval: 10m
  path: ./infra
  prune: true
  wait: true
  timeout: 2m
  sourceRef:
    kind: GitRepository
    name: company
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps-dev
  namespace: cluster-config
spec:
  interval: 10m
  retryInterval: 30s
  path: ./apps/dev
  prune: true
  wait: true
  timeout: 2m
  dependsOn:
    - name: infra
  sourceRef:
    kind: GitRepository
    name: company
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps-prd
  namespace: cluster-config
spec:
  interval: 30s
  path: ./apps/prd
  prune: true
  wait: true
  dependsOn:
    - name: apps-dev
      namespace: cluster-config
  sourceRef:
    apiVersion: source.toolkit.fluxcd.io/v1
    kind: GitRepository
    name: company
    namespace: cluster-config
`

// fluxKitchenSink uses every supported field.
const fluxKitchenSink = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: repo
  labels: {team: a}
spec:
  interval: 5m
  url: ssh://git@git.example.com/a/b.git
  ref:
    semver: ">=1.0.0 <2.0.0"
  secretRef:
    name: ssh
  verify:
    mode: Tag
    secretRef:
      name: keys
  ignore: |
    # comment lines are kept; the source skips them
    /docs/

    *.md
  recurseSubmodules: false
  timeout: null
status:
  artifact: {revision: "v1.0.0@sha1:0000"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: app
  annotations: {note: ignored}
spec:
  interval: 1h30m
  retryInterval: 2m
  timeout: 90s
  path: /deploy/../deploy/app/
  prune: false
  wait: false
  force: true
  suspend: true
  serviceAccountName: deployer
  targetNamespace: app-prd
  namePrefix: p-
  nameSuffix: -s
  commonMetadata:
    labels: {app.kubernetes.io/part-of: shop}
    annotations: {owner: team-a}
  components: [../components/tls]
  patches:
    - patch: |
        - op: replace
          path: /spec/replicas
          value: 3
      target:
        group: apps
        version: v1
        kind: Deployment
        name: web
        namespace: app-prd
        labelSelector: tier=web
        annotationSelector: a=b
    - patch: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {mode: prd}
  images:
    - name: nginx
      newName: registry.example.com/nginx
      newTag: "1.27"
    - name: busybox
      digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
  postBuild:
    substitute:
      region: eu-west-1
      multi: "a\nb"
    substituteFrom:
      - kind: ConfigMap
        name: vars
      - kind: Secret
        name: secret-vars
      - kind: ConfigMap
        name: missing
        optional: true
  healthCheckExprs:
    - apiVersion: example.com/v1
      kind: Widget
      current: status.ready == true
      inProgress: "!has(status.ready)"
      failed: status.error != ""
  decryption: null
  healthChecks: []
  sourceRef:
    kind: GitRepository
    name: repo
`

// fluxCluster is a fake cluster for the callback: Secrets by
// "namespace/name". It counts the lookups.
type fluxCluster struct {
	secrets map[string]map[string][]byte
	lookups []string
	err     error // returned by every lookup when set
}

func (c *fluxCluster) options() reconcile.FluxOptions {
	return reconcile.FluxOptions{
		SecretData: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			c.lookups = append(c.lookups, "Secret "+namespace+"/"+name)
			if c.err != nil {
				return nil, c.err
			}
			if d, ok := c.secrets[namespace+"/"+name]; ok {
				return d, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
		},
	}
}

func newFluxCluster() *fluxCluster {
	return &fluxCluster{
		secrets: map[string]map[string][]byte{
			"cluster-config/git-credentials": {"username": []byte("bot"), "password": []byte("s3cret")},
			"team-a/ssh":                     {"identity": []byte("KEY"), "known_hosts": []byte("git.example.com ssh-ed25519 AAAA"), "password": []byte("pass")},
			"team-a/keys":                    {"b.pub": []byte("KEY-B"), "a.asc": []byte("KEY-A")},
			"team-a/secret-vars":             {"region": []byte("us-east-1"), "token": []byte("t0k\nen\n")},
		},
	}
}

func TestLoadFlux(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		opts    func(*reconcile.FluxOptions)
		want    reconcile.Configuration
		lookups []string
	}{{
		name: "seed scenario",
		yaml: fluxSeed,
		want: reconcile.Configuration{
			Name: "cluster-config", Namespace: "cluster-config",
			Sources: []reconcile.Source{{Name: "company", URL: "https://git.example.com/company/fleet.git",
				Ref: source.Ref{Branch: "main"}, Auth: &source.Auth{Username: "bot", Password: "s3cret"}}},
			Units: []reconcile.Unit{
				{Name: "infra", Source: "company", Path: "infra", Prune: true, Wait: true,
					Timeout: 2 * time.Minute, Interval: time.Minute},
				{Name: "apps-dev", Source: "company", Path: "apps/dev", Prune: true, Wait: true, DependsOn: []string{"infra"},
					Timeout: 2 * time.Minute, Interval: time.Minute, RetryInterval: 30 * time.Second},
				{Name: "apps-prd", Source: "company", Path: "apps/prd", Prune: true, Wait: true, DependsOn: []string{"apps-dev"},
					Timeout: 30 * time.Second, Interval: 30 * time.Second},
			},
		},
		lookups: []string{"Secret cluster-config/git-credentials"},
	}, {
		name: "every supported field",
		yaml: fluxKitchenSink,
		opts: func(o *reconcile.FluxOptions) { o.Name, o.Namespace = "shop", "team-a" },
		want: reconcile.Configuration{
			Name: "shop", Namespace: "team-a",
			Sources: []reconcile.Source{{Name: "repo", URL: "ssh://git@git.example.com/a/b.git",
				Ref:    source.Ref{SemVer: ">=1.0.0 <2.0.0"},
				Auth:   &source.Auth{Identity: []byte("KEY"), KnownHosts: []byte("git.example.com ssh-ed25519 AAAA"), IdentityPassphrase: "pass"},
				Verify: &source.Verification{Mode: source.VerifyTag, Keys: [][]byte{[]byte("KEY-A"), []byte("KEY-B")}},
				Ignore: []string{"# comment lines are kept; the source skips them", "/docs/", "*.md"}}},
			Units: []reconcile.Unit{{
				Name: "app", Source: "repo", Path: "deploy/app", Force: true, Suspend: true, ServiceAccountName: "deployer", ServiceAccountNamespace: "team-a",
				Interval: 5 * time.Minute, RetryInterval: 2 * time.Minute, Timeout: 90 * time.Second,
				Build: build.KustomizeOptions{
					TargetNamespace: "app-prd", NamePrefix: "p-", NameSuffix: "-s",
					CommonLabels:      map[string]string{"app.kubernetes.io/part-of": "shop"},
					CommonAnnotations: map[string]string{"owner": "team-a"},
					Components:        []string{"../components/tls"},
					Patches: []build.Patch{
						{Patch: "- op: replace\n  path: /spec/replicas\n  value: 3\n", Target: &build.Selector{Group: "apps", Version: "v1",
							Kind: "Deployment", Name: "web", Namespace: "app-prd", LabelSelector: "tier=web", AnnotationSelector: "a=b"}},
						{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: prd}\n"},
					},
					Images: []build.Image{
						{Name: "nginx", NewName: "registry.example.com/nginx", NewTag: "1.27"},
						{Name: "busybox", Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
					},
					// Inline variables; substituteFrom is read when the
					// unit builds, in order, the inline ones winning.
					Substitute: map[string]string{"region": "eu-west-1", "multi": "ab"},
				},
				SubstituteFrom: []reconcile.SubstituteRef{{Kind: "ConfigMap", Namespace: "team-a", Name: "vars"},
					{Kind: "Secret", Namespace: "team-a", Name: "secret-vars"},
					{Kind: "ConfigMap", Namespace: "team-a", Name: "missing", Optional: true}},
				HealthChecks: []health.CELCheck{{APIVersion: "example.com/v1", Kind: "Widget", Current: "status.ready == true",
					InProgress: "!has(status.ready)", Failed: `status.error != ""`}},
			}},
		},
		lookups: []string{"Secret team-a/ssh", "Secret team-a/keys"},
	}, {
		name: "defaults",
		yaml: `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: r}
spec: {interval: 10m, url: "file:///srv/git/r.git"}
---
---
# only a comment
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: a}
spec:
  interval: 1h
  sourceRef: {kind: GitRepository, name: r}
  postBuild:
    substituteFrom:
      - {kind: ConfigMap, name: none, optional: true}
`,
		want: reconcile.Configuration{
			Name: reconcile.DefaultNamespace, Namespace: reconcile.DefaultNamespace,
			Sources: []reconcile.Source{{Name: "r", URL: "file:///srv/git/r.git", Ref: source.Ref{Branch: "master"}}},
			// No variables now: the optional ConfigMap is read at build.
			Units: []reconcile.Unit{{Name: "a", Source: "r", Interval: 10 * time.Minute, Timeout: time.Hour,
				SubstituteFrom: []reconcile.SubstituteRef{{Kind: "ConfigMap", Namespace: reconcile.DefaultNamespace, Name: "none", Optional: true}}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFluxCluster()
			opts := fc.options()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			got, err := reconcile.LoadFlux(t.Context(), []byte(tt.yaml), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Sources, tt.want.Sources) {
				t.Errorf("sources:\n got %+v\nwant %+v", got.Sources, tt.want.Sources)
			}
			for i := range max(len(got.Units), len(tt.want.Units)) {
				var g, w reconcile.Unit
				if i < len(got.Units) {
					g = got.Units[i]
				}
				if i < len(tt.want.Units) {
					w = tt.want.Units[i]
				}
				if g.Name != "" && !strings.HasPrefix(g.FluxObject, "Kustomization ") && !strings.HasPrefix(g.FluxObject, "HelmRelease ") {
					t.Errorf("unit %d: FluxObject %q, want its Kustomization or HelmRelease", i, g.FluxObject)
				}
				g.FluxObject = w.FluxObject
				if !reflect.DeepEqual(g, w) {
					t.Errorf("unit %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
			if got.Name != tt.want.Name || got.Namespace != tt.want.Namespace || got.Tenancy != nil {
				t.Errorf("configuration %s in %s (tenancy %v), want %s in %s", got.Name, got.Namespace, got.Tenancy, tt.want.Name, tt.want.Namespace)
			}
			if !reflect.DeepEqual(fc.lookups, tt.lookups) {
				t.Errorf("lookups %q, want %q", fc.lookups, tt.lookups)
			}
		})
	}
}

// TestLoadFluxSeedIsValid checks that the loaded seed scenario is a
// configuration New accepts.
func TestLoadFluxSeedIsValid(t *testing.T) {
	conf, err := reconcile.LoadFlux(t.Context(), []byte(fluxSeed), newFluxCluster().options())
	if err != nil {
		t.Fatal(err)
	}
	r, err := reconcile.New(offline(t), conf, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
}

func TestLoadFluxErrors(t *testing.T) {
	repo := "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: ns}\nspec:\n  interval: 1m\n  url: https://example.com/r.git\n"
	kust := func(name, extra string) string {
		return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: ns}\nspec:\n" +
			"  interval: 5m\n  sourceRef: {kind: GitRepository, name: repo}\n" + extra
	}
	stream := func(docs ...string) string { return strings.Join(docs, "---\n") }
	tests := []struct {
		name        string
		yaml        string
		unsupported bool   // errors.Is ErrUnsupportedField
		document    int    // 0: the stream
		line        int    // when not 0
		field       string // FluxError.Field
		msg         string // in the message
	}{
		{"decryption without secretRef", stream(repo, kust("a", "  decryption: {provider: sops}\n")), false, 2, 8, "spec.decryption.secretRef", "required"},
		{"decryption provider", stream(repo, kust("a", "  decryption: {provider: vault, secretRef: {name: k}}\n")), false, 2, 8, "spec.decryption.provider", "want sops"},
		{"decryption serviceAccountName", stream(repo, kust("a", "  decryption: {provider: sops, serviceAccountName: kms, secretRef: {name: k}}\n")), true, 2, 0, "spec.decryption.serviceAccountName", "cloud key services"},
		{"kubeConfig", stream(repo, kust("a", "  kubeConfig: {secretRef: {name: kc}}\n")), true, 2, 0, "spec.kubeConfig", "rest.Config"},
		{"healthChecks apiVersion", stream(repo, kust("a", "  healthChecks: [{kind: Deployment, name: a}]\n")), false, 2, 0, "spec.healthChecks[0].apiVersion", "required for kind Deployment"},
		{"healthChecks name", stream(repo, kust("a", "  healthChecks: [{apiVersion: apps/v1, kind: Deployment}]\n")), false, 2, 0, "spec.healthChecks[0]", "kind and name are required"},
		{"deletionPolicy", stream(repo, kust("a", "  deletionPolicy: Keep\n")), false, 2, 0, "spec.deletionPolicy", "want MirrorPrune, Delete"},
		{"v1beta2 field", stream(repo, kust("a", "  patchesStrategicMerge: [{}]\n")), true, 2, 0, "spec.patchesStrategicMerge", "use patches"},
		{"readyExpr", stream(repo, kust("b", ""), kust("a", "  dependsOn: [{name: b, readyExpr: 'true'}]\n")), true, 3, 0, "spec.dependsOn[0].readyExpr", "not support"},
		{"typo", stream(repo, kust("a", "  prnue: true\n")), true, 2, 0, "spec.prnue", "no such field"},
		{"nested typo", stream(repo, kust("a", "  patches: [{patch: x, target: {kinds: Deployment}}]\n")), true, 2, 0, "spec.patches[0].target.kinds", "no such field"},
		{"top-level field", stream(repo, kust("a", "")+"data: {a: b}\n"), true, 2, 0, "data", "not a field"},
		{"source include", strings.Replace(repo, "spec:\n", "spec:\n  include: [{repository: {name: x}}]\n", 1) + "---\n" + kust("a", ""), true, 1, 0, "spec.include", "not support"},
		{"source suspend", strings.Replace(repo, "spec:\n", "spec:\n  suspend: true\n", 1) + "---\n" + kust("a", ""), true, 1, 0, "spec.suspend", "not support"},
		{"verify TagAndHEAD", strings.Replace(repo, "spec:\n", "spec:\n  verify: {mode: TagAndHEAD, secretRef: {name: k}}\n", 1) + "---\n" + kust("a", ""), false, 1, 0, "spec.verify.mode", "want HEAD or Tag"},
		{"bad duration", stream(repo, kust("a", "  timeout: 10 minutes\n")), false, 2, 0, "spec.timeout", `"10 minutes" is not a duration`},
		{"days", stream(repo, kust("a", "  retryInterval: 1d\n")), false, 2, 0, "spec.retryInterval", "not a duration"},
		{"negative duration", stream(repo, kust("a", "  timeout: -1m\n")), false, 2, 0, "spec.timeout", "not a duration"},
		{"zero interval", strings.Replace(stream(repo, kust("a", "")), "interval: 5m", "interval: 0s", 1), false, 2, 0, "spec.interval", "more than zero"},
		{"missing interval", strings.Replace(stream(repo, kust("a", "")), "interval: 1m\n", "", 1), false, 1, 0, "spec.interval", "required"},
		{"number for a string", stream(repo, kust("a", "  postBuild: {substitute: {replicas: 5}}\n")), false, 2, 0, "spec.postBuild.substitute.replicas", "quote it"},
		{"string for a bool", stream(repo, kust("a", "  prune: yes please\n")), false, 2, 0, "spec.prune", "want true or false"},
		{"bad variable name", stream(repo, kust("a", "  postBuild: {substitute: {my.var: x}}\n")), false, 2, 0, `spec.postBuild.substitute["my.var"]`, "variable name"},
		{"unknown kind", stream(repo, "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImagePolicy\nmetadata: {name: h, namespace: ns}\nspec: {}\n", kust("a", "")), false, 2, 0, "kind", `"ImagePolicy" is not supported`},
		{"unknown version", stream(repo, "apiVersion: helm.toolkit.fluxcd.io/v2beta3\nkind: HelmRelease\nmetadata: {name: h, namespace: ns}\nspec: {}\n", kust("a", "")), false, 2, 0, "apiVersion", "want helm.toolkit.fluxcd.io/v2, v2beta2, v2beta1"},
		{"no kind", stream(repo, "apiVersion: v1\nmetadata: {name: x}\n"), false, 2, 0, "kind", "required"},
		{"wrong apiVersion", stream(repo, strings.Replace(kust("a", ""), "/v1\n", "/v1alpha1\n", 1)), false, 2, 0, "apiVersion", "want kustomize.toolkit.fluxcd.io/v1"},
		{"v1beta2 field in v1beta1", stream(repo, strings.Replace(kust("a", "  namePrefix: p-\n"), "/v1\n", "/v1beta1\n", 1)), true, 2, 0, "spec.namePrefix", "kustomize.toolkit.fluxcd.io/v1beta1 has no such field"},
		{"kustomize's own Kustomization", stream(repo, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata: {name: k}\nresources: [a.yaml]\n"), false, 2, 0, "apiVersion", "kustomize's own"},
		{"duplicate names", stream(repo, kust("a", ""), kust("a", "  prune: true\n")), false, 3, 0, "metadata.name", "also defined by document 2"},
		{"duplicate sources", stream(repo, repo, kust("a", "")), false, 2, 0, "metadata.name", `GitRepository "repo" is also defined`},
		{"dependsOn in another namespace", stream(repo, kust("b", ""), kust("a", "  dependsOn: [{name: b, namespace: other}]\n")), false, 3, 0, "spec.dependsOn[0].name", "no Kustomization other/b"},
		{"missing dependency", stream(repo, kust("a", "  dependsOn: [{name: b}]\n")), false, 2, 0, "spec.dependsOn[0].name", `no Kustomization "b"`},
		{"duplicate key", stream(repo, kust("a", "  sourceRef: {kind: GitRepository, name: repo}\n")), false, 2, 8, "", "sourceRef"},
		{"sourceRef namespace", stream(repo, strings.Replace(kust("a", ""), "name: repo}", "name: repo, namespace: flux-system}", 1)), false, 2, 0, "spec.sourceRef.name", "no GitRepository flux-system/repo"},
		{"Bucket", stream(repo, strings.Replace(kust("a", ""), "kind: GitRepository", "kind: Bucket", 1)), false, 2, 0, "spec.sourceRef.kind", "want GitRepository, OCIRepository"},
		{"OCIRepository not in the stream", stream(repo, strings.Replace(kust("a", ""), "kind: GitRepository", "kind: OCIRepository", 1)), false, 2, 0, "spec.sourceRef.name", `no OCIRepository "repo"`},
		{"unknown source", stream(repo, strings.Replace(kust("a", ""), "name: repo}", "name: other}", 1)), false, 2, 0, "spec.sourceRef.name", `no GitRepository "other"`},
		{"sourceRef without namespace is the object's", stream(repo, strings.Replace(kust("a", ""), "namespace: ns", "namespace: other", 1)), false, 2, 0, "spec.sourceRef.name", `no GitRepository "repo"`},
		{"path leaves the repository", stream(repo, kust("a", "  path: ./apps/../../etc\n")), false, 2, 0, "spec.path", "leaves the repository"},
		{"unit name with a dot", stream(repo, kust("apps.dev", "")), false, 2, 0, "metadata.name", "DNS label"},
		{"no Kustomization", repo, false, 0, 0, "", "no Kustomization"},
		{"empty stream", "", false, 0, 0, "", "no Kustomization"},
		{"YAML syntax", stream(repo, "kind: [\n"), false, 2, 8, "", "yaml"},
		{"not an object", stream(repo, "- a\n- b\n"), false, 2, 0, "", "got a list"},
		{"no spec", stream(repo, "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a, namespace: ns}\n"), false, 2, 0, "spec", "required"},
		{"secretRef without callback", strings.Replace(repo, "spec:\n", "spec:\n  secretRef: {name: s}\n", 1) + "---\n" + kust("a", ""), false, 1, 0, "spec.secretRef.name", "SecretData is not set"},
		{"substituteFrom kind", stream(repo, kust("a", "  postBuild: {substituteFrom: [{kind: Pod, name: v}]}\n")), false, 2, 0, "spec.postBuild.substituteFrom[0].kind", "want ConfigMap or Secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reconcile.LoadFlux(t.Context(), []byte(tt.yaml), reconcile.FluxOptions{})
			var fe *reconcile.FluxError
			if !errors.As(err, &fe) {
				t.Fatalf("LoadFlux: %v, want a *FluxError", err)
			}
			if !errors.Is(err, reconcile.ErrInvalidConfiguration) {
				t.Errorf("%v does not match ErrInvalidConfiguration", err)
			}
			if got := errors.Is(err, reconcile.ErrUnsupportedField); got != tt.unsupported {
				t.Errorf("errors.Is(ErrUnsupportedField) = %v, want %v: %v", got, tt.unsupported, err)
			}
			if fe.Document != tt.document || (tt.line != 0 && fe.Line != tt.line) || fe.Field != tt.field {
				t.Errorf("document %d line %d field %q, want document %d line %d field %q: %v",
					fe.Document, fe.Line, fe.Field, tt.document, tt.line, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			t.Log(err)
		})
	}
}

func TestLoadFluxLookups(t *testing.T) {
	repo := "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: team-a}\nspec:\n  interval: 1m\n  url: https://example.com/r.git\n  secretRef: {name: %s}\n"
	kust := "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: %s, namespace: team-a}\nspec:\n  interval: 5m\n  sourceRef: {kind: GitRepository, name: repo}\n  postBuild:\n    substituteFrom: [%s]\n"
	t.Run("a Secret is read once", func(t *testing.T) {
		fc := newFluxCluster()
		fc.secrets["team-a/git"] = map[string][]byte{"bearerToken": []byte("tok")}
		y := fmt.Sprintf(repo, "git") + fmt.Sprintf(kust, "a", "{kind: Secret, name: git}") + fmt.Sprintf(kust, "b", "{kind: Secret, name: git}")
		conf, err := reconcile.LoadFlux(t.Context(), []byte(y), fc.options())
		if err != nil {
			t.Fatal(err)
		}
		// substituteFrom is read when the units build, not now.
		if conf.Sources[0].Auth.BearerToken != "tok" || len(fc.lookups) != 1 || len(conf.Units[1].SubstituteFrom) != 1 {
			t.Errorf("auth %v, lookups %q, substituteFrom %v", conf.Sources[0].Auth, fc.lookups, conf.Units[1].SubstituteFrom)
		}
	})
	t.Run("missing required Secret", func(t *testing.T) {
		fc := newFluxCluster()
		_, err := reconcile.LoadFlux(t.Context(), []byte(fmt.Sprintf(repo, "nope")+fmt.Sprintf(kust, "a", "")), fc.options())
		var fe *reconcile.FluxError
		if !errors.As(err, &fe) || fe.Field != "spec.secretRef.name" || !errors.Is(err, reconcile.ErrInvalidConfiguration) || !apierrors.IsNotFound(err) {
			t.Errorf("LoadFlux: %v", err)
		}
	})
	t.Run("missing required ConfigMap is not read while loading", func(t *testing.T) {
		fc := newFluxCluster()
		conf, err := reconcile.LoadFlux(t.Context(), []byte(fmt.Sprintf(repo, "ssh")+fmt.Sprintf(kust, "a", "{kind: ConfigMap, name: nope}")), fc.options())
		if err != nil || !slices.Equal(conf.Units[0].SubstituteFrom, []reconcile.SubstituteRef{{Kind: "ConfigMap", Namespace: "team-a", Name: "nope"}}) {
			t.Errorf("LoadFlux: %+v, %v", conf.Units, err)
		}
	})
	t.Run("unreachable cluster is not an invalid configuration", func(t *testing.T) {
		fc := newFluxCluster()
		fc.err = errors.New("connection refused")
		_, err := reconcile.LoadFlux(t.Context(), []byte(fmt.Sprintf(repo, "ssh")+fmt.Sprintf(kust, "a", "")), fc.options())
		if err == nil || errors.Is(err, reconcile.ErrInvalidConfiguration) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("LoadFlux: %v", err)
		}
	})
	t.Run("contradictory Secret", func(t *testing.T) {
		fc := newFluxCluster()
		fc.secrets["team-a/both"] = map[string][]byte{"password": []byte("p"), "bearerToken": []byte("t")}
		_, err := reconcile.LoadFlux(t.Context(), []byte(fmt.Sprintf(repo, "both")+fmt.Sprintf(kust, "a", "")), fc.options())
		if !errors.Is(err, source.ErrInvalid) || !errors.Is(err, reconcile.ErrInvalidConfiguration) {
			t.Errorf("LoadFlux: %v", err)
		}
	})
}

func TestLoadFluxSourceTimeout(t *testing.T) {
	yaml := "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: ns}\nspec:\n" +
		"  interval: 1m\n  timeout: 45s\n  url: https://example.com/r.git\n---\n" +
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a, namespace: ns}\nspec:\n" +
		"  interval: 5m\n  sourceRef: {kind: GitRepository, name: repo}\n"
	conf, err := reconcile.LoadFlux(t.Context(), []byte(yaml), reconcile.FluxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := conf.Sources[0].Timeout; got != 45*time.Second {
		t.Errorf("source timeout %v, want 45s", got)
	}
	_, err = reconcile.LoadFlux(t.Context(), []byte(strings.Replace(yaml, "45s", "soon", 1)), reconcile.FluxOptions{})
	var fe *reconcile.FluxError
	if !errors.As(err, &fe) || fe.Field != "spec.timeout" {
		t.Errorf("bad timeout: %v", err)
	}
}

// TestChartOnlySourceStatus: an OCIRepository only HelmReleases use is
// never fetched as a source, and its status says so rather than "not
// fetched yet".
func TestChartOnlySourceStatus(t *testing.T) {
	conf, err := reconcile.LoadFlux(t.Context(), []byte(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: flux-system}
spec: {interval: 1m, url: "http://127.0.0.1:1/fleet.git"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 10m, path: ./apps, sourceRef: {kind: GitRepository, name: fleet}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 1h
  url: oci://127.0.0.1:1/charts/podinfo
  ref: {semver: "6.x"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 1h
  chartRef: {kind: OCIRepository, name: podinfo}
`), reconcile.FluxOptions{Name: "charts"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := reconcile.New(offline(t), conf, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	got := map[string]string{}
	for _, s := range r.Status().Sources {
		got[s.Name] = s.Message
	}
	if len(got) != 2 || got["fleet"] != "not fetched yet" || !strings.Contains(got["podinfo"], "the Helm units that use its charts fetch them") {
		t.Errorf("sources: %q", got)
	}
}
