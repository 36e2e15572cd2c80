// Package inventory records which objects a unit applied, keeps that record
// in the cluster, and computes what to prune.
//
// # Inventory
//
// An [Inventory] is a plain value: a list of [Entry] values, each an object's
// identity (group, version, kind, namespace, name), the hash of the manifest
// that was applied and the resourceVersion the API server returned. Package
// apply uses the last two to skip objects that changed neither in Git nor in
// the cluster. [Diff] returns the entries of a previous inventory that a
// current one no longer has: the candidates for pruning. Objects are
// identified by [ID] (without the API version), so a version bump is not a
// removal.
//
// # Storage
//
// [Store] keeps one unit's inventory in a Secret (or ConfigMap) in a
// namespace the caller chooses, gzip-compressed JSON ([Marshal]; stored
// uncompressed in the gzip stream below 16 KiB, about 150 entries): 10,000
// entries take about 290 KiB, well under etcd's 1.5 MiB limit. Saves use
// optimistic concurrency on the parent's resourceVersion; a concurrent writer
// gives a [*ConflictError] (errors.Is [ErrConflict]).
//
// A [Ledger] keeps the inventories of many units (a configuration's) in a
// few Secrets, its pages, up to 100 units each: one LIST reads them all,
// and one write of a page stores the saves of all its units waiting for it
// (group commit), so a unit costs no request of its own. A save that adds
// objects returns once written (nothing is created outside the
// inventory); one that only refreshes or removes entries is written with
// the page's next write or by [Ledger.Flush]. Each unit keeps its own
// version, so units of a page never conflict with each other. Package
// reconcile keeps every configuration's inventories in a Ledger. A caller that keeps the
// inventory elsewhere, for example in its own object's status, implements
// [Storage] (and [Deleter], if removing a unit should remove the record),
// names its owner with [NewOwnerForParent] for its own parent kind, and puts
// [ParentMetadata] on that parent so that kubectl sees the set.
//
// # ApplySet and ownership
//
// The parent follows the kubectl ApplySet convention (KEP-3659): it is
// labelled [LabelApplySetID] with the ID [ApplySetID] computes and annotated
// with [AnnotationApplySetTooling] ("gitopskit/<version>"),
// [AnnotationApplySetGroupKinds] and [AnnotationApplySetNamespaces], so
// kubectl can see what a unit owns. Every object a unit applies carries the
// [Owner] labels: [LabelApplySetPartOf] (the set's ID) and the readable
// [LabelUnit] and [LabelUnitNamespace]. A parent managed by another tool, or
// by no tool, is refused with a [*ForeignToolError].
//
// All label and annotation names are constants in labels.go.
package inventory
