// Package build turns an artifact directory and a path inside it into a
// sorted, validated list of Kubernetes objects, by running kustomize over a
// filesystem confined to the artifact root ([Kustomize]) or by rendering a
// Helm chart ([HelmTemplate]).
//
// The build stage is where untrusted repository content is parsed, so it is
// the security boundary of the pipeline: paths that escape the artifact,
// remote bases, plugins and oversized or explosive input are refused with
// typed errors, and nothing is ever written to the artifact.
//
// # Kustomize
//
// [Kustomize] builds the kustomization in a directory of the artifact with
// sigs.k8s.io/kustomize/api (krusty), in process. If the directory has no
// kustomization.yaml, kustomization.yml or Kustomization file, one is
// generated in memory as Flux does (see [GenerateKustomization]): every
// .yaml and .yml file below it, recursively, in lexical order, with
// subdirectories that have their own kustomization included as directories.
//
// # Options
//
// [KustomizeOptions] carries the per-unit settings: target namespace, name
// prefix and suffix, common labels (metadata only, never selectors) and
// annotations, image overrides, strategic merge and JSON 6902 patches with
// target selectors, and components. They are applied as Flux applies them,
// through a generated kustomization that has the unit's directory as its
// only resource, so the user's files are used unchanged.
//
// # Substitution
//
// After the build, when [KustomizeOptions.Substitute] is not nil, each
// object's YAML has ${name} replaced by the value of name, and
// ${name:=default} (or ${name:-default}) by the default when name is unset
// or empty. $${name} is an escape that leaves a literal ${name}. Anything
// else that contains $, such as $HOME, $$ or ${a.b}, is left as it is. With
// [KustomizeOptions.StrictSubstitute] a variable with no value and no default
// is an error ([*SubstitutionError]) naming the variable and the object;
// otherwise it becomes empty. An object annotated [SubstituteAnnotation]:
// [SubstituteDisabled] is left alone (for scripts and templates in
// ConfigMaps).
//
// As in Flux, a value that is exactly one variable takes the YAML type of its
// replacement, so "replicas: ${replicas}" gives a number. Kustomize does not
// keep the source's quoting, so "${port}" cannot be told from ${port}; fields
// that the API requires to be strings (labels, annotations, container env
// values, ConfigMap data and Secret stringData) are turned back into
// strings. Each substituted object is decoded again and must still be one
// object, and validation and duplicate detection run after substitution, so
// a substitution that renames an object is checked like any other.
//
// # Helm
//
// [HelmTemplate] renders a chart directory or packaged chart with values,
// release name, namespace and Kubernetes version, like `helm template`, with
// Helm's client-only install action: no cluster is contacted. CRDs from the
// chart's crds/ directory are included only with [HelmOptions.IncludeCRDs];
// hooks are left out unless [HelmOptions.IncludeHooks], and test hooks always
// are. Namespaced objects without a namespace get the release namespace, as
// `helm install` gives them. The chart is read through the same confined
// filesystem as kustomize builds. Helm is used by one file, helm_engine.go.
//
// # Output
//
// Both builders return objects decoded with the apimachinery decoders
// (integers are int64), validated and sorted. Every object must have
// apiVersion, kind and metadata.name ([*InvalidObjectError]); two objects
// with the same group, kind, namespace and name are a [*DuplicateError]
// naming both and the files they came from. The order is the apply order
// shared by every gitopskit package: CustomResourceDefinitions, Namespaces,
// cluster-wide prerequisites, namespaced prerequisites, workloads, everything
// else, and admission webhooks last, ties broken by group, kind, namespace
// and name. The same input gives byte-identical [EncodeYAML] output.
//
// # Confinement
//
// Kustomize reads the artifact through a read-only filesystem that resolves
// every symlink itself: a "../" path or a symlink (absolute, or relative and
// climbing out) that leads outside the artifact root gives a
// [*PathEscapeError] naming it; symlinks inside the root work. Files larger
// than [Limits.MaxFileSize] are refused from their size before they are read,
// and a build stops once it has read [Limits.MaxTotalSize] bytes
// ([*TooLargeError]). Documents whose YAML aliases would expand by more than
// a million nodes ("billion laughs") are refused before kustomize, which
// expands aliases by copying, sees them ([*YAMLError]). Malformed YAML gives
// a [*YAMLError] naming the file and line.
//
// Kustomize's cost grows faster than linearly with the number of objects
// (thousands of tiny objects in one small file take minutes), and it takes no
// context. A build estimates its objects from the files it reads and stops
// with a [*TooManyObjectsError] once the estimate passes [Limits.MaxObjects],
// before kustomize transforms anything; the output is counted exactly too. A
// build whose context ends returns the context's error at once; kustomize
// finishes the abandoned work in the background and its result is dropped.
//
// Every kustomization file read is checked before kustomize interprets it:
// resources, components, patches, generator sources and other references
// that are URLs, git@host:path or github.com/ paths give a
// [*RemoteBaseError] unless [KustomizeOptions.AllowRemoteBases]. When they
// are allowed, kustomize fetches HTTP(S) files itself and clones Git bases
// with the git command into a temporary directory, which the build reads
// confined to that clone (as the artifact) and removes afterwards. Kustomize
// plugins, exec and container KRM functions and Helm chart inflation are
// disabled. A kustomization that includes itself gives a [*CycleError].
//
// # Concurrency
//
// Builds are safe to run concurrently and do run in parallel. Kustomize's
// only mutable process-wide state is kyaml's OpenAPI schema: it is parsed
// lazily, read without a lock, and replaced by any kustomization with an
// openapi field, which races with (and leaks into) other builds. Builds share
// a read lock once the default schema is parsed; a build that meets an
// openapi field is restarted alone, with the schema reset before and after.
// Flux, in contrast, runs one build at a time.
//
// # Caching
//
// A [Cache] passed in [KustomizeOptions.Cache] with a non-empty
// [KustomizeOptions.ArtifactDigest] returns the result of an earlier build
// with the same digest, path and options, as a deep copy the caller may
// change. The digest is the caller's promise that the artifact's content is
// the same: the cache does not read the files. Concurrent builds of one key
// run once. Failed builds are not cached.
//
// # Side effects
//
// The package never writes files, reads environment variables or logs.
// Kustomize itself prints warnings about deprecated kustomization fields to
// standard error.
package build
