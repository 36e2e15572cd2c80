// Package faults is gitopskit's fault and bad-input suite. It holds no
// library code, only tests: each one attacks the whole pipeline
// (reconcile.Reconciler over a real Git server and a real API server) with
// one fault or one hostile input, then checks the same invariants:
//
//  1. every object in the cluster that carries a unit's ownership labels
//     (inventory.LabelApplySetPartOf, or inventory.LabelUnit with
//     inventory.LabelUnitNamespace) is in that unit's stored inventory;
//  2. nothing the unit does not own was deleted or changed: objects made
//     by "someone else" before the case (sentinels) still exist with the
//     same UID and resourceVersion;
//  3. a re-run converges: every unit Ready, a second run creates,
//     configures and prunes nothing, and the unit's labelled objects are
//     exactly its inventory, without duplicates.
//
// The cases: the API server stopped at five points of a reconcile (at the
// write-ahead inventory record, mid-apply of a first and of a changed
// revision, at the inventory save, mid-prune);
// the Git server failing, gone, refusing or stalled past a deadline; commits
// that empty a unit, break its YAML, or that the API server refuses; two
// reconcilers racing on one unit; a field taken by another field manager; a
// foreign object carrying a unit's labels; two units claiming one object;
// objects and inventories tampered with; a namespace deleted out of band;
// hostile repository content (path traversal, symlink escapes, remote
// bases, a file over 16 MiB, YAML alias bombs and deep nesting, a
// kustomization that includes itself, exec functions); dependency cycles,
// missing dependencies and tenants writing outside their namespaces; and,
// for issue 18, an inventory lost before a commit that empties or shrinks a
// unit (prune guards, budget and approval hook judged against the recovered
// inventory), two new units declaring one object in one run, the API
// server restarted during a prune, the pinned branch force-pushed, the
// inventory page (a Secret of the ledger) edited to garbage, a slow API
// server (a latency proxy)
// and a unit removed from the configuration while it was being applied.
// Regression tests of the library bugs it found are in fixedbugs_test.go. Fuzz
// targets cover what the library packages' own do not: the inventory
// codec's round trip and JSON decoding, configuration validation and whole
// kustomize builds.
//
// The package shares one bare API server (TestMain); the namespace case
// starts a simulated cluster, whose controller manager finalizes
// namespaces. README.md records the cases, the invariants and the results.
//
//	go test ./e2e/faults                      # the suite (-short skips it)
//	go test -run '^$' -fuzz '^FuzzInventoryRoundTrip$' -fuzztime 10s ./e2e/faults
package faults
