package reconcile

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// The Flux API groups and versions [LoadFlux] reads.
const (
	FluxSourceAPIVersion    = "source.toolkit.fluxcd.io/v1"
	FluxKustomizeAPIVersion = "kustomize.toolkit.fluxcd.io/v1"
)

// The Go types below mirror the parts of Flux's v1 API that LoadFlux reads.
// Every field of Flux's spec is listed: the ones gitopskit supports with
// their type, the others as json.RawMessage tagged `flux:"unsupported"`, so
// that checkFields can tell a Flux field gitopskit does not support from a
// field Flux does not have. Hints for the unsupported ones are in
// unsupportedHints.

type fluxGitRepositorySpec struct {
	URL       string         `json:"url"`
	SecretRef *fluxLocalRef  `json:"secretRef"`
	Interval  string         `json:"interval"`
	Ref       *fluxGitRef    `json:"ref"`
	Verify    *fluxGitVerify `json:"verify"`
	Ignore    *string        `json:"ignore"`

	Timeout           string          `json:"timeout"`
	Suspend           json.RawMessage `json:"suspend" flux:"unsupported"`
	Provider          json.RawMessage `json:"provider" flux:"unsupported"`
	ProxySecretRef    json.RawMessage `json:"proxySecretRef" flux:"unsupported"`
	RecurseSubmodules json.RawMessage `json:"recurseSubmodules" flux:"unsupported"`
	Include           json.RawMessage `json:"include" flux:"unsupported"`
	SparseCheckout    json.RawMessage `json:"sparseCheckout" flux:"unsupported"`
	ServiceAccount    json.RawMessage `json:"serviceAccountName" flux:"unsupported"`
}

type fluxGitRef struct {
	Branch string `json:"branch"`
	Tag    string `json:"tag"`
	SemVer string `json:"semver"`
	Name   string `json:"name"`
	Commit string `json:"commit"`
}

type fluxGitVerify struct {
	Mode      string        `json:"mode"`
	SecretRef *fluxLocalRef `json:"secretRef"`
}

type fluxLocalRef struct {
	Name string `json:"name"`
}

type fluxKustomizationSpec struct {
	SourceRef          fluxSourceRef         `json:"sourceRef"`
	Interval           string                `json:"interval"`
	RetryInterval      string                `json:"retryInterval"`
	Timeout            string                `json:"timeout"`
	Path               string                `json:"path"`
	Prune              bool                  `json:"prune"`
	Wait               bool                  `json:"wait"`
	Force              bool                  `json:"force"`
	Suspend            bool                  `json:"suspend"`
	DependsOn          []fluxDependency      `json:"dependsOn"`
	TargetNamespace    string                `json:"targetNamespace"`
	NamePrefix         string                `json:"namePrefix"`
	NameSuffix         string                `json:"nameSuffix"`
	CommonMetadata     *fluxCommonMetadata   `json:"commonMetadata"`
	Components         []string              `json:"components"`
	Patches            []fluxPatch           `json:"patches"`
	Images             []fluxImage           `json:"images"`
	PostBuild          *fluxPostBuild        `json:"postBuild"`
	ServiceAccountName string                `json:"serviceAccountName"`
	HealthCheckExprs   []fluxHealthCheckExpr `json:"healthCheckExprs"`

	Decryption              json.RawMessage `json:"decryption" flux:"unsupported"`
	KubeConfig              json.RawMessage `json:"kubeConfig" flux:"unsupported"`
	HealthChecks            json.RawMessage `json:"healthChecks" flux:"unsupported"`
	DeletionPolicy          json.RawMessage `json:"deletionPolicy" flux:"unsupported"`
	IgnoreMissingComponents json.RawMessage `json:"ignoreMissingComponents" flux:"unsupported"`
	PatchesStrategicMerge   json.RawMessage `json:"patchesStrategicMerge" flux:"unsupported"`
	PatchesJSON6902         json.RawMessage `json:"patchesJson6902" flux:"unsupported"`
	Validation              json.RawMessage `json:"validation" flux:"unsupported"`
}

type fluxSourceRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
}

type fluxDependency struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`

	ReadyExpr json.RawMessage `json:"readyExpr" flux:"unsupported"`
}

type fluxCommonMetadata struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type fluxPatch struct {
	Patch  string        `json:"patch"`
	Target *fluxSelector `json:"target"`
}

type fluxSelector struct {
	Group              string `json:"group"`
	Version            string `json:"version"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
	Namespace          string `json:"namespace"`
	LabelSelector      string `json:"labelSelector"`
	AnnotationSelector string `json:"annotationSelector"`
}

type fluxImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
	Digest  string `json:"digest"`
}

type fluxPostBuild struct {
	Substitute     map[string]string   `json:"substitute"`
	SubstituteFrom []fluxSubstituteRef `json:"substituteFrom"`
}

type fluxSubstituteRef struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Optional bool   `json:"optional"`
}

type fluxHealthCheckExpr struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Current    string `json:"current"`
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
}

// unsupportedHints say what to do instead of a Flux field gitopskit does not
// support, by "Kind.path".
var unsupportedHints = map[string]string{
	"GitRepository.spec.suspend":               "suspend the Kustomizations that use the source instead",
	"GitRepository.spec.provider":              "only generic Git credentials (spec.secretRef) are supported",
	"GitRepository.spec.include":               "use one GitRepository per repository and one Kustomization per path",
	"GitRepository.spec.recurseSubmodules":     "submodules are not fetched",
	"Kustomization.spec.decryption":            "SOPS decryption is not supported; keep Secrets out of Git or use a secrets operator",
	"Kustomization.spec.kubeConfig":            "a configuration applies to the cluster of the Reconciler's rest.Config",
	"Kustomization.spec.healthChecks":          "use wait: true, or healthCheckExprs for custom resources",
	"Kustomization.spec.deletionPolicy":        "objects are pruned by the unit's prune setting",
	"Kustomization.spec.patchesStrategicMerge": "removed in kustomize.toolkit.fluxcd.io/v1; use patches",
	"Kustomization.spec.patchesJson6902":       "removed in kustomize.toolkit.fluxcd.io/v1; use patches",
	"Kustomization.spec.validation":            "removed in kustomize.toolkit.fluxcd.io/v1; objects are always validated by server-side apply",
}

// fieldProblem is a field checkFields refused: its path and why.
type fieldProblem struct {
	path string
	err  error
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkFields compares v, a document decoded by encoding/json into any,
// with the Go type t that will receive it. It returns the first field (in
// key order) that t does not have, that Flux has but gitopskit does not
// support (unless its value is empty, which in Flux means the same as
// leaving it out), or whose JSON type does not fit. kind names the object
// for the hints.
func checkFields(kind string, v any, t reflect.Type, path string) *fieldProblem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t == rawMessageType {
		return nil // null is the same as absent; raw values are checked later
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return typeProblem(path, "an object", v)
		}
		fields := map[string]reflect.StructField{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			p := joinPath(path, k)
			f, ok := fields[k]
			switch {
			case !ok:
				return &fieldProblem{p, fmt.Errorf("%w (Flux's %s has no such field)", ErrUnsupportedField, kind)}
			case f.Tag.Get("flux") == "unsupported":
				if isEmptyJSON(m[k]) {
					continue
				}
				msg := "a Flux field gitopskit does not support"
				if h := unsupportedHints[kind+"."+p]; h != "" {
					msg += "; " + h
				}
				return &fieldProblem{p, fmt.Errorf("%w (%s)", ErrUnsupportedField, msg)}
			}
			if pr := checkFields(kind, m[k], f.Type, p); pr != nil {
				return pr
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return typeProblem(path, "an object", v)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if pr := checkFields(kind, m[k], t.Elem(), joinPath(path, k)); pr != nil {
				return pr
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return typeProblem(path, "a list", v)
		}
		for i, e := range s {
			if pr := checkFields(kind, e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); pr != nil {
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
