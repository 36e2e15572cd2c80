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
// # Running
//
// [Reconciler.Run] reconciles every unit once. Units of one dependency level
// run in parallel; each source is asked once whether it moved (one ls-remote
// round trip) and fetched only when it did; a unit starts only when all its
// dependencies are Ready at the same revision of a shared source. Each unit:
//
//  1. builds its path with package build (cached by artifact digest, so an
//     unchanged revision is not rebuilt);
//  2. checks the configuration's [Tenancy] (namespaces, cluster-scoped
//     objects) before anything is applied;
//  3. applies with package apply, recording what it applied in an inventory
//     kept in the configuration's namespace; fields another manager took
//     (drift) are taken back and named in the change set;
//  4. prunes objects that left Git, when asked, and only after a
//     successful build and apply; a build with no objects never prunes a
//     unit's objects unless the unit allows it;
//  5. waits for the objects to be healthy, when asked.
//
// A unit with [Unit.Helm] set is a Helm release instead (package
// helmrelease: install, upgrade, rollback and uninstall remediation), gated
// and reported like the others, so a configuration can mix kustomize units
// and releases with dependsOn between them.
//
// # Compliance
//
// [Reconciler.Status] returns a [Status]: per unit a [Phase] (Ready,
// NotReady, Pending, Suspended) with a reason and message, the last applied
// and attempted revisions and what the last reconcile did. A configuration
// is compliant when every unit is Ready. [Status.WriteTable] renders it for
// terminals. [Options.OnEvent] receives progress per unit and stage.
//
// # Flux format
//
// [LoadFlux] reads Flux's own GitRepository (source.toolkit.fluxcd.io/v1)
// and Kustomization (kustomize.toolkit.fluxcd.io/v1) objects into a
// Configuration, for the fields its documentation lists; any other field is
// an error naming the document, object and field, never silently ignored.
//
// # Records
//
// The configuration's records live in its namespace (created if missing):
// one inventory per unit (Secret "<configuration>-<unit>", a kubectl ApplySet
// parent) and a ConfigMap "<configuration>-status" with each unit's last
// status. A new process picks the revisions up from it, and a unit that left
// the configuration is cleaned up on the next Run or Start: its objects are
// deleted when it pruned and orphaned (left, without our labels) when it did
// not, then its inventory is removed.
//
// # Tenancy
//
// A configuration for a team can be limited to namespaces (objects elsewhere
// and cluster-scoped objects are refused with a [*PolicyError] before
// anything is applied) and can impersonate a service account, so that RBAC
// bounds what its units can do.
//
// # Logging
//
// Every gitopskit package that logs takes a *slog.Logger in its options and
// logs nothing without one; progress for users is in the [Event] stream. A
// program on logr (controller-runtime) passes
// slog.New(logr.ToSlogHandler(log)).
package reconcile
