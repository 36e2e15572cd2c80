package build

// Limits bound what one build may read. Zero fields take the defaults of
// [DefaultLimits].
type Limits struct {
	// MaxFileSize is the largest file a build reads. Larger files are refused
	// with a [*TooLargeError] from their size, before any byte is read.
	MaxFileSize int64
	// MaxTotalSize is the most bytes one build reads from all files together.
	MaxTotalSize int64
	// MaxObjects is the most objects one build may produce. Kustomize's
	// cost grows faster than linearly with the number of objects, so a
	// kustomize build also counts the objects of the files it reads, as
	// kustomize will see them (every document, List items expanded), and
	// stops before kustomize transforms them once the count is over the
	// limit; the output is counted exactly in any case. Over the limit: a
	// [*TooManyObjectsError].
	MaxObjects int
}

// DefaultLimits returns the limits used for zero fields: 16 MiB per file
// (the largest CRD bundles are a few MiB), 256 MiB per build and 10,000
// objects per build.
func DefaultLimits() Limits {
	return Limits{MaxFileSize: 16 << 20, MaxTotalSize: 256 << 20, MaxObjects: 10000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = d.MaxObjects
	}
	return l
}

// KustomizeOptions are the per-unit settings of a [Kustomize] build. The zero
// value builds the path as it is.
//
// TargetNamespace through Components are applied the way Flux applies them:
// by a generated kustomization that has the unit's path as its only resource,
// so the artifact is never changed.
type KustomizeOptions struct {
	// TargetNamespace sets the namespace of every namespaced object
	// (kustomize's namespace field).
	TargetNamespace string
	// NamePrefix and NameSuffix are added to every object's name, and to
	// references to those names (kustomize's namePrefix and nameSuffix).
	NamePrefix, NameSuffix string
	// CommonLabels are set on every object's metadata.labels. Unlike
	// kustomize's deprecated commonLabels they are not added to selectors or
	// pod templates, because selectors are immutable and changing them would
	// make the next apply fail (this is Flux's commonMetadata).
	CommonLabels map[string]string
	// CommonAnnotations are set on every object (kustomize's
	// commonAnnotations, which includes pod templates).
	CommonAnnotations map[string]string
	// Images override container images (kustomize's images).
	Images []Image
	// Patches are strategic merge or JSON 6902 patches, told apart by their
	// content (kustomize's patches).
	Patches []Patch
	// Components are paths of kustomize components, relative to the unit's
	// path, applied after its resources. They must stay inside the artifact.
	Components []string

	// Substitute holds the values of ${var} variables replaced after the
	// build; see the package documentation. Nil disables substitution.
	Substitute map[string]string
	// StrictSubstitute makes a variable with no value and no default an
	// error ([*SubstitutionError]) instead of the empty string.
	StrictSubstitute bool

	// AllowRemoteBases stops refusing remote references (URLs, git@host:path,
	// github.com/...) in kustomizations: kustomize then fetches remote files
	// itself over HTTP(S) and clones Git bases with the git command into a
	// temporary directory, which the build reads confined to that clone (a
	// symlink or ".." leading out of it is refused as in the artifact) and
	// removes afterwards. Those fetches are bounded only by the build's
	// context (see the package documentation). Remote content is not part
	// of the artifact digest, so such builds bypass the Cache. By default
	// remote references are refused with a [*RemoteBaseError] and the build
	// makes no network request.
	AllowRemoteBases bool

	// Limits bound the bytes read; zero fields take [DefaultLimits].
	Limits Limits

	// Cache, when not nil and ArtifactDigest is not empty, is consulted
	// before building and filled after a successful build (not with
	// AllowRemoteBases).
	Cache *Cache
	// ArtifactDigest identifies the content of the artifact directory (for
	// example source.Artifact's digest). It is the caller's promise that two
	// builds with the same digest read the same files: the cache does not
	// look at the files.
	ArtifactDigest string
}

// Image is an image override: containers whose image name is Name get
// NewName (if set) and NewTag or Digest (if set).
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Patch is an inline strategic merge patch (a partial object in YAML) or JSON
// 6902 patch (a YAML or JSON list of operations), applied to the objects
// Target selects, or for a strategic merge patch without Target, to the
// object it names.
type Patch struct {
	Patch  string    `json:"patch"`
	Target *Selector `json:"target,omitempty"`
}

// Selector selects objects for a [Patch]. Empty fields match anything; Name
// and Namespace are regular expressions anchored at both ends.
type Selector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	Name               string `json:"name,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}
