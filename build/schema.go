package build

import (
	"context"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// Kustomize's one piece of mutable process-wide state is kyaml's OpenAPI
// schema (package sigs.k8s.io/kustomize/kyaml/openapi). Everything else a
// build touches is per build (krusty.Kustomizer, its DepProvider, the
// filesystem) or initialised once behind a sync.Once (the default
// transformer config). The schema is a hazard in three ways:
//
//  1. krusty.Kustomizer.Run calls openapi.SetSchema with the root
//     kustomization's openapi field, and every sub-kustomization calls it
//     again. A kustomization with an openapi field (a builtin version, or a
//     custom schema file) replaces the schema of every build in the process,
//     and marks it for re-parsing.
//  2. Re-parsing writes the schema maps under kyaml's lock, but
//     openapi.IsNamespaceScoped and SchemaForResourceType read those maps
//     without it, so a re-parse (or the very first, lazy parse) racing with
//     another build's namespace or strategic-merge lookup is a data race:
//     `go test -race` reports it and concurrent map access can crash.
//  3. The schema set by a kustomization outlives its build: a later build
//     without an openapi field still sees it (SetSchema with an empty field
//     leaves a custom schema in place), so output depends on build order.
//
// Flux serialises every build behind one mutex. Here builds share the
// schema, which is safe once the default schema is fully parsed ("warm"):
// from then on it is only read. A build that meets an openapi field is
// aborted by its filesystem before kustomize sees the field and run again
// alone, with the schema reset before and after it, so it neither disturbs
// nor leaks into other builds.
//
// The guard is not a sync.RWMutex, because no build may slow down another
// by overrunning its deadline. Kustomize takes no context: a build that
// returns at its deadline leaves kustomize running in the background (until
// its filesystem, which fails once the context has ended, stops it, or its
// CPU work on the input it had read ends), still using the schema. With an
// RWMutex, such a build plus one waiting openapi build blocked every later
// build of the process. Here:
//
//   - a shared build waits only while an exclusive build runs, and gives up
//     when its context ends; an exclusive build waiting for its turn does
//     not hold back shared builds;
//   - an exclusive build waits for the shared builds to finish, giving up
//     when its context ends (under a steady stream of shared builds it may
//     not get its turn: openapi builds are the exception, and pay for it);
//   - an exclusive build may not fetch remote bases, even when allowed, so
//     it never holds the schema while waiting on the network;
//   - a build that gives up waiting never runs kustomize.
//
// The guard is the package's only package-level variable: it guards a
// process-wide variable of a dependency, which no per-instance lock could.
var schemaLock schemaGuard

type schemaGuard struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever the state changes
	readers int           // shared builds running
	writer  bool          // an exclusive build (or the warm-up) running
	warm    bool
}

// notify wakes the waiters. g.mu must be held.
func (g *schemaGuard) notify() {
	if g.changed != nil {
		close(g.changed)
	}
	g.changed = make(chan struct{})
}

// waitChange returns a channel closed at the next change of state. g.mu
// must be held.
func (g *schemaGuard) waitChange() <-chan struct{} {
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// shared runs fn while no exclusive build runs and the default schema is
// fully parsed. It returns ctx's error, without running fn, if ctx ends
// first.
func (g *schemaGuard) shared(ctx context.Context, fn func() error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.mu.Lock()
		switch {
		case !g.writer && g.warm:
			g.readers++
			g.mu.Unlock()
			defer g.release(false)
			return fn()
		case !g.writer && g.readers == 0:
			// The first build of the process parses the default schema
			// alone, instead of lazily in the middle of concurrent builds.
			g.writer = true
			g.mu.Unlock()
			warmSchema()
			g.mu.Lock()
			g.warm = true
			g.writer = false
			g.notify()
			g.mu.Unlock()
			continue
		}
		ch := g.waitChange()
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// exclusive runs fn alone, starting from and returning to the default
// schema. It returns ctx's error, without running fn, if ctx ends before
// the shared builds running have finished.
func (g *schemaGuard) exclusive(ctx context.Context, fn func() error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.mu.Lock()
		if !g.writer && g.readers == 0 {
			g.writer = true
			g.mu.Unlock()
			defer g.release(true)
			openapi.ResetOpenAPI()
			defer func() {
				openapi.ResetOpenAPI()
				warmSchema()
			}()
			return fn()
		}
		ch := g.waitChange()
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *schemaGuard) release(exclusive bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if exclusive {
		g.writer = false
		g.warm = true
	} else {
		g.readers--
	}
	g.notify()
}

// warmSchema makes kyaml parse its default schema now, while no build
// reads it, instead of lazily in the middle of concurrent builds.
func warmSchema() {
	_ = openapi.Schema()
}
