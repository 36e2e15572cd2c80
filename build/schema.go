package build

import (
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
// Flux serialises every build behind one mutex. Here builds share a
// read lock, which is enough once the default schema is fully parsed
// ("warm"): from then on the schema is only read. A build that meets an
// openapi field is aborted by its filesystem before kustomize sees the field
// and run again holding the write lock, with the schema reset before and
// after it, so it neither disturbs nor leaks into other builds.
//
// The lock is the package's only package-level variable: it guards a
// process-wide variable of a dependency, which no per-instance lock could.
var schemaLock schemaGuard

type schemaGuard struct {
	mu   sync.RWMutex
	warm bool
}

// shared runs fn while no exclusive build runs and the default schema is
// fully parsed.
func (g *schemaGuard) shared(fn func() error) error {
	g.mu.RLock()
	if !g.warm {
		g.mu.RUnlock()
		g.mu.Lock()
		if !g.warm {
			warmSchema()
			g.warm = true
		}
		g.mu.Unlock()
		g.mu.RLock()
	}
	defer g.mu.RUnlock()
	return fn()
}

// exclusive runs fn alone, starting from and returning to the default
// schema.
func (g *schemaGuard) exclusive(fn func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	openapi.ResetOpenAPI()
	defer func() {
		openapi.ResetOpenAPI()
		warmSchema()
		g.warm = true
	}()
	return fn()
}

// warmSchema makes kyaml parse its default schema now, under our write lock,
// instead of lazily in the middle of concurrent builds.
func warmSchema() {
	_ = openapi.Schema()
}
