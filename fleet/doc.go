// Package fleet reconciles configurations onto many clusters from one
// process and rolls their compliance up, by cluster and by configuration.
//
// # Members
//
// A [Member] is one cluster: a name, labels to group by (such as
// "clusterType": "prod"), and a [github.com/gitopskit/gitopskit/cluster.Cluster].
// [New] makes one [github.com/gitopskit/gitopskit/reconcile.Reconciler] per
// member and configuration, kept across runs (records, caches and the
// clones of a shared source cache: a repository is cloned once for the
// whole fleet).
//
// # Runs
//
// [Fleet.Run] reconciles every member, at most [Options.Concurrency] at a
// time. Members are isolated: a member whose API server does not answer
// [Options.ProbeTimeout]'s health probe is reported Unreachable with the
// reason and is not reconciled, and one whose run fails or outlives
// [Options.MemberTimeout] is reported Failed; the others carry on. The
// next Run tries every member again.
//
// # The roll-up
//
// A [Report] has one [Row] per member and configuration: its compliance
// state (Compliant, NonCompliant, Unreachable, Failed), the units Ready of
// the units, the reason of the first unit (or probe) that failed, and the
// configuration's full [github.com/gitopskit/gitopskit/reconcile.Status].
// [Report.Summarize] counts rows by compliance state and member labels,
// as a fleet dashboard's "count by complianceState, clusterType" query
// does; [Report.WriteTable] and [Summary.WriteTable] print them.
package fleet
