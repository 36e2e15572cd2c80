// Command gitopskit keeps Kubernetes clusters in sync with Git and reports
// their compliance, with the gitopskit library's engine (package reconcile):
// the same fetch, build, admission, server-side apply, prune and health
// stages a program embedding the library runs.
//
//	go install github.com/gitopskit/gitopskit/cmd/gitopskit@latest
//
// # Commands
//
//   - gitopskit sync: reconcile a configuration once (the default) or in a
//     loop (--watch, --interval), printing events to stderr as they come and
//     the compliance table (or json/yaml) to stdout.
//   - gitopskit plan: what a sync would create, update (with the fields
//     that differ) and delete, through server-side dry runs; nothing is
//     changed.
//   - gitopskit status [NAME]: the compliance of configurations from the
//     records their last sync left in the cluster, units and sources; no
//     configuration file, no Git.
//   - gitopskit render: every object a configuration would apply, unit by
//     unit, with no cluster and no kubeconfig: the units found in builds
//     (Kustomizations, HelmReleases) included, recursively; -o yaml (the
//     default: one YAML stream, each document after a "# unit: NAME"
//     comment), json (units, objects, gaps, errors) or text (per unit its
//     revision, where it was declared, its object keys and gaps).
//   - gitopskit diff --to REF [--from REF]: the configuration rendered
//     twice with no cluster, one source at --from (default: its own
//     reference) and at --to, and per unit the objects added, removed and
//     changed (field paths), units added and removed, chart versions;
//     with --cluster, --to against the cluster instead (plan with the
//     source pinned).
//
// `gitopskit COMMAND --help` shows each command's flags and examples.
//
// # Configurations
//
// sync, plan, render and diff read a configuration from a file (-f FILE, "-" for stdin)
// or from flags (--url, --branch/--tag/--semver/--commit, --path, ...: one
// path of one repository). A file holds either Flux objects (GitRepository,
// OCIRepository, HelmRepository, HelmChart, Kustomization, HelmRelease,
// ArtifactGenerator, in any namespaces, read by [github.com/gitopskit/gitopskit/reconcile.LoadFlux], with
// Flux's lockdown flags --no-cross-namespace-refs and
// --default-service-account) or gitopskit's own format: one document of
// apiVersion gitopskit.io/v1alpha1, kind Configuration, whose metadata
// names the configuration and the namespace of its records and whose spec
// has sources, units and tenancy (the fields of [github.com/gitopskit/gitopskit/reconcile.Configuration];
// unknown fields are errors):
//
//	apiVersion: gitopskit.io/v1alpha1
//	kind: Configuration
//	metadata: {name: fleet, namespace: cluster-config}
//	spec:
//	  sources:
//	    - name: fleet
//	      url: https://git.example.com/org/fleet.git
//	      ref: {branch: main}
//	      secretRef: {name: git-auth}
//	  units:
//	    - {name: infra, source: fleet, path: ./infra, prune: true, wait: true}
//	    - {name: apps, source: fleet, path: ./apps, dependsOn: [infra], prune: true}
//
// A source has name, url, ref (branch, tag, semver, commit or name),
// secretRef (a Secret with Flux's Git keys: username/password, bearerToken,
// identity/known_hosts), ignore and timeout. An oci:// url is an OCI
// artifact, as `flux push artifact` writes it; instead of ref it takes oci
// (tag, semver, semverFilter, digest, mediaType of the layer, insecure for
// plain HTTP), and its secretRef holds username/password. A unit has name, source, path,
// dependsOn, prune, wait, force, suspend, allowEmpty, timeout, interval,
// retryInterval, serviceAccountName, targetNamespace, namePrefix,
// nameSuffix, commonLabels, commonAnnotations, components, substitute and
// strictSubstitute. tenancy has namespaces, allowClusterScoped and
// serviceAccountName. Durations are Go durations ("90s", "5m").
//
// The Secrets of sources' credentials are read while the configuration
// loads, from the cluster, or with --secrets-dir DIR from the files of
// DIR/NAME/, one key per file, as Kubernetes mounts them into a Pod. The
// ConfigMaps and Secrets of substituteFrom and valuesFrom are read from the
// cluster each time their unit runs, so one an earlier unit creates counts.
//
// # Rendering with no cluster
//
// render and diff run the pipeline up to admission: fetch, post-build
// substitution, kustomize build, Helm template (Helm's default
// capabilities; lookup finds nothing). A ConfigMap or Secret a unit renders
// is what later units' substituteFrom read; those only a cluster has come
// from --objects FILE (v1 ConfigMaps and Secrets, or a List of them, as
// kubectl get -o yaml writes them), and what neither has is a gap,
// reported, never guessed; a source's credentials Secret that --objects
// lacks is noted and the source fetched without credentials. Secret
// values are masked in every
// output; diff names fields, never values. --cache-dir keeps clones and
// charts between runs.
//
// A REF (render's --ref SOURCE=REF, diff's --from and --to) names a
// reference of the source's remote, not of a local clone: a full commit
// SHA-1 (SHA@BRANCH fetches it from that branch, for servers that do not
// serve commits by ID), "refs/..." (refs/pull/42/head), or a branch name;
// or explicitly branch:NAME, tag:NAME, semver:RANGE, commit:SHA or
// name:refs/.... diff's references apply to --source NAME or to the
// configuration's only source. With --url the source is named "git".
//
// # Cluster
//
// As kubectl: --kubeconfig (default $KUBECONFIG, then ~/.kube/config, then
// the in-cluster service account), --context, --cluster and --user. render
// and diff use none of them, except diff --cluster (where --cluster is the
// mode, and --context chooses the cluster).
//
// # Output
//
// -o text (default), json or yaml. Events go to stderr (-q silences them),
// results to stdout. Colour is used only when the stream is a terminal,
// never when NO_COLOR is set or TERM is "dumb".
//
// # Exit codes
//
//	0  success: every configuration compliant (sync, status), nothing would change (plan),
//	   rendered (render), no change (diff), or a --watch loop stopped by SIGINT or SIGTERM
//	1  error: the cluster, Git or a file could not be read or written; a unit could not be
//	   planned (plan, diff --cluster) or rendered (render, diff: at either reference)
//	2  usage: an unknown command or flag, a bad flag value or argument, or an invalid
//	   configuration (unreadable file, unknown field, dependency cycle, missing Secret,
//	   an --objects file with other kinds than ConfigMap and Secret)
//	3  not compliant (sync, status) or changes pending (plan, diff)
package main
