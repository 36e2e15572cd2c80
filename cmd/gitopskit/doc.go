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
//     records their last sync left in the cluster; no configuration file,
//     no Git.
//
// `gitopskit COMMAND --help` shows each command's flags and examples.
//
// # Configurations
//
// sync and plan read a configuration from a file (-f FILE, "-" for stdin)
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
// identity/known_hosts), ignore and timeout. A unit has name, source, path,
// dependsOn, prune, wait, force, suspend, allowEmpty, timeout, interval,
// retryInterval, serviceAccountName, targetNamespace, namePrefix,
// nameSuffix, commonLabels, commonAnnotations, components, substitute and
// strictSubstitute. tenancy has namespaces, allowClusterScoped and
// serviceAccountName. Durations are Go durations ("90s", "5m").
//
// Secrets and ConfigMaps a configuration names are read from the cluster,
// or with --secrets-dir DIR from the files of DIR/NAME/, one key per file,
// as Kubernetes mounts them into a Pod.
//
// # Cluster
//
// As kubectl: --kubeconfig (default $KUBECONFIG, then ~/.kube/config, then
// the in-cluster service account), --context, --cluster and --user.
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
//	   or a --watch loop stopped by SIGINT or SIGTERM
//	1  error: the cluster, Git or a file could not be read or written; a unit could not be planned
//	2  usage: an unknown command or flag, a bad flag value or argument, or an invalid
//	   configuration (unreadable file, unknown field, dependency cycle, missing Secret)
//	3  not compliant (sync, status) or changes pending (plan)
package main
