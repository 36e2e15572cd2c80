// Package cluster is gitopskit's access to one Kubernetes cluster, shared by
// every stage (apply, prune, inventory, health, Helm) and every unit of a
// configuration.
//
// # One handle per cluster
//
// [New] turns a *rest.Config into a [*Cluster]: one HTTP client (one
// connection pool), one discovery cache and RESTMapper (refreshed once when
// a kind is unknown, for example after a stage created CRDs), and the
// dynamic, metadata and typed clients built on them. [Cluster.Mapping] keeps
// each kind's mapping until [Cluster.ResetMapper]; [Cluster.KnownMapping]
// asks only what discovery already knows. Build one per cluster
// and pass it to [github.com/gitopskit/gitopskit/apply.NewManager],
// [github.com/gitopskit/gitopskit/health.NewWaiter],
// [github.com/gitopskit/gitopskit/inventory.NewStore],
// [github.com/gitopskit/gitopskit/helmrelease.NewReconciler] and
// [github.com/gitopskit/gitopskit/reconcile.New].
//
// # Identities
//
// [Cluster.As] and [Cluster.AsServiceAccount] return a copy that
// impersonates another identity over the same connections, discovery cache
// and request budget. Every request of the copy carries the impersonation
// headers, so RBAC bounds what a unit can do whatever stage acts for it.
//
// # Request budget
//
// A Cluster bounds the requests it has in flight ([Options.MaxInFlight],
// shared by all its identities; watches are not counted, since they last),
// so that a configuration of thousands of units queues in the client instead
// of being answered 429 by the API server's priority and fairness. Client-side
// QPS throttling is off unless the rest.Config sets it. [Cluster.Requests]
// counts the requests made, by verb and status code.
//
// # Shared reads
//
// A [Reads] remembers metadata LISTs for the duration of a run, so that the
// units of one run share one LIST per (resource, namespace, selector,
// identity) instead of making one each.
package cluster
