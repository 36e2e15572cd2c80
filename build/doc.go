// Package build turns an artifact directory and a path inside it into a
// sorted, validated list of Kubernetes objects, by running kustomize over a
// filesystem confined to the artifact root ([Kustomize]) or by rendering a
// Helm chart ([HelmTemplate]).
//
// The build stage is where untrusted repository content is parsed, so it is
// the security boundary of the pipeline; the section The perimeter below
// states what it promises.
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
// # The perimeter
//
// A repository is untrusted input. For a [Kustomize] build, each of these
// holds whatever the repository contains, and each failure is a typed error
// (matched with errors.Is and errors.As):
//
//   - Files: kustomize reads the artifact through a read-only filesystem
//     that resolves every symlink itself: a "../" path or a symlink
//     (absolute, or relative and climbing out) that leads outside the
//     artifact root gives a [*PathEscapeError] naming it; symlinks inside
//     the root work. Nothing is written to the artifact.
//   - Network: without [KustomizeOptions.AllowRemoteBases] a build makes no
//     network request and runs no git command, whatever the syntax. Every
//     document kustomize can load from is checked before kustomize sees
//     it: a kustomization by the file name kustomize asked for (so also one
//     that is a symlink to a file of any name), in any YAML style or letter
//     case of its fields, and the configuration of every builtin
//     generator, transformer and validator (apiVersion builtin in any
//     group, or a builtin plugin's kind; alone or in a List), in a file or
//     inline in a kustomization. A reference that kustomize could fetch
//     (a URL of any scheme, file:// included; user@host:path or
//     user@host/path, with or without "git::"; a github.com path) gives a
//     [*RemoteBaseError]. Kustomize offers no hook for its fetches (its
//     HTTP client and its git command are its own), so the check stands
//     where kustomize decides to fetch, and is a superset of kustomize's
//     own tests. Kustomize never fetches, with AllowRemoteBases either: see
//     Remote bases below.
//   - Bytes: files larger than [Limits.MaxFileSize] are refused from their
//     size before they are read, and a build stops once it has read
//     [Limits.MaxTotalSize] bytes ([*TooLargeError]). Documents whose YAML
//     aliases would expand by more than a million nodes ("billion laughs")
//     are refused before kustomize, which expands aliases by copying, sees
//     them ([*YAMLError]). Malformed YAML gives a [*YAMLError] naming the
//     file and line.
//   - Objects: kustomize's cost grows faster than linearly with the number
//     of objects (thousands of tiny objects in one small file take minutes),
//     and it takes no context. So each file is parsed once, before kustomize
//     parses it, and its objects counted as kustomize will see them: one per
//     document in any YAML or JSON style, and the items of a kind ending in
//     "List", recursively. Once the count passes [Limits.MaxObjects] the
//     build stops with a [*TooManyObjectsError] naming the file, before
//     kustomize transforms anything (20,000 tiny objects are refused after
//     a parse of their file, about 0.2 s of CPU); the output is counted
//     exactly too.
//   - Time: a build whose context ends returns the context's error at once.
//     Kustomize cannot be stopped: it goes on in the background until its
//     filesystem, which fails every operation once the context has ended,
//     stops it, or until it finishes its work on what it had read (bounded
//     by the limits above); its result is dropped. No build waits for
//     another that overran its deadline (see Concurrency).
//   - Code: kustomize plugins, exec and container KRM functions and Helm
//     chart inflation are disabled. A kustomization that includes itself
//     gives a [*CycleError].
//   - Credentials: a credential in a remote reference (a URL's user name or
//     password, a query value other than kustomize's ref, version, timeout
//     and submodules) never appears in an error: [RemoteBaseError.Ref],
//     [RemoteFetchError.Ref] and the messages of the errors of [Kustomize]
//     are redacted.
//
// # Remote bases
//
// With [KustomizeOptions.AllowRemoteBases], gitopskit fetches remote bases
// and files itself, and kustomize still makes no network request and runs
// no git command: before kustomize reads a kustomization (the artifact's,
// or a remote base's), every remote reference in it is fetched, the copy is
// mounted in the confined filesystem, and kustomize is served the
// kustomization with the reference replaced by a relative path to the copy.
//
//   - Git bases, in kustomize's syntax (https://host/org/repo//dir?ref=x,
//     "git::" prefixes, ssh://, git@host:org/repo, github.com/org/repo/dir,
//     "_git/" and ".git" markers; ?ref= or ?version= a tag, branch, full
//     commit ID or refs/ name, a name tried as a tag first as git does), in
//     resources, components, generators, transformers and validators, are
//     fetched with package source: shallow, into memory, without tags
//     other than the one asked for and without submodules, the pack
//     received within [RemoteOptions.MaxBytes], the tree written to a
//     temporary directory within MaxBytes and [RemoteOptions.MaxFiles],
//     with [RemoteOptions.GitAuth]'s credentials if any. An http(s) URL in those fields is a Git base when it has a
//     ref or version query, a "//", "_git/" or ".git" in its path, or is on
//     github.com, and a file otherwise (kustomize tries it as a file
//     first, which costs a request).
//   - HTTP(S) files, in any field that names a file (resources, patches,
//     generator files and env files, replacements, configurations, CRDs,
//     the OpenAPI schema), are fetched with an http.Client of the build's
//     own: no proxy from the environment, [RemoteOptions.Timeout], at most
//     MaxBytes read of the body, redirects only to http(s) (never from
//     https to http) and to allowed hosts.
//   - Bounds, where the bytes are fetched: each fetch is cut at
//     [RemoteOptions.Timeout] and at MaxBytes (for a Git base, the pack as
//     it arrives and the tree as it is written), all fetches of a build
//     together at [RemoteOptions.MaxTotalBytes] and
//     [RemoteOptions.MaxFetches], and remote bases may name remote bases
//     only [RemoteOptions.MaxDepth] deep; each failure is a
//     [*RemoteFetchError] (errors.Is [ErrRemoteFetch]; over a bound also
//     [ErrTooLarge]; at the timeout also context.DeadlineExceeded). Every
//     fetch also ends with the build's context, so none goes on after the
//     build returned. [RemoteOptions.AllowedHosts] limits the hosts; another
//     host is a [*RemoteBaseError] before any request.
//   - The copies are read like the artifact: each is confined to itself
//     (a symlink or ".." leading out of it is a [*PathEscapeError]), and
//     its files count against [Limits] and their objects against
//     MaxObjects. They are removed once kustomize is done with them.
//   - Anything else kustomize could fetch is refused with a
//     [*RemoteBaseError] whose Reason says why: file:// URLs (the local
//     disk), Git addresses in fields that name files, and remote references
//     in plugin configurations or inline content.
//
// Objects from remote bases are those kustomize gives for the same files in
// the artifact. Remote content is not part of
// the artifact digest, so these builds bypass the [Cache]. A build that sets
// the OpenAPI schema (an openapi field) may not fetch even then
// ([RemoteBaseError.SetsSchema]). Allow remote bases only for repositories
// trusted as much as the remotes they name.
//
// # Concurrency
//
// Builds are safe to run concurrently and do run in parallel. Kustomize's
// only mutable process-wide state is kyaml's OpenAPI schema: it is parsed
// lazily, read without a lock, and replaced by any kustomization with an
// openapi field, which races with (and leaks into) other builds. Builds
// share the schema once the default one is parsed; a build that meets an
// openapi field is restarted alone, with the schema reset before and after.
// Flux, in contrast, runs one build at a time.
//
// No build is held up by another that overran its deadline. A build waits
// only while a build that sets the schema runs (such a build may not fetch,
// so it never waits on the network), and gives up waiting when its context
// ends, without running kustomize. A build that sets the schema waits for
// the builds running to finish (those abandoned at their deadline
// included) without holding up the others meanwhile, and gives up when its
// context ends.
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
// The package never writes to the artifact, reads environment variables or
// logs. Without AllowRemoteBases it writes no file at all; with it, the
// copies of remote bases and files are written to a directory under
// [RemoteOptions.TempDir] (os.TempDir() when empty) and removed when the
// build, or kustomize's work abandoned at the deadline, ends. Kustomize itself prints warnings about deprecated kustomization
// fields to standard error.
package build
