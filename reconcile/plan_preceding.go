package reconcile

import (
	"context"
	"fmt"
	"os"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/helmrelease"
)

// A plan runs every unit as a dry run against the cluster as it is, so a
// unit whose objects are of a kind that an earlier unit's CRD defines (a
// chart's crds/ installed by a dependency), or live in a namespace an
// earlier unit creates, cannot be dry-run applied by the API server. Run
// applies the earlier unit first; the plan remembers the CRDs and
// Namespaces each unit would create and lets the later units' dry runs
// take them as created (apply.ApplyOptions.Preceding).

var (
	crdKind       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	namespaceKind = schema.GroupKind{Kind: "Namespace"}
)

// planCreates records the CRDs and Namespaces among a unit's objects.
func (rd *round) planCreates(unit string, objs []*unstructured.Unstructured) {
	var keep []*unstructured.Unstructured
	for _, o := range objs {
		if gk := o.GroupVersionKind().GroupKind(); gk == crdKind || gk == namespaceKind {
			keep = append(keep, o)
		}
	}
	rd.plannedMu.Lock()
	defer rd.plannedMu.Unlock()
	if rd.planned == nil {
		rd.planned = map[string][]*unstructured.Unstructured{}
	}
	rd.planned[unit] = keep
}

// preceding returns what the units that Run completes before unit would
// have created: its ancestors' and, for each of its dependencies (and its
// ancestors' dependencies, transitively), the dependency's and those of
// the units the scheduler waits for with it (waitedUnits: what it declares
// when it waits, or the units it health-checks).
func (rd *round) preceding(unit string) []*unstructured.Unstructured {
	r := rd.r
	asAncestor, asDependency := map[string]bool{}, map[string]bool{}
	var visit func(name string, withDescendants bool)
	visit = func(name string, withDescendants bool) {
		seen := asAncestor
		if withDescendants {
			seen = asDependency
		}
		if seen[name] {
			return
		}
		seen[name] = true
		st := r.unit(name)
		if st == nil {
			return
		}
		for _, e := range st.edges() {
			visit(e, e != st.parent)
		}
		if withDescendants {
			for _, c := range r.waitedUnits(name, unit) {
				visit(c, true)
			}
		}
	}
	visit(unit, false)
	names := make([]string, 0, len(asAncestor)+len(asDependency))
	for n := range asAncestor {
		names = append(names, n)
	}
	for n := range asDependency {
		if !asAncestor[n] {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	rd.plannedMu.Lock()
	defer rd.plannedMu.Unlock()
	var out []*unstructured.Unstructured
	for _, n := range names {
		if n != unit {
			out = append(out, rd.planned[n]...)
		}
	}
	return out
}

// planHelmCreates renders a Helm unit's chart with no cluster, as Render
// does, to learn the CRDs (crds/ and templates) and Namespaces the
// release would create, the release namespace included when the release
// creates it. A chart that does not render leaves nothing to record; the
// error says why.
func (rd *round) planHelmCreates(ctx context.Context, unit string, rel helmrelease.Release) error {
	r := rd.r
	r.mu.Lock()
	if r.planCharts == "" {
		dir, err := os.MkdirTemp("", "gitopskit-plan-charts-")
		if err != nil {
			r.mu.Unlock()
			return fmt.Errorf("reconcile: %w", err)
		}
		r.planCharts = dir
		r.cleanup = append(r.cleanup, dir)
	}
	dir := r.planCharts
	r.mu.Unlock()
	objs, _, err := helmrelease.Template(ctx, rel, helmrelease.TemplateOptions{CacheDir: dir, Logger: r.opts.Logger})
	if err != nil {
		return err
	}
	if rel.CreateNamespace {
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName(rel.Namespace)
		objs = append(objs, ns)
	}
	rd.planCreates(unit, objs)
	return nil
}
