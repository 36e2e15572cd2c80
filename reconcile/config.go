package reconcile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/source"
)

// Configuration is what one team reconciles: Git sources and the units built
// from them. It is the equivalent of a set of Flux GitRepository and
// Kustomization objects.
type Configuration struct {
	// Name identifies the configuration; it prefixes the names of its
	// records. Required.
	Name string
	// Namespace holds the configuration's records: the units' inventories
	// (pages of an inventory.Ledger) and the status record.
	// It is created if missing. Default "gitopskit-system".
	Namespace string
	// Sources are the Git repositories and OCI artifacts the units build
	// from.
	Sources []Source
	// Units are reconciled in dependency order.
	Units []Unit
	// Tenancy, when set, restricts what the units may change; see [Tenancy].
	Tenancy *Tenancy

	// flux is the loader of a configuration from [LoadFlux]: the engine
	// feeds it the Flux objects found in builds.
	flux *fluxLoader
}

// Source is a Git repository at a reference, or an artifact in an OCI
// repository (what Flux's GitRepository and OCIRepository fetch).
type Source struct {
	// Name is how units refer to the source. Required.
	Name string
	// URL is https://, http://, ssh://, scp-like git@host:path or file://
	// for a Git repository, or oci://host/repository for an OCI artifact
	// (see OCI).
	URL string
	// Ref selects the revision of a Git repository (branch, tag, semver
	// range, commit or name); it must be zero for an oci:// URL.
	Ref source.Ref
	// OCI selects the artifact of an oci:// URL and its layer; nil is the
	// tag "latest", its first layer, over HTTPS. It must be nil for Git.
	OCI *OCIArtifact
	// Auth holds credentials; nil means anonymous. For an OCI registry:
	// Username and Password, or BearerToken, and CABundle.
	Auth *source.Auth
	// Ignore holds extra ignore patterns (gitignore syntax).
	Ignore []string
	// Verify, when set, requires a valid commit or tag signature (Git
	// only).
	Verify *source.Verification
	// Timeout bounds each fetch (the remote check and, when it moved, the
	// download). Default 60 seconds, as Flux's.
	Timeout time.Duration
	// Limits bound the bytes received and the bytes and files written for
	// each revision; zero fields take [source.DefaultLimits]. Over them the
	// fetch fails with a [*source.TooLargeError] and the units of the
	// source keep what they applied.
	Limits source.Limits
}

// OCIArtifact selects the artifact of a [Source] whose URL is oci://, as
// the ref, layerSelector and insecure fields of Flux's OCIRepository do.
// The artifact is fetched with [source.FetchOCI].
type OCIArtifact struct {
	// Ref selects a tag, a semver range over tags or a digest; the zero
	// Ref is the tag "latest".
	Ref source.OCIRef
	// MediaType selects the layer to extract, a gzip-compressed tar (for
	// artifacts of `flux push artifact`, [source.FluxArtifactMediaType]).
	// Empty: the first layer.
	MediaType string
	// PlainHTTP talks to the registry over http:// instead of https://.
	PlainHTTP bool
}

// isOCI reports whether the source is an OCI artifact.
func (s Source) isOCI() bool { return strings.HasPrefix(s.URL, "oci://") }

// validate checks what can be checked without fetching.
func (s Source) validate() error {
	if s.Name == "" || s.URL == "" {
		return errors.New("name and url are required")
	}
	if !s.isOCI() {
		if s.OCI != nil {
			return errors.New("OCI is set, but the URL is not oci://")
		}
		return s.Ref.Validate()
	}
	switch {
	case s.Ref != (source.Ref{}):
		return fmt.Errorf("an oci:// source takes its reference in OCI.Ref, not Ref (%s)", s.Ref)
	case s.Verify != nil:
		return errors.New("verify checks Git commit and tag signatures; an OCI artifact's signatures are not verified")
	case s.OCI != nil:
		return s.OCI.Ref.Validate()
	}
	return nil
}

// DeletionPolicy says what becomes of a unit's objects when the unit
// leaves the configuration, or its parent stops declaring it and prunes
// (a parent that does not prune orphans its children, as Flux leaves the
// child Kustomization in the cluster). A Helm unit's release is
// uninstalled when its objects are deleted.
type DeletionPolicy string

const (
	// DeletionMirrorPrune deletes the objects when the unit prunes and
	// orphans them otherwise (the default, as in Flux).
	DeletionMirrorPrune DeletionPolicy = "MirrorPrune"
	// DeletionDelete deletes the objects, whether the unit prunes or not.
	DeletionDelete DeletionPolicy = "Delete"
	// DeletionWaitForTermination deletes the objects and waits, within
	// the unit's Timeout (default 5 minutes), until they are gone (their
	// finalizers done): the removal fails, with the objects still there
	// named, when they are not.
	DeletionWaitForTermination DeletionPolicy = "WaitForTermination"
	// DeletionOrphan leaves the objects, without gitopskit's labels.
	DeletionOrphan DeletionPolicy = "Orphan"
)

// validate says whether p is one of the policies ("" is the default).
func (p DeletionPolicy) validate() error {
	switch p {
	case "", DeletionMirrorPrune, DeletionDelete, DeletionWaitForTermination, DeletionOrphan:
		return nil
	}
	return fmt.Errorf("%q: want MirrorPrune, Delete, WaitForTermination or Orphan", string(p))
}

// deletes says whether a unit with this policy deletes its objects when
// it is removed.
func (p DeletionPolicy) deletes(prune bool) bool {
	switch p {
	case DeletionDelete, DeletionWaitForTermination:
		return true
	case DeletionOrphan:
		return false
	}
	return prune
}

// ObjectRef names an object: apiVersion ("v1", "apps/v1"), kind,
// namespace (empty for a cluster-scoped kind) and name.
type ObjectRef struct {
	APIVersion, Kind, Namespace, Name string
}

// fluxObject returns the ref's [Unit.FluxObject] form, "Kind
// namespace/name", when it names a Kustomization or HelmRelease.
func (o ObjectRef) fluxObject() (string, bool) {
	group, _, _ := strings.Cut(o.APIVersion, "/")
	if (o.Kind == "Kustomization" && group == fluxKustomizeGroup) || (o.Kind == "HelmRelease" && group == fluxHelmGroup) {
		return o.Kind + " " + o.Namespace + "/" + o.Name, true
	}
	return "", false
}

// Unit is one path of a source, built, applied, pruned and checked as a
// whole: the equivalent of a Flux Kustomization.
type Unit struct {
	// Name identifies the unit in the configuration. Required; a DNS label.
	Name string
	// Source names one of the configuration's sources. It may be left
	// empty when there is exactly one.
	Source string
	// Path is the directory in the source to build ("" or "." for the root).
	Path string
	// Compose, when set, builds the unit (Path, or a Helm unit's chart
	// path) in a tree made of the source's files by these copy operations,
	// in order ([source.Compose]), the way Flux's ArtifactGenerator makes an
	// ExternalArtifact out of a repository; the tree is made once per
	// source revision. Empty: the source's tree as fetched.
	Compose []source.Copy
	// Build are kustomize options: target namespace, name prefix, patches,
	// images, substitution and so on.
	Build build.KustomizeOptions
	// DependsOn names units that must be Ready (at the same revision, when
	// they share the source) before this one is applied.
	DependsOn []string
	// Prune deletes objects that left Git.
	Prune bool
	// DeletionPolicy says what becomes of the unit's objects when the unit
	// leaves the configuration (Flux's spec.deletionPolicy). Default
	// [DeletionMirrorPrune].
	DeletionPolicy DeletionPolicy
	// AllowEmpty lets a build with no objects prune everything the unit
	// applied before. Without it such a build is refused: a commit that
	// deletes a unit's files by accident must not wipe its objects.
	AllowEmpty bool
	// MaxPruneShare, between 0 and 1, refuses a prune that would delete
	// more than this share of the unit's objects in one reconcile (the
	// unit is NotReady with [ReasonPruneFailed] until the change is
	// reviewed). 0 means no limit.
	MaxPruneShare float64
	// Wait waits for every applied object to be healthy before the unit is
	// Ready. Without it a unit is Ready once applied.
	Wait bool
	// Timeout bounds each stage of the unit on its own, from when the stage
	// starts: the build with its admission, the apply, the prune and the
	// wait (for a Helm unit, its Helm actions), as Flux's spec.timeout
	// bounds each operation. A stage starts when a worker picks the unit
	// up, so time queued behind other units does not count. The fetch is
	// bounded by [Source.Timeout]. Default 5 minutes.
	Timeout time.Duration
	// Interval is how often [Reconciler.Start] reconciles the unit (and
	// puts drift back). Default 5 minutes.
	Interval time.Duration
	// RetryInterval is how soon a failed unit is retried. Default Interval.
	RetryInterval time.Duration
	// Suspend leaves the unit alone.
	Suspend bool
	// Force deletes and recreates objects whose immutable fields changed.
	// Fields another field manager took (drift) are always taken back, and
	// the change names them.
	Force bool
	// Policy says which existing objects the unit may take over.
	// Default [apply.AdoptIfNoInventory].
	Policy apply.Policy
	// ServiceAccountName, when set, makes the unit apply and prune as that
	// service account of the configuration's namespace (impersonation), so
	// RBAC limits what it can do. Overrides [Tenancy.ServiceAccountName].
	ServiceAccountName string
	// ServiceAccountNamespace is the namespace of ServiceAccountName.
	// Default the configuration's namespace. [LoadFlux] sets it to the
	// namespace of the Flux object, as Flux impersonates the account of
	// the object's own namespace.
	ServiceAccountNamespace string
	// HealthChecks are CEL checks for custom resources.
	HealthChecks []health.CELCheck
	// HealthCheckRefs, for a unit that does not Wait, are objects to wait
	// for after apply, as Flux's spec.healthChecks (ignored with Wait, as
	// in Flux): an object of the cluster, whether this unit applied it or
	// not, must be healthy within Timeout, read with the unit's identity.
	// A HelmRelease or Kustomization that is a unit of the configuration
	// ([Unit.FluxObject]) is not read from the cluster: the units that
	// depend on this one wait for that unit to be Ready too, as they wait
	// for what a unit that waits declares.
	HealthCheckRefs []ObjectRef
	// Decryption, when set, decrypts the SOPS-encrypted objects of the
	// build before anything else sees them; without it an encrypted
	// object fails the build ([ErrEncryptedObject]).
	Decryption *Decryption
	// Ignore rules leave fields that other controllers manage alone.
	Ignore []apply.IgnoreRule
	// SubstituteFrom are ConfigMaps and Secrets whose data are variables
	// for post-build substitution (Build.Substitute), read each time the
	// unit builds, so that one an earlier unit creates counts. Later
	// entries win over earlier ones, and Build.Substitute over all, as in
	// Flux's spec.postBuild. A missing object is a build failure unless
	// Optional.
	SubstituteFrom []SubstituteRef
	// ValuesFrom are ConfigMaps and Secrets of values for a Helm unit,
	// read each time the unit runs (as gitopskit's identity, in the
	// namespace each names), so that one an earlier unit creates counts.
	// They are merged after Helm.ValuesFrom, in order, and Helm.Values
	// over all, as Flux's spec.valuesFrom and spec.values. A missing
	// object or key is a failure of the unit unless Optional.
	ValuesFrom []ValuesRef

	// FluxObject is "Kind namespace/name" of the Flux object the unit
	// comes from, if any.
	FluxObject string

	// Helm, when set, makes the unit a Helm release managed by package
	// helmrelease instead of a kustomize build: installed, upgraded,
	// remediated and uninstalled by Helm, with the same dependsOn, suspend
	// and compliance as other units. A chart from a repository or registry
	// needs no Source; Helm.Chart.Path is taken inside the unit's source
	// (it may not leave it). Build, Prune, Force, Policy, Ignore and
	// HealthChecks do not apply to a Helm unit; Wait and Timeout map to the
	// release's wait and timeout unless it sets its own.
	Helm *helmrelease.Release
}

// SubstituteRef names a ConfigMap or Secret of post-build variables.
type SubstituteRef struct {
	// Kind is "ConfigMap" or "Secret".
	Kind string
	// Namespace of the object; empty for the configuration's.
	Namespace string
	Name      string
	// Optional makes a missing object the same as an empty one.
	Optional bool
}

// ValuesRef names a ConfigMap or Secret of Helm values
// ([Unit.ValuesFrom]).
type ValuesRef struct {
	// Kind is "ConfigMap" or "Secret".
	Kind string
	// Namespace of the object; empty for the configuration's.
	Namespace string
	Name      string
	// ValuesKey is the data key to read. Default
	// [helmrelease.DefaultValuesKey].
	ValuesKey string
	// TargetPath, if set, places the key's content, a single value, at
	// this path of the values instead of merging it as a YAML document
	// (see [helmrelease.ValuesFrom]).
	TargetPath string
	// Optional makes a missing object or key the same as an empty one.
	Optional bool
}

// Tenancy restricts a configuration to its team's part of the cluster.
type Tenancy struct {
	// Namespaces the units may write to. Objects in other namespaces are
	// refused before anything is applied.
	Namespaces []string
	// AllowClusterScoped lets units apply cluster-scoped objects
	// (Namespaces, CRDs, ClusterRoles...). Off by default for tenants.
	AllowClusterScoped bool
	// ServiceAccountName is impersonated by every unit that does not name
	// its own; see [Unit.ServiceAccountName].
	ServiceAccountName string
}

// Defaults.
const (
	DefaultNamespace = "gitopskit-system"
	DefaultTimeout   = 5 * time.Minute
	DefaultInterval  = 5 * time.Minute
	// DefaultFetchTimeout bounds a fetch when [Source.Timeout] is zero.
	DefaultFetchTimeout = 60 * time.Second
)

// ErrInvalidConfiguration matches every error [New] returns for a
// configuration that cannot be reconciled.
var ErrInvalidConfiguration = errors.New("invalid configuration")

// ConfigError says what is wrong with a configuration. It wraps
// [ErrInvalidConfiguration] and, for dependency problems, the depgraph error
// (errors.As finds *depgraph.CycleError[string] and
// *depgraph.MissingDependencyError[string]).
type ConfigError struct {
	Configuration string
	Err           error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("reconcile: configuration %q: %v", e.Configuration, e.Err)
}

// Unwrap returns the cause and ErrInvalidConfiguration.
func (e *ConfigError) Unwrap() []error { return []error{ErrInvalidConfiguration, e.Err} }

// normalize fills defaults, validates the configuration and returns its
// dependency levels.
func (c *Configuration) normalize() ([][]string, error) {
	fail := func(err error) ([][]string, error) { return nil, &ConfigError{Configuration: c.Name, Err: err} }
	if msgs := validation.IsDNS1123Subdomain(c.Name); c.Name == "" || len(msgs) > 0 {
		return fail(fmt.Errorf("name %q: must be a DNS subdomain", c.Name))
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if msgs := validation.IsDNS1123Label(c.Namespace); len(msgs) > 0 {
		return fail(fmt.Errorf("namespace %q: %v", c.Namespace, msgs))
	}
	if len(c.Units) == 0 {
		return fail(errors.New("no units"))
	}
	sources := map[string]bool{}
	for _, s := range c.Sources {
		if err := s.validate(); err != nil {
			return fail(fmt.Errorf("source %q: %w", s.Name, err))
		}
		if sources[s.Name] {
			return fail(fmt.Errorf("source %q defined twice", s.Name))
		}
		sources[s.Name] = true
	}
	g := depgraph.New[string]()
	for i := range c.Units {
		u := &c.Units[i]
		if msgs := validation.IsDNS1123Label(u.Name); len(msgs) > 0 {
			return fail(fmt.Errorf("unit %q: name must be a DNS label: %v", u.Name, msgs))
		}
		if g.Has(u.Name) {
			return fail(fmt.Errorf("unit %q defined twice", u.Name))
		}
		if err := u.DeletionPolicy.validate(); err != nil {
			return fail(fmt.Errorf("unit %q: deletion policy %w", u.Name, err))
		}
		if u.Decryption != nil && u.Decryption.Name == "" {
			return fail(fmt.Errorf("unit %q: decryption: the Secret's name is required", u.Name))
		}
		for _, ref := range u.HealthCheckRefs {
			if ref.APIVersion == "" || ref.Kind == "" || ref.Name == "" {
				return fail(fmt.Errorf("unit %q: health check %+v: apiVersion, kind and name are required", u.Name, ref))
			}
		}
		helmFromRepo := u.Helm != nil && u.Helm.Chart.RepoURL != ""
		if u.Source == "" && len(c.Sources) == 1 && !helmFromRepo {
			u.Source = c.Sources[0].Name
		}
		if u.Helm != nil && u.Helm.Chart.RepoURL == "" && u.Helm.Chart.Path == "" {
			return fail(fmt.Errorf("unit %q: a Helm unit needs a chart repository or a chart path in its source", u.Name))
		}
		if len(u.ValuesFrom) > 0 && u.Helm == nil {
			return fail(fmt.Errorf("unit %q: valuesFrom is for Helm units", u.Name))
		}
		for i, v := range u.ValuesFrom {
			if (v.Kind != "ConfigMap" && v.Kind != "Secret") || v.Name == "" {
				return fail(fmt.Errorf("unit %q: valuesFrom[%d]: want kind ConfigMap or Secret and a name, got %q %q", u.Name, i, v.Kind, v.Name))
			}
		}
		if !(helmFromRepo && u.Source == "") && !sources[u.Source] {
			return fail(fmt.Errorf("unit %q: unknown source %q", u.Name, u.Source))
		}
		if len(u.Compose) > 0 && helmFromRepo {
			return fail(fmt.Errorf("unit %q: compose is for units built from a Git source, not a chart repository", u.Name))
		}
		for i, op := range u.Compose {
			if op.From == "" {
				return fail(fmt.Errorf("unit %q: compose[%d]: from is required", u.Name, i))
			}
		}
		if u.Timeout <= 0 {
			u.Timeout = DefaultTimeout
		}
		if u.Interval <= 0 {
			u.Interval = DefaultInterval
		}
		if u.RetryInterval <= 0 {
			u.RetryInterval = u.Interval
		}
		if u.ServiceAccountName == "" && c.Tenancy != nil {
			u.ServiceAccountName = c.Tenancy.ServiceAccountName
		}
		if u.ServiceAccountName != "" && u.ServiceAccountNamespace == "" {
			u.ServiceAccountNamespace = c.Namespace
		}
		g.Add(u.Name, u.DependsOn...)
	}
	levels, err := g.Levels()
	if err != nil {
		return fail(err)
	}
	return levels, nil
}
