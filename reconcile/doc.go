// Package reconcile runs units (a path of a Git source, built, applied,
// pruned and checked as a whole) once or on an interval, in dependency order,
// and reports for each unit and for the whole configuration whether the
// cluster complies with Git.
//
// # Configurations and units
//
// A [Configuration] holds [Source]s (Git repositories at a reference) and
// [Unit]s (the equivalent of Flux Kustomizations: a source path, kustomize
// options, dependsOn, prune, wait, timeout, interval). [New] validates it:
// unknown sources, duplicate names, dependency cycles (the error names the
// cycle) and missing dependencies are a [*ConfigError].
//
// # One engine
//
// [New] takes a [github.com/gitopskit/gitopskit/cluster.Cluster]: one HTTP
// client, discovery cache and request budget per cluster, shared by every
// unit and stage. A unit that names a service account (or the
// [Tenancy]'s) acts as it for every action: apply, prune, wait, Helm
// install, upgrade, rollback and uninstall, and its removal.
//
// [Reconciler.Run], [Reconciler.Start] and [Reconciler.Plan] run one unit
// pipeline, for kustomize and Helm units alike, so they cannot disagree:
//
//  1. fetch: each source is asked once per round whether it moved (one
//     ls-remote round trip) and fetched only when it did;
//  2. gate: a unit runs only when its dependencies are Ready (at the same
//     revision of a shared source);
//  3. build with package build (cached by artifact digest; the default
//     cache holds every unit, so a no-op never rebuilds);
//  4. admit: the configuration's [Tenancy] (namespaces, cluster-scoped
//     objects), gitopskit's own records (no unit may write an inventory or
//     status record), and ownership (an object two units declare is an
//     [*OwnershipConflictError] naming both); a Helm unit's rendered
//     templates, hooks and CRDs pass the same admission before any Helm
//     action;
//  5. apply with package apply, recording what was applied in an
//     inventory kept in the configuration's namespace; fields another
//     manager took (drift) are taken back and named in the change set;
//  6. prune objects that left Git, when asked, only after a successful
//     build and apply, and never an empty desired set unless
//     [Unit.AllowEmpty] (judged against what the unit owns in the cluster,
//     a lost inventory's objects included), nor more than
//     [Unit.MaxPruneShare], nor what [Options.ApprovePrune] refuses;
//  7. wait for the objects to be healthy, when asked.
//
// A scheduler starts each unit as soon as its own dependencies are done (no
// level barriers), on at most [Options.Workers] workers; a unit's
// [Unit.Timeout] bounds each of its stages (build, apply, prune, wait) from
// when the stage starts, so time queued behind other units does not count. The units of a round
// share one LIST per (resource, namespace, identity), one watch per
// (resource, namespace) for their waits, one LIST of the configuration's
// inventories and, for their saves, a write per page and batch (see
// Records); an inventory found empty for a unit the
// records know is searched for once per round for all such units.
// [Reconciler.Plan] runs the pipeline as server-side dry runs: objects in a
// namespace the unit creates "would be created", and a refused prune is the
// refusal Run would give.
//
// # Render and diff offline
//
// [Render] runs the same pipeline with no cluster, up to admission: every
// unit of the configuration and of the tree its builds declare, in
// dependency order, with the objects each would apply (Helm units through
// [github.com/gitopskit/gitopskit/helmrelease.Template]). A ConfigMap or
// Secret a unit renders is what later units' substituteFrom and
// valuesFrom read; what only a cluster has ([RenderOptions.Objects] may
// stand in) is a gap on the unit, never a guess. [RenderOptions.Refs] pins sources, so two
// renders of two commits give, through [DiffRenderings], what a pull
// request changes, unit by unit and field by field (paths, never values).
//
// # Compliance
//
// [Reconciler.Status] returns a [Status]: per unit a [Phase] (Ready,
// NotReady, Pending, Suspended) with a reason and message, the last applied
// and attempted revisions and what the last reconcile did. A configuration
// is compliant when every unit is Ready. [Status.Sources] holds each
// source's last fetched revision or fetch error, and the unit whose build
// declared it (a source that fails fails its units, so compliance covers
// it). [Status.WriteTable] renders the units for terminals. [ReadStatus]
// reads the units' status from the configuration's record in the cluster,
// with no configuration at hand (the CLI's status command).
//
// # Events
//
// [Options.OnEvent] receives one [Event] type: progress and failure per unit
// and stage, one [EventObject] per object (applied, unchanged, pruned,
// failed, and each health change, with the object's key), and the unit's
// new status. Callers branch on [EventType] and [Event.Action], never on
// messages.
//
// # Flux format
//
// [LoadFlux] reads Flux's own objects into a Configuration, decoded with
// Flux's published API modules in every version Flux has served since 2.0:
// GitRepository, OCIRepository, HelmRepository and HelmChart (source
// v1beta1, v1beta2, v1), Kustomization (v1beta1, v1beta2, v1) and
// HelmRelease (v2beta1, v2beta2, v2, as a Helm unit), plus ArtifactGenerator
// (source-watcher's v1beta1: an artifact of one GitRepository, one directory
// built in place, several copies composed as [Unit.Compose]). An
// OCIRepository is a [Source] of an OCI artifact ([Source.OCI]) for the
// Kustomizations that build it, and a chart for the HelmReleases whose
// chartRef it is. Objects may
// be in several namespaces (a platform and its tenants); [FluxOptions] has
// Flux's lockdown flags (no cross-namespace references, a default service
// account). A field gitopskit does not support is an error naming the
// document, object and field, never silently ignored. [FluxObjects] splits
// Flux objects from the rest of a build.
//
// # Flux objects in builds: a graph that grows
//
// The Flux objects a unit's build holds (a bootstrap repository's
// clusters/prod, a tenant's folder) are configuration, not objects to
// apply: after the build passed the same tenancy check as the unit's other
// objects, they are loaded the way [LoadFlux] loads them and become units
// and sources of the same configuration, children of the unit that
// declared them, reconciled in the same round after it, and so on
// recursively, at most [Options.MaxDepth] deep ([ErrTooDeep]). Loading
// them is all or nothing: an unsupported field, a reference to a missing
// source, a dependency cycle across the graph (a [depgraph.CycleError]) or
// an object another unit's build declares differently fails the declaring
// unit at its build, before it applies or prunes anything, and its
// children keep their last declaration. An object the configuration
// itself declares (the flux-system GitRepository and Kustomization a
// bootstrap repository holds, with Git's URL) is kept as the configuration
// declares it. A dependsOn naming a unit no build declared yet leaves the
// unit Pending, as in Flux. A child with no service account acts as the
// unit that declared it (or the [Tenancy]'s account), never as more, and a
// unit acting as a service account may declare only the Flux objects that
// account may create (a SelfSubjectAccessReview per object, as Flux's apply
// of them would need): a tenant cannot declare a Kustomization in another
// namespace naming that namespace's account.
// Secrets the objects refer to are read as gitopskit's identity, in the
// object's own namespace; a Kustomization's substituteFrom and a
// HelmRelease's valuesFrom are read each time the child runs
// ([Unit.SubstituteFrom], [Unit.ValuesFrom]), so a ConfigMap an earlier
// unit creates counts.
//
// A child its parent no longer declares is removed after the parent
// applied and pruned successfully, as Flux garbage-collects a child
// Kustomization or HelmRelease: its objects are deleted (a Helm release
// uninstalled) when the parent prunes and the child's [Unit.DeletionPolicy]
// says so (by default when the child prunes), and orphaned otherwise, its
// own children first. A build that declares nothing at all removes no child unless
// [Unit.AllowEmpty], nor more than [Unit.MaxPruneShare] of them. The
// records keep each child with the unit that declared it, so a new process
// removes a child that left Git before it ever saw it. [UnitStatus] names
// each unit's Flux object and the unit that declared it (the status tree).
// [Options.FluxObjects] = [ApplyFluxObjects] applies Flux objects as plain
// objects instead, for a cluster whose installed Flux reconciles them.
//
// # Records
//
// The configuration's records live in its namespace (created if missing):
// the units' inventories, in an [inventory.Ledger] named after the
// configuration (Secrets "<configuration>.inventory-<n>", up to 100 units
// each; unit u's inventory is the ledger's unit "<configuration>-<u>"), and
// a ConfigMap "<configuration>-status" with each unit's last status. A unit
// costs no request of its own for its records: the pages are read with one
// LIST per round, and one write of a page carries the saves of all its
// units that are waiting; what an apply learns and a prune removes is
// written at the end of the round. A new process picks the revisions up from it, and a unit that left
// the configuration is cleaned up on the next Run or Start: its objects are
// deleted or orphaned (left, without our labels) as its [Unit.DeletionPolicy]
// says, then its inventory is removed.
//
// # Tenancy and the perimeter
//
// A configuration for a team can be limited to namespaces (objects elsewhere
// and cluster-scoped objects are refused with a [*PolicyError] before
// anything is applied) and can impersonate a service account, so that RBAC
// bounds what its units can do. A repository is untrusted input; what it can
// make the engine do is bounded as follows.
//
//   - Identity: a unit acts only as its own identity ([Unit.ServiceAccountName],
//     else a child's parent's, else the Tenancy's account) in every action:
//     apply, prune, wait, each Helm action (lookup included) and its removal.
//   - Admission: every object a unit would apply, a Helm unit's rendered
//     manifest with its hooks and CRDs included, passes the same checks
//     before anything is applied: the Tenancy's namespaces, the refusal of
//     cluster-scoped objects under Tenancy, and the configuration's records
//     (no unit may apply, adopt or prune an inventory or status record, or an
//     object carrying their labels). A Flux object a build declares counts
//     only if the unit's account may create it (one SelfSubjectAccessReview
//     per object) and it lies in the Tenancy's namespaces.
//   - Files and network: a build reads only its artifact and makes no
//     network request unless [build.KustomizeOptions.AllowRemoteBases], and
//     then within [build.RemoteOptions]' bounds (see package build); charts
//     load from the source's artifact under the same confinement.
//   - Bounds: the bytes and files of an artifact ([Source.Limits]), the
//     objects and bytes of a build (package build), the depth of the graph
//     ([Options.MaxDepth]); time: [Source.Timeout] for each fetch and
//     [Unit.Timeout] for each stage of a unit, so a unit that overruns is cut
//     short without holding up the others beyond their own deadlines.
//   - Credentials never reach events, errors, records or plans: URLs are
//     redacted wherever they are shown.
//
// # Logging
//
// Every gitopskit package that logs takes a *slog.Logger in its options and
// logs nothing without one; progress for users is in the [Event] stream. A
// program on logr (controller-runtime) passes
// slog.New(logr.ToSlogHandler(log)).
package reconcile
