package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gitopskit/gitopskit/depgraph"
)

// dependencyKey resolves a DependsOn entry of rel to a release key.
func dependencyKey(rel *Release, dep string) string {
	if strings.Contains(dep, "/") {
		return dep
	}
	return rel.Namespace + "/" + dep
}

// Order groups releases into levels by their DependsOn: each level's
// releases depend only on releases of earlier levels and can be reconciled
// in parallel. Releases are named by [Release.Key]. It fails with a
// [*SpecError] for duplicate keys, and with depgraph's typed errors for
// missing dependencies ([depgraph.ErrMissingDependency]) and cycles
// ([depgraph.ErrCycle]).
func Order(rels []Release) ([][]string, error) {
	g := depgraph.New[string]()
	for i := range rels {
		rel := &rels[i]
		key := rel.Key()
		if g.Has(key) {
			return nil, &SpecError{Release: key, Problems: []string{"duplicate release"}}
		}
		deps := make([]string, len(rel.DependsOn))
		for j, d := range rel.DependsOn {
			deps[j] = dependencyKey(rel, d)
		}
		g.Add(key, deps...)
	}
	levels, err := g.Levels()
	if err != nil {
		return nil, fmt.Errorf("helmrelease: order releases: %w", err)
	}
	return levels, nil
}

// ReconcileAll reconciles releases in dependency order ([Order]): level by
// level, the releases of a level in parallel. A release whose dependency is
// not Ready is skipped with [ReasonDependencyNotReady] (and so are the
// releases depending on it). Statuses are returned in the order of rels;
// the error joins every release's error. An ordering error (cycle, missing
// dependency, duplicate) is returned before anything is done, with nil
// statuses.
func (r *Reconciler) ReconcileAll(ctx context.Context, rels []Release) ([]Status, error) {
	levels, err := Order(rels)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(rels))
	for i := range rels {
		index[rels[i].Key()] = i
	}
	statuses := make([]Status, len(rels))
	errs := make([]error, len(rels))
	for _, level := range levels {
		var wg sync.WaitGroup
		for _, key := range level {
			i := index[key]
			rel := rels[i]
			if dep := notReadyDependency(&rel, index, statuses); dep != "" {
				err := &DependencyNotReadyError{Release: key, Dependency: dep}
				statuses[i], errs[i] = Status{Name: rel.Name, Namespace: rel.Namespace}.fail(ReasonDependencyNotReady, err)
				r.emit(&rel, Event{Type: EventSkipped, Message: err.Error(), Err: err})
				continue
			}
			wg.Go(func() {
				statuses[i], errs[i] = r.Reconcile(ctx, rel)
			})
		}
		wg.Wait()
	}
	return statuses, errors.Join(errs...)
}

func notReadyDependency(rel *Release, index map[string]int, statuses []Status) string {
	for _, d := range rel.DependsOn {
		key := dependencyKey(rel, d)
		if !statuses[index[key]].Ready {
			return key
		}
	}
	return ""
}
