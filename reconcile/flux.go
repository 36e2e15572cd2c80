package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// FluxOptions configure [LoadFlux].
type FluxOptions struct {
	// Name of the configuration. Default: its namespace.
	Name string
	// Namespace of the objects that have no metadata.namespace, as
	// `kubectl apply -n` would give them. Default [DefaultNamespace].
	Namespace string
	// SecretData returns the data of the Secret namespace/name, for
	// GitRepository spec.secretRef and spec.verify.secretRef and for
	// Kustomization spec.postBuild.substituteFrom. A Secret that does not
	// exist is an error wrapping [ErrNotFound] or a Kubernetes NotFound API
	// error (so a client-go Get can be returned as it is). Nil: objects
	// that refer to a Secret are refused.
	SecretData func(ctx context.Context, namespace, name string) (map[string][]byte, error)
	// ConfigMapData returns the data of the ConfigMap namespace/name, for
	// spec.postBuild.substituteFrom, with the same not-found convention as
	// SecretData. Nil: objects that refer to a ConfigMap are refused.
	ConfigMapData func(ctx context.Context, namespace, name string) (map[string]string, error)
}

// ErrUnsupportedField matches a [*FluxError] about a field [LoadFlux] does
// not read: one Flux does not have (a typo) or one gitopskit does not
// support. Such fields are never ignored.
var ErrUnsupportedField = errors.New("unsupported field")

// ErrNotFound is what a [FluxOptions] callback wraps when the Secret or
// ConfigMap does not exist.
var ErrNotFound = errors.New("not found")

// FluxError says where a Flux-format configuration is wrong: the document,
// the object and the field. It wraps [ErrInvalidConfiguration] and the
// cause ([ErrUnsupportedField] for fields LoadFlux does not read), except
// when a [FluxOptions] callback failed for another reason than a missing
// object (an unreachable cluster, say): that is not the configuration's
// fault and may succeed later.
type FluxError struct {
	// Document is the position of the document in the stream, from 1,
	// not counting empty documents; Line is its first line. Both are 0 for
	// an error about the whole stream.
	Document, Line int
	// Kind, Namespace and Name identify the object, as far as known.
	Kind, Namespace, Name string
	// Field is the path of the field, such as "spec.postBuild.substitute"
	// or "spec.patches[1].target"; empty when the error is about the
	// object or the stream.
	Field string
	Err   error

	lookup bool // a callback failed
}

func (e *FluxError) Error() string {
	var b strings.Builder
	b.WriteString("flux configuration")
	if e.Document > 0 {
		fmt.Fprintf(&b, ": document %d (line %d", e.Document, e.Line)
		if e.Kind != "" {
			fmt.Fprintf(&b, ", %s", e.Kind)
			if e.Name != "" {
				fmt.Fprintf(&b, " %s/%s", e.Namespace, e.Name)
			}
		}
		b.WriteString(")")
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the cause and, unless a callback failed for another
// reason than not found, ErrInvalidConfiguration.
func (e *FluxError) Unwrap() []error {
	if e.lookup && !isNotFound(e.Err) {
		return []error{e.Err}
	}
	return []error{ErrInvalidConfiguration, e.Err}
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) || apierrors.IsNotFound(err) }

// LoadFlux reads a configuration from a stream of YAML documents holding
// Flux's own GitRepository (source.toolkit.fluxcd.io/v1) and Kustomization
// (kustomize.toolkit.fluxcd.io/v1) objects, as found in a Flux repository
// (such as flux-system/gotk-sync.yaml). Each GitRepository becomes a
// [Source], each Kustomization a [Unit], in stream order. All objects must
// be in one namespace: it becomes [Configuration.Namespace], where the
// records are kept and whose service accounts units impersonate; the
// configuration's name is [FluxOptions.Name] or else the namespace.
//
// Secrets and ConfigMaps the objects refer to are read through the
// [FluxOptions] callbacks while loading, once each: the result holds their
// values, not references. Load again to pick up changed values.
//
// LoadFlux is strict: a field it does not read, whether Flux has it or not,
// is a [*FluxError] naming the document, object and field, never ignored. A
// field Flux has but gitopskit does not support is accepted when its value
// is empty (null, false, "", [] or {}), which in Flux means the same as
// leaving it out. Durations are Go durations as in Flux ("90s", "1h30m").
// Metadata other than name and namespace, and status, are ignored. LoadFlux
// does not check dependency cycles: [New] does.
//
// # GitRepository fields
//
//   - spec.url: [Source.URL]. Required.
//   - spec.ref.branch, .tag, .semver, .name, .commit: [Source.Ref], with
//     Flux's precedence (commit, name, semver, tag, branch). Without
//     spec.ref, branch "master", as in Flux.
//   - spec.secretRef.name: [Source.Auth], from the Secret's data with the
//     keys Flux uses ([source.AuthFromSecretData]).
//   - spec.interval: required. Units are checked for new revisions only when
//     they reconcile, so a unit's interval is the smaller of its own and its
//     source's: a new commit is applied as soon as Flux would fetch it.
//   - spec.ignore: [Source.Ignore], one pattern per line. Flux's ignore
//     replaces its default exclusions; gitopskit has none, and adds the
//     patterns to those of the repository's .sourceignore.
//   - spec.verify.mode ("HEAD" or "Tag") and spec.verify.secretRef.name:
//     [Source.Verify], trusting every key in the Secret's data. Mode
//     "TagAndHEAD" is not supported.
//
// Not supported: spec.timeout, suspend, provider, proxySecretRef,
// recurseSubmodules, include, sparseCheckout, serviceAccountName.
//
// # Kustomization fields
//
//   - spec.sourceRef: kind GitRepository (the only kind supported), name
//     and, if given, the same namespace: [Unit.Source].
//   - spec.interval: [Unit.Interval] (see GitRepository spec.interval).
//     Required.
//   - spec.retryInterval: [Unit.RetryInterval]. Default the unit's interval.
//   - spec.timeout: [Unit.Timeout]. Default spec.interval, as in Flux.
//   - spec.path: [Unit.Path]. Default the repository root; it may not
//     leave it.
//   - spec.prune, spec.wait, spec.force, spec.suspend: [Unit.Prune],
//     [Unit.Wait], [Unit.Force], [Unit.Suspend].
//   - spec.dependsOn[].name: [Unit.DependsOn]; a namespace, if given, must
//     be the configuration's, and the dependency must be in the stream.
//   - spec.serviceAccountName: [Unit.ServiceAccountName].
//   - spec.targetNamespace, namePrefix, nameSuffix, components, patches
//     (patch and target), images (name, newName, newTag, digest):
//     the fields of the same name in [Unit.Build].
//   - spec.commonMetadata.labels and .annotations:
//     [build.KustomizeOptions] CommonLabels and CommonAnnotations (the
//     annotations also reach pod templates, unlike in Flux).
//   - spec.postBuild.substitute and .substituteFrom (kind ConfigMap or
//     Secret, name, optional): [build.KustomizeOptions] Substitute. As in
//     Flux, the ConfigMaps and Secrets are merged in order, later ones
//     winning, then spec.postBuild.substitute wins over all; newlines are
//     removed from values; variable names must match
//     ^[_[:alpha:]][_[:alpha:][:digit:]]*$; a missing object is an error
//     unless optional; and nothing is substituted when there are no
//     variables at all.
//   - spec.healthCheckExprs (apiVersion, kind, current, inProgress,
//     failed): [Unit.HealthChecks].
//
// Not supported: spec.decryption, kubeConfig, healthChecks (use wait or
// healthCheckExprs), deletionPolicy, ignoreMissingComponents,
// dependsOn[].readyExpr, and the fields v1 removed (patchesStrategicMerge,
// patchesJson6902, validation).
func LoadFlux(ctx context.Context, data []byte, opts FluxOptions) (Configuration, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	l := &fluxLoader{opts: opts, secrets: map[string]lookupResult[map[string][]byte]{},
		configMaps: map[string]lookupResult[map[string]string]{}}
	if err := l.parse(data); err != nil {
		return Configuration{}, err
	}
	conf := Configuration{Name: opts.Name, Namespace: l.namespace}
	if conf.Name == "" {
		conf.Name = l.namespace
	}
	for _, d := range l.repos {
		s, err := l.source(ctx, d)
		if err != nil {
			return Configuration{}, err
		}
		conf.Sources = append(conf.Sources, s)
	}
	for _, d := range l.kusts {
		u, err := l.unit(ctx, d)
		if err != nil {
			return Configuration{}, err
		}
		conf.Units = append(conf.Units, u)
	}
	return conf, nil
}
