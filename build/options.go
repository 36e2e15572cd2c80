package build

import (
	"time"

	"github.com/gitopskit/gitopskit/source"
)

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
	// IgnoreMissingComponents leaves out the Components that are not in
	// the artifact instead of failing the build (Flux's
	// spec.ignoreMissingComponents).
	IgnoreMissingComponents bool

	// Substitute holds the values of ${var} variables replaced after the
	// build; see the package documentation. Nil disables substitution.
	Substitute map[string]string
	// StrictSubstitute makes a variable with no value and no default an
	// error ([*SubstitutionError]) instead of the empty string.
	StrictSubstitute bool

	// AllowRemoteBases lets kustomizations use remote bases and files: Git
	// bases in kustomize's remote syntax (https://host/org/repo//dir?ref=x,
	// git::..., ssh://..., git@host:org/repo, github.com/org/repo/dir) and
	// HTTP(S) files. gitopskit fetches them itself, within the bounds of
	// Remote, before kustomize reads the kustomization that names them, and
	// kustomize reads the copies through the confined filesystem, within
	// Limits like the artifact's files; kustomize itself never reaches the
	// network (see the package documentation). Remote content is not part
	// of the artifact digest, so such builds bypass the Cache. By default
	// remote references are refused with a [*RemoteBaseError] and the build
	// makes no network request.
	AllowRemoteBases bool
	// Remote bounds the fetches of remote bases and files; zero fields take
	// [DefaultRemoteOptions]. Used only with AllowRemoteBases.
	Remote RemoteOptions

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

// RemoteOptions bound the fetches of a build with
// [KustomizeOptions.AllowRemoteBases]. Zero fields take the defaults of
// [DefaultRemoteOptions]. Going over a bound fails the build with a
// [*RemoteFetchError].
type RemoteOptions struct {
	// Timeout bounds each fetch (a Git clone, an HTTP(S) file), from the
	// first request to the last byte; the build's context bounds them all.
	Timeout time.Duration
	// MaxBytes is the most bytes one fetch may bring: the body of an HTTP(S)
	// file; for a Git base, both the pack received and the file content of
	// its tree.
	MaxBytes int64
	// MaxTotalBytes is the most bytes all the fetches of one build may bring
	// together.
	MaxTotalBytes int64
	// MaxFiles is the most files and symlinks in the tree of one Git base.
	MaxFiles int
	// MaxFetches is the most distinct remote references one build fetches.
	MaxFetches int
	// MaxDepth is how deeply remote bases may name further remote bases: 1
	// allows the artifact's remote bases but none inside them.
	MaxDepth int
	// AllowedHosts, when not empty, lists the only hosts remote references
	// may name (a host name such as "github.com", or "host:port" for that
	// port only; compared without regard to letter case). HTTP redirects
	// are held to it too. Empty allows any host.
	AllowedHosts []string
	// GitAuth, when not nil, returns the credentials for cloning a Git base
	// from host (nil for anonymous). SSH bases need a key and known_hosts.
	GitAuth func(host string) *source.Auth `json:"-"`
	// TempDir is where Git bases and HTTP(S) files are written for the
	// duration of the build; empty means os.TempDir().
	TempDir string
}

// DefaultRemoteOptions returns the bounds used for zero fields: 30 s per
// fetch, 64 MiB per fetch and 256 MiB per build, 10,000 files per Git base,
// 32 fetches per build and remote bases nested 4 deep.
func DefaultRemoteOptions() RemoteOptions {
	return RemoteOptions{
		Timeout:       30 * time.Second,
		MaxBytes:      64 << 20,
		MaxTotalBytes: 256 << 20,
		MaxFiles:      10000,
		MaxFetches:    32,
		MaxDepth:      4,
	}
}

func (o RemoteOptions) withDefaults() RemoteOptions {
	d := DefaultRemoteOptions()
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = d.MaxTotalBytes
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = d.MaxFiles
	}
	if o.MaxFetches <= 0 {
		o.MaxFetches = d.MaxFetches
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = d.MaxDepth
	}
	return o
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
