package reconcile

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/gitopskit/gitopskit/apply"
)

// Plan is what a reconcile would do, unit by unit, in dependency order.
type Plan struct {
	Units []UnitPlan
}

// UnitPlan is what reconciling one unit would do.
type UnitPlan struct {
	Name string
	// DeclaredBy is the unit whose build declares this one, if any.
	DeclaredBy string
	Revision   string
	// Apply is the dry-run change set: created, configured (with the drift
	// that would be corrected) and unchanged objects. Nil for Helm units.
	Apply *apply.ChangeSet
	// Prune lists the objects that would be deleted; nil when the unit does
	// not prune.
	Prune *apply.ChangeSet
	// RemoveUnits are the units its build no longer declares, which Run
	// would remove with their objects (or orphan, when it does not prune).
	RemoveUnits []string
	// Helm says what would happen to a Helm unit's release.
	Helm string
	// Err says why the unit could not be planned or would fail: fetch,
	// build, policy, a prune guard (exactly as Run would refuse), or a dry
	// run the API server refused (for example an object of a kind whose
	// CRD no unit Run completes first would create).
	Err error
}

// Plan computes what [Reconciler.Run] would do for every unit, through the
// same pipeline as Run (same build, admission, ownership and prune guards)
// with server-side dry runs, without changing the cluster. Dependencies are
// not gated: every unit is planned against the cluster as it is now, in
// the order Run would take. Objects in a namespace, or of a kind whose
// CRD, the unit itself creates are reported as "would be created", and so
// are those whose namespace or CRD a unit Run completes before it would
// create: its ancestors, its dependencies and, for a dependency that
// waits, the units that dependency declares (a HelmRelease's chart
// installing the CRDs of a later Kustomization's objects: Helm units are
// rendered for this, with no cluster, as Render does).
func (r *Reconciler) Plan(ctx context.Context) (Plan, error) {
	rd := r.newRound(ctx, true)
	defer rd.close()
	if _, err := r.loadRecord(ctx); err != nil {
		return Plan{}, err
	}
	plans := map[string]UnitPlan{}
	var mu sync.Mutex
	rd.schedule(ctx, r.unitOrder(), func(ctx context.Context, st *unitState) {
		st.run.Lock()
		defer st.run.Unlock()
		out := rd.pipeline(ctx, st, nil)
		name := st.specOf().Name
		mu.Lock()
		plans[name] = UnitPlan{Name: name, DeclaredBy: st.parent, Revision: out.revision,
			Apply: out.apply, Prune: out.prune, RemoveUnits: out.gone, Helm: out.helm, Err: out.err}
		mu.Unlock()
	})
	var p Plan
	for _, name := range r.unitOrder() {
		if up, ok := plans[name]; ok {
			p.Units = append(p.Units, up)
		}
	}
	return p, ctx.Err()
}

// WriteText writes the plan for humans: per unit the objects that would be
// created, changed (with their drift) or deleted.
func (p Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, u := range p.Units {
		fmt.Fprintf(&b, "%s @ %s\n", u.Name, u.Revision)
		if u.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", u.Err)
			continue
		}
		if u.Helm != "" {
			fmt.Fprintf(&b, "  %s\n", u.Helm)
			continue
		}
		changes := 0
		for _, name := range u.RemoveUnits {
			changes++
			fmt.Fprintf(&b, "  remove unit %s\n", name)
		}
		for _, c := range u.Apply.Changes {
			switch c.Action {
			case apply.Created, apply.Configured:
				changes++
				fmt.Fprintf(&b, "  %s %s\n", planVerb(c.Action), c.Object)
				for _, d := range c.Drift {
					fmt.Fprintf(&b, "      %s\n", d)
				}
			}
		}
		if u.Prune != nil {
			for _, c := range u.Prune.Changes {
				if c.Action == apply.Deleted {
					changes++
					fmt.Fprintf(&b, "  delete %s\n", c.Object)
				}
			}
		}
		if changes == 0 {
			b.WriteString("  no changes\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func planVerb(a apply.Action) string {
	if a == apply.Created {
		return "create"
	}
	return "update"
}
