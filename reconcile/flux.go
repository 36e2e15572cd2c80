package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FluxOptions configure [LoadFlux].
type FluxOptions struct {
	// Name of the configuration. Default: its namespace.
	Name string
	// Namespace of the objects that have no metadata.namespace, as
	// `kubectl apply -n` would give them. Default [DefaultNamespace].
	Namespace string
	// SecretData returns the data of the Secret namespace/name, for
	// GitRepository spec.secretRef and spec.verify.secretRef and for Helm
	// repository credentials (a Kustomization's substituteFrom and a
	// HelmRelease's valuesFrom are read when the unit runs, from the
	// cluster, as gitopskit's identity). A Secret that does not
	// exist is an error wrapping [ErrNotFound] or a Kubernetes NotFound API
	// error (so a client-go Get can be returned as it is). Nil: objects
	// that refer to a Secret are refused.
	SecretData func(ctx context.Context, namespace, name string) (map[string][]byte, error)

	// NoCrossNamespaceRefs refuses, as Flux's --no-cross-namespace-refs
	// does, an object that refers to another namespace: a sourceRef,
	// chartRef, chart.spec.sourceRef, dependsOn or ArtifactGenerator
	// source naming another namespace than the object's own is an error
	// matching [ErrCrossNamespaceRef]. For platforms whose tenants must
	// not use each other's sources.
	NoCrossNamespaceRefs bool
	// DefaultServiceAccount is the service account, in the object's own
	// namespace, of the Kustomizations and HelmReleases that name none, as
	// Flux's --default-service-account: with it, no tenant's unit acts as
	// gitopskit's own identity.
	DefaultServiceAccount string
}

// ErrUnsupportedField matches a [*FluxError] about a field [LoadFlux] does
// not read: one Flux does not have (a typo) or one gitopskit does not
// support. Such fields are never ignored.
var ErrUnsupportedField = errors.New("unsupported field")

// ErrCrossNamespaceRef matches a [*FluxError] about a reference to another
// namespace under [FluxOptions.NoCrossNamespaceRefs].
var ErrCrossNamespaceRef = errors.New("cross-namespace reference")

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
	// an error about the whole stream. For objects found in a unit's
	// build, Document is the position in the list of Flux objects and
	// Line is 0.
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
		var in []string
		if e.Line > 0 {
			in = append(in, fmt.Sprintf("line %d", e.Line))
		}
		if e.Kind != "" {
			k := e.Kind
			if e.Name != "" {
				k += fmt.Sprintf(" %s/%s", e.Namespace, e.Name)
			}
			in = append(in, k)
		}
		fmt.Fprintf(&b, ": document %d", e.Document)
		if len(in) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(in, ", "))
		}
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
// Flux objects, as found in a Flux repository (such as
// clusters/production/flux-system/gotk-sync.yaml, or a tenant's folder):
//
//   - GitRepository (source.toolkit.fluxcd.io v1, v1beta2, v1beta1): a
//     [Source];
//   - Kustomization (kustomize.toolkit.fluxcd.io v1, v1beta2, v1beta1): a
//     [Unit];
//   - HelmRelease (helm.toolkit.fluxcd.io v2, v2beta2, v2beta1): a Unit with
//     [Unit.Helm] set;
//   - OCIRepository (v1, v1beta2): a Source with [Source.OCI] (an
//     artifact as `flux push artifact` writes it: ref tag, semver with
//     semverFilter, or digest; layerSelector, whose extract and copy both
//     give the layer's files; insecure; ignore; secretRef with username
//     and password or a .dockerconfigjson), for the Kustomizations whose
//     sourceRef it is; and the chart of the HelmReleases whose chartRef it
//     is (tag or semver; its layer the Helm chart's);
//   - HelmRepository (v1, v1beta2, v1beta1, default or type oci) and
//     HelmChart (v1, v1beta2, v1beta1): the chart location of the Helm
//     units that use them;
//   - ArtifactGenerator (source.extensions.fluxcd.io/v1beta1, decoded
//     with Flux's source-watcher API module): the ExternalArtifacts it
//     generates, for the Kustomizations (sourceRef) and HelmReleases
//     (chartRef) that use them. Each artifact's copies must read one
//     GitRepository; revision and originRevision must name an alias (the
//     unit's revision is the repository's either way); commonMetadata is
//     accepted (no ExternalArtifact object is made to carry it); the Merge
//     and Extract strategies and pathPattern are refused. ExternalArtifact
//     (source.toolkit.fluxcd.io/v1) objects are read and checked, but one
//     that no ArtifactGenerator of the configuration generates cannot be
//     a source.
//
// Each API version is decoded with the Go types of Flux's own API modules
// and checked against them; older versions are then converted to the
// newest (see fluxConvert in flux_versions.go for what differs). Units and
// sources follow stream order.
//
// # Namespaces and names
//
// The objects may be in any number of namespaces (a platform and its
// tenants). The namespace of the first object holds the configuration's
// records ([Configuration.Namespace]); the configuration's name is
// [FluxOptions.Name] or else that namespace. A Flux object is identified by
// kind, namespace and name; the unit or source it becomes is named:
//
//   - "<name>" for an object in the configuration's namespace;
//   - "<namespace>-<name>" for an object in another namespace; when that is
//     longer than a DNS label, its first 54 characters, "-" and the first 8
//     hex digits of the SHA-256 of "<namespace>/<name>".
//
// A unit's name depends only on its own object, so adding an object never
// renames another unit (a rename would remove the old unit and its
// objects). A Kustomization's and a HelmRelease's name in the
// configuration's namespace must be DNS labels; two objects whose unit or
// source names are the same (Kustomization "a-b" in the configuration's
// namespace and Kustomization "b" in namespace "a", or a Kustomization and a
// HelmRelease of the same name and namespace) are an error naming both.
// References (sourceRef, chartRef, dependsOn, ArtifactGenerator sources)
// without a namespace are to the object's own namespace; references to
// other namespaces are allowed unless [FluxOptions.NoCrossNamespaceRefs].
// serviceAccountName is the account of the object's own namespace
// ([Unit.ServiceAccountNamespace]), or [FluxOptions.DefaultServiceAccount]
// when it names none.
//
// Secrets the objects refer to for credentials are read, in the object's
// namespace, through [FluxOptions.SecretData] while loading, once each:
// the result holds their values, not references. Load again to pick up
// changed credentials. A Kustomization's substituteFrom and a
// HelmRelease's valuesFrom are different: as in Flux, they are read each
// time the unit runs ([Unit.SubstituteFrom], [Unit.ValuesFrom]), so a
// ConfigMap an earlier unit creates counts.
//
// LoadFlux is strict: a field it does not read, whether Flux has it or not,
// is a [*FluxError] naming the document, object and field, never ignored. A
// field Flux has but gitopskit does not support is accepted when its value
// is empty (null, false, "", [] or {}), which in Flux means the same as
// leaving it out, and for a few fields when the value is what gitopskit
// does anyway (provider "generic", reconcileStrategy "ChartVersion",
// upgrade.remediation.strategy "rollback", persistentClient). Durations are
// Go durations as in Flux ("90s", "1h30m"). Metadata other than name and
// namespace, and status, are ignored. LoadFlux does not check dependency
// cycles: [New] does.
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
//   - spec.timeout: [Source.Timeout].
//   - spec.ignore: [Source.Ignore], one pattern per line. Flux's ignore
//     replaces its default exclusions; gitopskit has none, and adds the
//     patterns to those of the repository's .sourceignore.
//   - spec.verify.mode ("HEAD" or "Tag") and spec.verify.secretRef.name:
//     [Source.Verify], trusting every key in the Secret's data. Mode
//     "TagAndHEAD" is not supported.
//
// Not supported: spec.suspend, provider (other than "generic"),
// proxySecretRef, recurseSubmodules, include, sparseCheckout,
// serviceAccountName, and v1beta1/v1beta2's accessFrom.
//
// # Kustomization fields
//
//   - spec.sourceRef: kind GitRepository, or ExternalArtifact generated by
//     an ArtifactGenerator from one GitRepository; name and namespace:
//     [Unit.Source]. An artifact that copies one directory to its root
//     (from "@alias/dir/**" to "@artifact/") is built where it is (the
//     directory comes before spec.path); any other is composed by its copy
//     operations ([Unit.Compose]: from, to, exclude, strategy Overwrite).
//   - spec.interval: [Unit.Interval] (see GitRepository spec.interval).
//     Required.
//   - spec.retryInterval: [Unit.RetryInterval]. Default the unit's interval.
//   - spec.timeout: [Unit.Timeout]. Default spec.interval, as in Flux.
//   - spec.path: [Unit.Path]. Default the repository root; it may not
//     leave it.
//   - spec.prune, spec.wait, spec.force, spec.suspend: [Unit.Prune],
//     [Unit.Wait], [Unit.Force], [Unit.Suspend].
//   - spec.dependsOn[].name and .namespace: [Unit.DependsOn], the units of
//     the Kustomizations named; they must be loaded already or in the
//     same stream.
//   - spec.serviceAccountName: [Unit.ServiceAccountName].
//   - spec.targetNamespace, namePrefix, nameSuffix, components, patches
//     (patch and target), images (name, newName, newTag, digest):
//     the fields of the same name in [Unit.Build]. v1beta1 and v1beta2
//     patchesStrategicMerge and patchesJson6902 become patches.
//   - spec.commonMetadata.labels and .annotations:
//     [build.KustomizeOptions] CommonLabels and CommonAnnotations (the
//     annotations also reach pod templates, unlike in Flux).
//   - spec.postBuild.substitute and .substituteFrom (kind ConfigMap or
//     Secret, name, optional): [build.KustomizeOptions] Substitute and
//     [Unit.SubstituteFrom], read when the unit builds. As in
//     Flux, the ConfigMaps and Secrets are merged in order, later ones
//     winning, then spec.postBuild.substitute wins over all; newlines are
//     removed from values; variable names must match
//     ^[_[:alpha:]][_[:alpha:][:digit:]]*$; a missing object is an error
//     unless optional; and nothing is substituted when there are no
//     variables at all.
//   - spec.healthChecks (apiVersion, kind, name, namespace: default the
//     object's; apiVersion may be left out for a HelmRelease or a
//     Kustomization): [Unit.HealthCheckRefs], waited for after apply when
//     wait is false (with wait, Flux ignores them too); a HelmRelease or
//     Kustomization among them that is a unit of the configuration is
//     waited for by the units depending on this one instead.
//   - spec.healthCheckExprs (apiVersion, kind, current, inProgress,
//     failed): [Unit.HealthChecks].
//   - spec.decryption (provider sops, secretRef: required):
//     [Unit.Decryption]; objects are decrypted with the age and OpenPGP
//     keys of the Secret (package [sops]): encrypted objects, and the
//     Secrets a secretGenerator makes of encrypted files or dotenv envs;
//     cloud key services are not used.
//   - spec.deletionPolicy: [Unit.DeletionPolicy], what becomes of the
//     objects when the Kustomization leaves the configuration.
//   - spec.ignoreMissingComponents: [build.KustomizeOptions]
//     IgnoreMissingComponents.
//
// Not supported: spec.kubeConfig, ignore,
// buildMetadata, postBuild.substituteStrategy, dependsOn[].readyExpr, a
// sourceRef to a Bucket, and an OCIRepository's verify (cosign and
// notation signatures are not checked, and a source is never used
// unverified), certSecretRef, proxySecretRef and cloud providers.
//
// # HelmRelease fields
//
// The fields are documented in flux_helm.go; in short: the chart comes from
// spec.chart.spec (chart, version, sourceRef to a HelmRepository, HTTP or
// type oci, or a GitRepository whose path spec.chart.spec.chart is) or
// spec.chartRef (an OCIRepository, a HelmChart, or an ExternalArtifact
// of a chart directory in Git); spec.values and
// spec.valuesFrom (read when the unit runs) are the release's values;
// spec.releaseName defaults to Flux's "[targetNamespace-]name"; install,
// upgrade, test and driftDetection options map to [helmrelease.Release];
// dependsOn, serviceAccountName, suspend, interval and timeout are the
// unit's. Fields helmrelease cannot honour are errors.
func LoadFlux(ctx context.Context, data []byte, opts FluxOptions) (Configuration, error) {
	l := newFluxLoader(opts, "")
	conf, err := l.loadYAML(ctx, data)
	if err != nil {
		return Configuration{}, err
	}
	conf.flux = l
	if len(conf.Units) == 0 {
		return Configuration{}, &FluxError{Err: fmt.Errorf("no Kustomization (%s) or HelmRelease (%s) in the stream", FluxKustomizeAPIVersion, FluxHelmAPIVersion)}
	}
	return conf, nil
}

// FluxObjects splits objects, such as a unit's build output, into Flux
// objects (those of the API groups *.toolkit.fluxcd.io and
// source.extensions.fluxcd.io), which are configuration, and the rest,
// which are applied. Both keep their order. Flux kinds gitopskit does not
// read (notification.toolkit.fluxcd.io, image.toolkit.fluxcd.io, Bucket)
// are in flux: loading them is an error naming them.
func FluxObjects(objs []*unstructured.Unstructured) (flux, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		if IsFluxGroup(o.GroupVersionKind().Group) {
			flux = append(flux, o)
		} else {
			rest = append(rest, o)
		}
	}
	return flux, rest
}

// IsFluxGroup reports whether group is one of Flux's API groups:
// *.toolkit.fluxcd.io or source.extensions.fluxcd.io.
func IsFluxGroup(group string) bool {
	return strings.HasSuffix(group, ".toolkit.fluxcd.io") || group == fluxExtensionsGroup
}
