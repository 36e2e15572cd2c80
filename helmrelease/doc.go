// Package helmrelease converges Helm releases: a desired release in (a
// chart, values, policies), a converged release and a [Status] out. It is
// the Helm counterpart of the kustomize pipeline (source, build, apply,
// health) and what package reconcile runs for units that are releases.
//
//	c, err := cluster.New(restConfig, cluster.Options{})
//	r, err := helmrelease.NewReconciler(c, helmrelease.Options{CacheDir: dir})
//	st, err := r.Reconcile(ctx, helmrelease.Release{
//		Name: "podinfo", Namespace: "apps", CreateNamespace: true,
//		Chart:  helmrelease.ChartRef{RepoURL: "https://charts.example.com", Name: "podinfo", Version: "6.x"},
//		Values: map[string]any{"replicaCount": 2},
//	})
//
// # Releases
//
// A [Release] names the release and its namespace, the chart ([ChartRef]),
// the values, and how to act: [Release.Timeout] and waiting, the number of
// revisions kept, the CRD policy ([CRDCreate], [CRDCreateReplace],
// [CRDSkip]; one for both actions or one per action, as Flux's install.crds
// and upgrade.crds), labels added to every rendered object, retries and
// remediation ([InstallPolicy], [UpgradePolicy]), tests ([TestPolicy]) and
// drift detection ([DriftPolicy]). [Release.Validate] reports what is wrong
// with a spec.
//
// # Chart sources
//
// A chart comes from an HTTP chart repository (its index.yaml), from an OCI
// registry ("oci://host/path", the chart being the repository path/NAME,
// pushed as Helm pushes charts), or from a directory or archive on disk,
// such as a path in a source artifact. For repositories and registries
// [ChartRef.Version] is an exact version, a semver range (the newest match
// wins; pre-releases only when the range asks for them) or empty (the
// newest stable version); a registry also accepts a plain tag. Basic
// authentication is supported for both ([BasicAuth],
// [BasicAuthFromSecret]); repository credentials are sent only to the
// repository's own host. Archives are cached by SHA-256 in
// [Options.CacheDir], a folder the caller owns: a chart already there is
// not downloaded again.
//
// # Values
//
// helmrelease never reads ConfigMaps or Secrets: the caller loads them and
// passes their data as [ValuesFrom]. [MergeValues] merges them in order,
// then the inline values on top, as Flux's helm-controller does; a
// reference with a TargetPath places one key's content, a flat value typed
// as Flux types it, at a path ("a.b", "list[0].name"). Values are compared
// by [ValuesDigest], which ignores map order and YAML formatting.
//
// [ChartRef.ValuesFiles] lists files of the chart ("values.yaml",
// "values-prod.yaml") merged in order into the values that replace the
// chart's default values, as Flux's HelmChart valuesFiles do (values.yaml
// counts only if listed); the release's values are merged over them. A
// listed file the chart does not have is a [*ValuesFileError] matching
// [ErrValuesFileNotFound], unless [ChartRef.IgnoreMissingValuesFiles].
// The files' values are part of the chart's digest: changing the list
// upgrades the release.
//
// # Post renderers
//
// [Release.PostRenderers] change the manifests Helm renders before they
// are applied, as Flux's postRenderers[].kustomize do: kustomize image
// overrides and patches (strategic merge, or JSON 6902 with a target),
// applied in order with
// [github.com/gitopskit/gitopskit/build.Transform], then
// [Release.Labels]. As in Helm 3, hooks are not post-rendered. They apply
// to installs, upgrades, the render that precedes them (a post renderer
// that does not apply fails there, [ErrPostRender], before any revision)
// and [Template]; changing them upgrades the release.
//
// # Lifecycle
//
// [Reconciler.Reconcile] installs a release that is absent, upgrades it
// when the chart (its content digest), the merged values or the rendering
// configuration changed, and otherwise does nothing: no new revision is
// written when nothing changed. Tests run after an install or upgrade when
// enabled. [Reconciler.Uninstall] removes a release and its history.
//
// What each revision was made of is recorded in labels on Helm's own
// release records ([LabelChartDigest], [LabelValuesDigest],
// [LabelConfigDigest], [LabelFailed], [LabelPhase], [LabelUninstalled]),
// so the decision needs no state outside the cluster and survives
// restarts.
//
// # Remediation
//
// A failed install is uninstalled (its history kept), a failed upgrade is
// rolled back to the last successful revision ([RemediateRollback]) or
// uninstalled ([RemediateUninstall]: the release is then installed again,
// the way out of an upgrade that cannot be applied in place), and the
// attempt is retried up to the policy's Retries, within one call. The
// last failure is remediated too, unless KeepLastFailed (Flux's
// remediateLastFailure: false) leaves it in place for inspection;
// KeepFailed leaves every failure in place. RetryOnFailure (Flux's
// strategy of that name) neither remediates nor retries within the call:
// each call makes one attempt (a failed install is upgraded), with no
// limit on their number, and the caller paces them. Failed attempts are counted
// per chart, values and configuration and per phase (install while
// nothing is deployed, upgrade otherwise), from the release history: when
// they exceed the phase's retries the release is reported
// [ReasonRetriesExhausted] with a [*RetriesExhaustedError], and later
// calls make no attempt until the chart, the values or the configuration
// change. A failure before Helm wrote a revision (a chart that does not
// render, an unreachable API server) is returned at once, neither
// remediated nor counted.
//
// A revision left pending-install, pending-upgrade or pending-rollback (by
// a process that stopped in the middle of an action) locks the release for
// Helm; Reconcile marks it failed and goes on. This assumes that one
// Reconciler owns the release: calls for the same release are serialized
// within a Reconciler, not across processes.
//
// # Drift
//
// With [DriftWarn] or [DriftCorrect], a release that is otherwise up to
// date has its manifest compared with the live objects: each object is
// server-side applied in dry-run mode and the result compared with the
// live object, which reports exactly the fields the chart sets that
// someone changed ([Status.Drift], [EventDriftDetected]). [DriftCorrect]
// then applies the drifted objects (field manager [DefaultFieldManager]),
// recreating deleted ones, without writing a revision.
//
// # Status and events
//
// Every call returns a [Status]: Ready with a [Reason] and a message, the
// actions taken, the current revision and chart version, the failure count
// and a summary of the history. The error is non-nil exactly when the
// release is not ready. Progress is reported as [Event] values to
// [Options.Events], and logged to [Options.Logger].
//
// # Dependencies
//
// [Order] groups releases into levels by [Release.DependsOn] with package
// [github.com/gitopskit/gitopskit/depgraph] (cycles and missing
// dependencies are its typed errors), and [Reconciler.ReconcileAll]
// reconciles level by level, skipping the releases whose dependencies are
// not ready ([ErrDependencyNotReady]).
//
// # Errors
//
// Errors callers branch on are typed and match sentinels with [errors.Is]:
// [ErrInvalidSpec], [ErrValues] ([*ValuesError], [*ValuesFileError]),
// [ErrValuesFileNotFound], [ErrPostRender] ([*PostRenderError]),
// [ErrAuthFailed] ([*AuthError]),
// [ErrChartNotFound] and [ErrChartVersionNotFound] ([*ChartNotFoundError]),
// [ErrFetch], [ErrInvalidChart] ([*ChartError]), [ErrReleaseFailed]
// ([*ReleaseError]), [ErrRetriesExhausted] and [ErrDependencyNotReady].
//
// # Helm
//
// Helm v3 (helm.sh/helm/v3) does the installs, upgrades, rollbacks,
// uninstalls and tests, behind a small internal interface, so that moving
// to another Helm major version touches one internal package. Release
// records are stored as Secrets in the release namespace, as the helm CLI
// stores them: `helm list` and `helm history` show gitopskit's releases.
// Kubernetes access is the caller's
// [github.com/gitopskit/gitopskit/cluster.Cluster] (its identity, connections and
// discovery); no kubeconfig
// file and no environment variable is read. Helm's install and upgrade take
// the context; its rollback, uninstall and test do not, so a cancelled
// context stops Reconcile between actions, and [Release.Timeout] bounds
// each action.
package helmrelease
