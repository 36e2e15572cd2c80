package reconcile

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	//lint:ignore SA1019 Flux no longer serves it, and repositories still hold it: it is read and converted.
	helmv2beta1 "github.com/fluxcd/helm-controller/api/v2beta1"
	helmv2beta2 "github.com/fluxcd/helm-controller/api/v2beta2"
	kustv1 "github.com/fluxcd/kustomize-controller/api/v1"
	//lint:ignore SA1019 Flux no longer serves it, and repositories still hold it: it is read and converted.
	kustv1beta1 "github.com/fluxcd/kustomize-controller/api/v1beta1"
	kustv1beta2 "github.com/fluxcd/kustomize-controller/api/v1beta2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	//lint:ignore SA1019 Flux no longer serves it, and repositories still hold it: it is read and converted.
	sourcev1beta1 "github.com/fluxcd/source-controller/api/v1beta1"
	sourcev1beta2 "github.com/fluxcd/source-controller/api/v1beta2"
	swapi "github.com/fluxcd/source-watcher/api/v2/v1beta1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The newest Flux API versions, the ones [LoadFlux] converts every older
// served version to.
const (
	FluxSourceAPIVersion    = "source.toolkit.fluxcd.io/v1"
	FluxKustomizeAPIVersion = "kustomize.toolkit.fluxcd.io/v1"
	FluxHelmAPIVersion      = "helm.toolkit.fluxcd.io/v2"
	// FluxSourceExtensionsAPIVersion is the API of ArtifactGenerator
	// (Flux's source-watcher).
	FluxSourceExtensionsAPIVersion = "source.extensions.fluxcd.io/v1beta1"
)

// The API groups of Flux objects; see [FluxObjects].
const (
	fluxSourceGroup     = "source.toolkit.fluxcd.io"
	fluxKustomizeGroup  = "kustomize.toolkit.fluxcd.io"
	fluxHelmGroup       = "helm.toolkit.fluxcd.io"
	fluxExtensionsGroup = "source.extensions.fluxcd.io"
)

// fluxKind describes one kind LoadFlux reads: the Go type of its spec in
// each served version (Flux's own, from its API modules), newest first, and
// the fields gitopskit supports.
type fluxKind struct {
	group, kind string
	// versions maps each served version to a constructor of its spec
	// type; order lists them newest first, the first being the one
	// older versions are converted to.
	versions map[string]func() any
	order    []string
	// supported lists the paths (lists as "[]") of the newest version's
	// spec fields gitopskit reads; a field that is neither supported, nor
	// empty, nor one of accepted's values is a [ErrUnsupportedField]
	// error. The containers of a supported path are supported.
	supported []string
	// extra lists, per older version, the paths that version has and
	// fluxConvert turns into supported fields of the newest.
	extra map[string][]string
}

func newOf[T any]() func() any { return func() any { return new(T) } }

// fluxKinds are the kinds of Flux objects LoadFlux reads, by kind.
var fluxKinds = map[string]*fluxKind{
	"GitRepository": {group: fluxSourceGroup, kind: "GitRepository",
		versions: map[string]func() any{
			"v1": newOf[sourcev1.GitRepositorySpec](), "v1beta2": newOf[sourcev1beta2.GitRepositorySpec](),
			"v1beta1": newOf[sourcev1beta1.GitRepositorySpec]()},
		order: []string{"v1", "v1beta2", "v1beta1"},
		supported: []string{"spec.url", "spec.secretRef.name", "spec.interval", "spec.timeout",
			"spec.ref.branch", "spec.ref.tag", "spec.ref.semver", "spec.ref.name", "spec.ref.commit",
			"spec.verify.mode", "spec.verify.secretRef.name", "spec.ignore"},
		extra: map[string][]string{"v1beta2": {"spec.gitImplementation"}, "v1beta1": {"spec.gitImplementation"}},
	},
	"OCIRepository": {group: fluxSourceGroup, kind: "OCIRepository",
		versions: map[string]func() any{"v1": newOf[sourcev1.OCIRepositorySpec](), "v1beta2": newOf[sourcev1beta2.OCIRepositorySpec]()},
		order:    []string{"v1", "v1beta2"},
		supported: []string{"spec.url", "spec.ref.tag", "spec.ref.semver", "spec.ref.semverFilter", "spec.ref.digest",
			"spec.secretRef.name", "spec.interval", "spec.timeout", "spec.insecure", "spec.ignore",
			"spec.layerSelector.mediaType", "spec.layerSelector.operation"},
	},
	"HelmRepository": {group: fluxSourceGroup, kind: "HelmRepository",
		versions: map[string]func() any{
			"v1": newOf[sourcev1.HelmRepositorySpec](), "v1beta2": newOf[sourcev1beta2.HelmRepositorySpec](),
			"v1beta1": newOf[sourcev1beta1.HelmRepositorySpec]()},
		order:     []string{"v1", "v1beta2", "v1beta1"},
		supported: []string{"spec.url", "spec.type", "spec.secretRef.name", "spec.interval", "spec.timeout", "spec.insecure"},
	},
	"HelmChart": {group: fluxSourceGroup, kind: "HelmChart",
		versions: map[string]func() any{
			"v1": newOf[sourcev1.HelmChartSpec](), "v1beta2": newOf[sourcev1beta2.HelmChartSpec](),
			"v1beta1": newOf[sourcev1beta1.HelmChartSpec]()},
		order: []string{"v1", "v1beta2", "v1beta1"},
		supported: []string{"spec.chart", "spec.version", "spec.sourceRef.apiVersion", "spec.sourceRef.kind",
			"spec.sourceRef.name", "spec.interval", "spec.valuesFiles", "spec.ignoreMissingValuesFiles"},
	},
	"ExternalArtifact": {group: fluxSourceGroup, kind: "ExternalArtifact",
		versions:  map[string]func() any{"v1": newOf[sourcev1.ExternalArtifactSpec]()},
		order:     []string{"v1"},
		supported: []string{"spec.sourceRef.apiVersion", "spec.sourceRef.kind", "spec.sourceRef.name", "spec.sourceRef.namespace"},
	},
	"ArtifactGenerator": {group: fluxExtensionsGroup, kind: "ArtifactGenerator",
		versions: map[string]func() any{"v1beta1": newOf[swapi.ArtifactGeneratorSpec]()},
		order:    []string{"v1beta1"},
		supported: []string{"spec.sources[].alias", "spec.sources[].name", "spec.sources[].namespace", "spec.sources[].kind",
			"spec.artifacts[].name", "spec.artifacts[].revision", "spec.artifacts[].originRevision",
			"spec.artifacts[].copy[].from", "spec.artifacts[].copy[].to", "spec.artifacts[].copy[].exclude",
			"spec.artifacts[].copy[].strategy", "spec.commonMetadata.labels", "spec.commonMetadata.annotations"},
	},
	"Kustomization": {group: fluxKustomizeGroup, kind: "Kustomization",
		versions: map[string]func() any{
			"v1": newOf[kustv1.KustomizationSpec](), "v1beta2": newOf[kustv1beta2.KustomizationSpec](),
			"v1beta1": newOf[kustv1beta1.KustomizationSpec]()},
		order: []string{"v1", "v1beta2", "v1beta1"},
		supported: []string{"spec.sourceRef.apiVersion", "spec.sourceRef.kind", "spec.sourceRef.name", "spec.sourceRef.namespace",
			"spec.interval", "spec.retryInterval", "spec.timeout", "spec.path", "spec.prune", "spec.wait", "spec.force",
			"spec.suspend", "spec.dependsOn[].name", "spec.dependsOn[].namespace", "spec.serviceAccountName",
			"spec.targetNamespace", "spec.namePrefix", "spec.nameSuffix", "spec.commonMetadata.labels",
			"spec.commonMetadata.annotations", "spec.components", "spec.patches[].patch", "spec.patches[].target",
			"spec.images[].name", "spec.images[].newName", "spec.images[].newTag", "spec.images[].digest",
			"spec.postBuild.substitute", "spec.postBuild.substituteFrom[].kind", "spec.postBuild.substituteFrom[].name",
			"spec.postBuild.substituteFrom[].optional", "spec.healthChecks[].apiVersion", "spec.healthChecks[].kind",
			"spec.healthChecks[].name", "spec.healthChecks[].namespace", "spec.healthCheckExprs[].apiVersion", "spec.healthCheckExprs[].kind",
			"spec.healthCheckExprs[].current", "spec.healthCheckExprs[].inProgress", "spec.healthCheckExprs[].failed",
			"spec.decryption.provider", "spec.decryption.secretRef.name", "spec.deletionPolicy", "spec.ignoreMissingComponents"},
		extra: map[string][]string{
			"v1beta2": {"spec.patchesStrategicMerge", "spec.patchesJson6902", "spec.validation"},
			"v1beta1": {"spec.patchesStrategicMerge", "spec.patchesJson6902", "spec.validation"},
		},
	},
	"HelmRelease": {group: fluxHelmGroup, kind: "HelmRelease",
		versions: map[string]func() any{
			"v2": newOf[helmv2.HelmReleaseSpec](), "v2beta2": newOf[helmv2beta2.HelmReleaseSpec](),
			"v2beta1": newOf[helmv2beta1.HelmReleaseSpec]()},
		order: []string{"v2", "v2beta2", "v2beta1"},
		supported: []string{"spec.chart.spec.chart", "spec.chart.spec.version", "spec.chart.spec.sourceRef.apiVersion",
			"spec.chart.spec.sourceRef.kind", "spec.chart.spec.sourceRef.name", "spec.chart.spec.sourceRef.namespace",
			"spec.chart.spec.interval", "spec.chartRef.apiVersion", "spec.chartRef.kind", "spec.chartRef.name",
			"spec.chartRef.namespace", "spec.interval", "spec.suspend", "spec.releaseName", "spec.targetNamespace",
			"spec.storageNamespace", "spec.dependsOn[].name", "spec.dependsOn[].namespace", "spec.timeout",
			"spec.serviceAccountName", "spec.maxHistory", "spec.driftDetection.mode", "spec.driftDetection.ignore[].paths",
			"spec.driftDetection.ignore[].target",
			"spec.install.timeout", "spec.install.remediation.retries", "spec.install.remediation.remediateLastFailure",
			"spec.install.disableWait", "spec.install.disableWaitForJobs", "spec.install.disableHooks",
			"spec.install.skipCRDs", "spec.install.crds", "spec.install.createNamespace",
			"spec.install.strategy.name", "spec.install.strategy.retryInterval",
			"spec.upgrade.strategy.name", "spec.upgrade.strategy.retryInterval",
			"spec.upgrade.timeout", "spec.upgrade.remediation.retries", "spec.upgrade.remediation.remediateLastFailure",
			"spec.upgrade.remediation.strategy",
			"spec.upgrade.disableWait", "spec.upgrade.disableWaitForJobs", "spec.upgrade.disableHooks",
			"spec.upgrade.force", "spec.upgrade.crds", "spec.test.enable", "spec.test.ignoreFailures",
			"spec.valuesFrom[].kind", "spec.valuesFrom[].name", "spec.valuesFrom[].valuesKey",
			"spec.valuesFrom[].targetPath", "spec.valuesFrom[].optional", "spec.values", "spec.commonMetadata.labels",
			"spec.chart.spec.valuesFiles", "spec.chart.spec.ignoreMissingValuesFiles",
			"spec.postRenderers[].kustomize.patches[].patch", "spec.postRenderers[].kustomize.patches[].target",
			"spec.postRenderers[].kustomize.images[].name", "spec.postRenderers[].kustomize.images[].newName",
			"spec.postRenderers[].kustomize.images[].newTag", "spec.postRenderers[].kustomize.images[].digest"},
	},
}

// fluxAccepted lists, by "Kind.path", values of unsupported fields that
// mean what gitopskit does anyway (JSON-encoded).
var fluxAccepted = map[string][]string{
	"GitRepository.spec.provider":                   {`"generic"`},
	"OCIRepository.spec.provider":                   {`"generic"`},
	"HelmRepository.spec.provider":                  {`"generic"`},
	"HelmChart.spec.reconcileStrategy":              {`"ChartVersion"`},
	"HelmRelease.spec.chart.spec.reconcileStrategy": {`"ChartVersion"`},
	"HelmRelease.spec.persistentClient":             {`true`},
	"HelmRelease.spec.postRenderStrategy":           {`"nohooks"`},
}

// unsupportedHints say what to do instead of a Flux field gitopskit does not
// support, by "Kind.path" (lists as "[]").
var unsupportedHints = map[string]string{
	"GitRepository.spec.suspend":                                       "suspend the Kustomizations that use the source instead",
	"GitRepository.spec.provider":                                      "only generic Git credentials (spec.secretRef) are supported",
	"GitRepository.spec.include":                                       "use one GitRepository per repository and one Kustomization per path",
	"GitRepository.spec.recurseSubmodules":                             "submodules are not fetched",
	"OCIRepository.spec.verify":                                        "cosign and notation signatures are not verified, and a source is never used unverified",
	"HelmRepository.spec.passCredentials":                              "credentials are only sent to the repository's own host",
	"HelmRepository.spec.certSecretRef":                                "TLS client certificates and private CAs are not supported",
	"HelmRelease.spec.chart.spec.valuesFile":                           "removed in helm.toolkit.fluxcd.io/v2; use valuesFiles",
	"HelmRelease.spec.chart.spec.verify":                               "chart signatures are not verified; pin the chart version (or an OCIRepository tag)",
	"HelmChart.spec.verify":                                            "chart signatures are not verified; pin the chart version",
	"HelmRelease.spec.kubeConfig":                                      "a configuration applies to the cluster of the Reconciler's rest.Config",
	"HelmRelease.spec.postRenderStrategy":                              "hooks are never post-rendered (Helm 3's nohooks)",
	"HelmRelease.spec.postRenderers[].kustomize.patchesStrategicMerge": "removed in helm.toolkit.fluxcd.io/v2; use patches",
	"HelmRelease.spec.postRenderers[].kustomize.patchesJson6902":       "removed in helm.toolkit.fluxcd.io/v2; use patches with a target",
	"Kustomization.spec.decryption.serviceAccountName":                 "cloud key services are not used: decrypt with the age or OpenPGP keys of spec.decryption.secretRef",
	"Kustomization.spec.kubeConfig":                                    "a configuration applies to the cluster of the Reconciler's rest.Config",
	"Kustomization.spec.patchesStrategicMerge":                         "removed in kustomize.toolkit.fluxcd.io/v1; use patches",
	"Kustomization.spec.patchesJson6902":                               "removed in kustomize.toolkit.fluxcd.io/v1; use patches",
	"Kustomization.spec.validation":                                    "removed in kustomize.toolkit.fluxcd.io/v1; objects are always validated by server-side apply",
	"ArtifactGenerator.spec.pathPattern":                               "one artifact per matched directory is not supported; list the artifacts",
}

// fieldProblem is a field checkFields refused: its path and why.
type fieldProblem struct {
	path string
	err  error
}

var (
	durationType  = reflect.TypeFor[metav1.Duration]()
	jsonValueType = reflect.TypeFor[apiextensionsv1.JSON]()
	unmarshaler   = reflect.TypeFor[json.Unmarshaler]()
)

// fieldChecker compares a document decoded by encoding/json into any with
// the Go type of a Flux API version that will receive it.
type fieldChecker struct {
	kind, apiVersion string
	leaves           map[string]bool // supported paths: they and what they hold
	containers       map[string]bool // the objects and lists that hold them
}

func newFieldChecker(k *fluxKind, version string) *fieldChecker {
	c := &fieldChecker{kind: k.kind, apiVersion: k.group + "/" + version, leaves: map[string]bool{}, containers: map[string]bool{}}
	for _, p := range slices.Concat(k.supported, k.extra[version]) {
		c.leaves[p] = true
		for {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = strings.TrimSuffix(p[:i], "[]")
			c.containers[p] = true
		}
	}
	return c
}

// isSupported reports whether the field at gen (a path with "[]" for
// lists) is supported: a container of supported fields, or a supported
// field or part of one.
func (c *fieldChecker) isSupported(gen string) bool {
	if c.containers[gen] {
		return true
	}
	for p := gen; ; {
		if c.leaves[p] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = strings.TrimSuffix(p[:i], "[]")
	}
}

// check returns the first field (in key order) that t does not have, that
// gitopskit does not support (unless its value is empty, which in Flux
// means the same as leaving it out, or one of fluxAccepted's), or whose
// JSON type does not fit. path is the field's path with list indexes, gen
// the same with "[]".
func (c *fieldChecker) check(v any, t reflect.Type, path, gen string) *fieldProblem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil // null is the same as absent
	}
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			return typeProblem(path, "a duration such as \"10m\"", v)
		}
		return checkDuration(path, s)
	case t == jsonValueType:
		return nil
	case t.Kind() != reflect.Struct && reflect.PointerTo(t).Implements(unmarshaler):
		return nil // json.Unmarshal checks it
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return typeProblem(path, "an object", v)
		}
		fields := map[string]reflect.Type{}
		structFields(t, fields)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			p, g := joinPath(path, k), joinPath(gen, k)
			ft, ok := fields[k]
			hint := unsupportedHints[c.kind+"."+g]
			switch {
			case !ok:
				msg := fmt.Sprintf("Flux's %s %s has no such field", c.kind, c.apiVersion)
				if hint != "" {
					msg += "; " + hint
				}
				return &fieldProblem{p, fmt.Errorf("%w (%s)", ErrUnsupportedField, msg)}
			case !c.isSupported(g):
				if isEmptyJSON(m[k]) || c.accepted(g, m[k]) {
					continue
				}
				msg := "a Flux field gitopskit does not support"
				if hint != "" {
					msg += "; " + hint
				}
				return &fieldProblem{p, fmt.Errorf("%w (%s)", ErrUnsupportedField, msg)}
			}
			if pr := c.check(m[k], ft, p, g); pr != nil {
				return pr
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return typeProblem(path, "an object", v)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if pr := c.check(m[k], t.Elem(), joinPath(path, k), gen); pr != nil {
				return pr
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return typeProblem(path, "a list", v)
		}
		for i, e := range s {
			if pr := c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), gen+"[]"); pr != nil {
				return pr
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return typeProblem(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return typeProblem(path, "true or false", v)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return typeProblem(path, "a whole number", v)
		}
	}
	return nil
}

func (c *fieldChecker) accepted(gen string, v any) bool {
	j, err := json.Marshal(v)
	return err == nil && slices.Contains(fluxAccepted[c.kind+"."+gen], string(j))
}

// structFields adds the JSON fields of struct type t, inlined ones
// included, to fields.
func structFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && (name == "" || strings.Contains(opts, "inline")):
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				structFields(ft, fields)
			}
		case f.IsExported() && name != "":
			fields[name] = f.Type
		}
	}
}

func checkDuration(path, s string) *fieldProblem {
	if !fluxDurationRE.MatchString(s) {
		return &fieldProblem{path, fmt.Errorf("%q is not a duration such as \"90s\", \"10m\" or \"1h30m\"", s)}
	}
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return &fieldProblem{path, fmt.Errorf("%q: must be more than zero", s)}
	}
	return nil
}

func typeProblem(path, want string, got any) *fieldProblem {
	hint := ""
	switch got.(type) {
	case float64, bool:
		if want == "a string" {
			hint = " (quote it)"
		}
	}
	return &fieldProblem{path, fmt.Errorf("want %s, got %s%s", want, describeJSON(got), hint)}
}

// describeJSON names the JSON type and, for scalars, the value of v.
func describeJSON(v any) string {
	switch t := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", t)
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	case float64:
		return fmt.Sprintf("the number %v", t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// isEmptyJSON reports whether v means the same as an absent field.
func isEmptyJSON(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case bool:
		return !t
	case string:
		return t == ""
	case float64:
		return t == 0
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

// joinPath appends key to a dotted field path. Keys that are not plain
// identifiers (label keys, variable names with dots) are quoted.
func joinPath(path, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return fmt.Sprintf("%s[%q]", path, key)
	case path == "":
		return key
	}
	return path + "." + key
}
